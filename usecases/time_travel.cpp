#include "time_travel.hpp"

#include "eventstore/envelope.hpp"

namespace keyledger::usecases {

namespace es = keyledger::eventstore;
namespace pj = keyledger::projections;

std::expected<std::optional<PastState>, std::string> dashboard_as_of(es::EventLog& log, const pj::AuditIndex& index,
                                                                     const std::string& dashboard_id,
                                                                     domain::Timestamp as_of) {
  // The newest event at or before the instant (`until` is exclusive).
  pj::AuditFilter filter;
  filter.until = as_of + std::chrono::milliseconds(1);
  const auto last = index.query(dashboard_id, filter, std::nullopt, 1, true);
  if (last.entries.empty()) return std::nullopt;
  const std::uint64_t cut = last.entries.front().sequence;
  const auto positions = index.positions(dashboard_id, 1, cut);
  if (positions.size() != cut) return std::unexpected("the audit index lacks some of the dashboard's events");
  PastState past;
  std::string why;
  for (const auto& position : positions) {
    const std::uint64_t sequence = past.sequence + 1;
    bool read = false;
    // Decoded straight from the log's buffer: no copy of the record.
    auto ec = log.read(position.partition, position.offset, position.offset + 1, [&](const es::StoredRecord& record) {
      auto envelope = es::decode_envelope(record.bytes, es::DecodeScope::fold);
      if (!envelope) why = envelope.error();
      else if (envelope->dashboard_id != dashboard_id || envelope->sequence != sequence) why = "another event is there";
      else domain::evolve(past.state, envelope->recorded), read = true;
      return false;
    });
    if (ec || !read) {
      return std::unexpected("event " + std::to_string(sequence) + " of the dashboard cannot be read back: " +
                             (ec ? ec.message() : why.empty() ? "it is not in the log" : why));
    }
    past.sequence = sequence;
  }
  return past;
}

}  // namespace keyledger::usecases
