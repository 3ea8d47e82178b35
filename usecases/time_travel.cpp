#include "time_travel.hpp"

#include <span>
#include <thread>

#include "eventstore/envelope.hpp"
#include "eventstore/thread_name.hpp"

namespace keyledger::usecases {

namespace es = keyledger::eventstore;
namespace pj = keyledger::projections;

namespace {

// Folds of at least this many events decode their first half on a second thread.
constexpr std::size_t kDecodeInParallelFrom = 1024;

// The events at `positions`, read back and decoded (straight from the log's buffer: no copy
// of the record), checked to be the dashboard's events `first_sequence`, `first_sequence`+1, …
struct Decoded {
  std::vector<es::Envelope> envelopes;  // in order; stops before the first that failed
  std::string why;                      // empty when every one decoded
};

Decoded decode(es::EventLog& log, const std::string& dashboard_id, std::span<const es::LogPosition> positions,
               std::uint64_t first_sequence) {
  Decoded out;
  out.envelopes.reserve(positions.size());
  for (const auto& position : positions) {
    const std::uint64_t sequence = first_sequence + out.envelopes.size();
    std::string why;
    auto ec = log.read(position.partition, position.offset, position.offset + 1, [&](const es::StoredRecord& record) {
      auto envelope = es::decode_envelope(record.bytes, es::DecodeScope::fold);
      if (!envelope) why = envelope.error();
      else if (envelope->dashboard_id != dashboard_id || envelope->sequence != sequence) why = "another event is there";
      else out.envelopes.push_back(std::move(*envelope));
      return false;
    });
    if (ec || out.envelopes.size() != sequence - first_sequence + 1) {
      out.why = "event " + std::to_string(sequence) + " of the dashboard cannot be read back: " +
                (ec ? ec.message() : why.empty() ? "it is not in the log" : why);
      break;
    }
  }
  return out;
}

}  // namespace

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
  // Reading and decoding is most of the work and needs no order: a long history is decoded
  // in two halves at once; folding, in order, follows.
  const std::size_t half = positions.size() >= kDecodeInParallelFrom ? positions.size() / 2 : 0;
  const std::span<const es::LogPosition> all(positions);
  Decoded first;
  std::thread helper;
  if (half > 0) {
    helper = std::thread([&] {
      name_this_thread("kl-decode");
      first = decode(log, dashboard_id, all.first(half), 1);
    });
  }
  Decoded second = decode(log, dashboard_id, all.subspan(half), half + 1);
  if (helper.joinable()) helper.join();
  PastState past;
  for (const Decoded* part : {&first, &second}) {
    for (const auto& envelope : part->envelopes) domain::evolve(past.state, envelope.recorded);
    past.sequence += part->envelopes.size();
    if (!part->why.empty()) return std::unexpected(part->why);
  }
  return past;
}

}  // namespace keyledger::usecases
