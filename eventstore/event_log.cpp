#include "event_log.hpp"

#include <future>

#include "store_error.hpp"

namespace keyledger::eventstore {

AppendResult EventLog::append(std::span<const AppendRecord> batch) {
  std::promise<AppendResult> answer;
  auto result = answer.get_future();
  append(std::vector<AppendRecord>(batch.begin(), batch.end()),
         [&answer](AppendResult r) { answer.set_value(std::move(r)); });
  return result.get();
}

void EventLog::record_reservation(NumberReservation reservation, AppendDone done) {
  (void)reservation;
  done(std::unexpected(make_error_code(StoreErrc::not_owner)));
}

std::string EventLog::read_one(LogPosition position) {
  std::string bytes;
  read(position.partition, position.offset, position.offset + 1, [&](const StoredRecord& r) {
    bytes.assign(r.bytes);
    return false;
  });
  return bytes;
}

std::vector<std::uint64_t> EventLog::ends() const {
  std::vector<std::uint64_t> out(partitions());
  for (std::uint32_t p = 0; p < out.size(); ++p) out[p] = end(p);
  return out;
}

}  // namespace keyledger::eventstore
