// Checking dashboards' hash chains (SPEC §5): the one walk behind the API's
// GET .../audit/verify and the CLI's `keyledger audit verify`, with or without a signed
// checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "eventstore/envelope.hpp"
#include "eventstore/event_log.hpp"
#include "projections/audit_index.hpp"

namespace keyledger::usecases {

// One dashboard's chain, followed link by link in sequence order.
class ChainCheck {
 public:
  // Checks the next stored event: canonical bytes, the hash of its content, and the link to
  // the previous one. On success the event is the new head; otherwise why it does not link.
  std::optional<std::string> next(std::string_view stored_bytes);
  const std::string& head() const { return head_; }
  std::uint64_t events() const { return events_; }

 private:
  std::string head_ = eventstore::kGenesisHash;
  std::uint64_t events_ = 0;
};

struct ChainBreak {
  std::optional<eventstore::LogPosition> position;  // of the event at fault; none for a checkpoint's own faults
  std::string dashboard_id;  // "?" when the event does not even decode
  std::uint64_t sequence = 0;  // of the broken event in its dashboard, when known
  std::string reason;
};

// One dashboard's chain, read through its audit entries.
struct DashboardChain {
  ChainCheck chain;
  std::optional<ChainBreak> broken;
};
DashboardChain verify_dashboard_chain(eventstore::EventLog& log, const std::string& dashboard_id,
                                      std::span<const projections::AuditEntry> entries);

// Every dashboard's chain in partition 0 of a log, from position 0 to its end (the embedded
// log's one partition). `progress(done, total)` is called now and then.
struct LogChains {
  std::map<std::string, ChainCheck> dashboards;
  std::uint64_t events = 0;
  std::optional<ChainBreak> broken;
};
LogChains verify_log_chains(eventstore::EventLog& log,
                            const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

// A checkpoint as GET .../audit/checkpoints/latest answers it: v2 names its Merkle tree's
// size and root; v1 has no root (`root_hash` empty).
struct Checkpoint {
  std::string dashboard_id;
  std::uint64_t sequence = 0;
  std::string head_hash;
  std::uint64_t tree_size = 0;
  std::string root_hash, signed_at, public_key_hex, signature_hex;
};
// Checks the checkpoint's Ed25519 signature (made with `expected_public_key_hex` when that is
// not empty) and that the dashboard's history in the log still leads to the signed head at
// the signed sequence — and, for v2, to the signed Merkle root. nullopt when it holds;
// otherwise why not.
std::optional<ChainBreak> check_checkpoint(eventstore::EventLog& log, const Checkpoint& checkpoint,
                                           const std::string& expected_public_key_hex);

}  // namespace keyledger::usecases
