// Each dashboard's Merkle tree over its audit trail (SPEC §11, RFC 9162): leaf i is the
// event of sequence i + 1, its leaf hash SHA-256(0x00 ‖ the event's 32-byte hash), so anyone
// holding the audit export can rebuild the tree.
//
// A tree costs 64 bytes an event, so one is made only for a dashboard whose proofs are asked
// for: the first request reads the dashboard's events once (checking each link of its hash
// chain on the way), outside any lock the pipeline waits on; from then on the tree follows
// every folded event and a proof costs O(log n). Trees are not in snapshots: after a restart
// the first proof of a dashboard reads its events again.
//
// Threading: follow() from the pipeline's listener (per dashboard in sequence order);
// with_tree() from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "audit_index.hpp"
#include "crypto/merkle.hpp"
#include "eventstore/event_log.hpp"

namespace keyledger::projections {

class AuditTrees {
 public:
  // A folded event (`hash` in hex): appended to the dashboard's tree, if it has one.
  void follow(const std::string& dashboard_id, std::uint64_t sequence, std::string_view hash);

  // Calls `use` with the dashboard's tree holding at least `size` leaves, reading from `log`
  // the events the tree lacks at the places `index` gives. Returns why not, when an event is
  // missing or does not link to the one before it.
  // (Const: trees are a cache of what the log and the index hold.)
  std::optional<std::string> with_tree(const std::string& dashboard_id, std::uint64_t size, eventstore::EventLog& log,
                                       const AuditIndex& index,
                                       const std::function<void(const crypto::merkle::Tree&)>& use) const;

 private:
  struct Entry {
    std::mutex mutex;
    crypto::merkle::Tree tree;
    std::string head;  // hash of the tree's last event, hex
  };
  // Appends the events of sequences tree.size() + 1 … `size` read from the log.
  static std::optional<std::string> grow(Entry& entry, const std::string& dashboard_id, std::uint64_t size,
                                         eventstore::EventLog& log, const AuditIndex& index);
  mutable std::mutex mutex_;  // guards the map; an Entry never moves or goes away
  mutable std::map<std::string, std::unique_ptr<Entry>> trees_;
};

}  // namespace keyledger::projections
