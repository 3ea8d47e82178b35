// Each dashboard's Merkle tree over its audit trail (SPEC §11, RFC 9162): leaf i is the
// event of sequence i + 1, its leaf hash SHA-256(0x00 ‖ the event's 32-byte hash), so anyone
// holding the audit export can rebuild the tree.
//
// A tree costs 64 bytes an event, so one is made only for a dashboard whose proofs are asked
// for; a signed checkpoint needs only the current root, which the tree's frontier gives in
// at most 64 hashes. Either is made on first use by reading the dashboard's events once
// (checking each link of its hash chain on the way), outside any lock the pipeline waits on;
// from then on it follows every folded event and a proof or root costs O(log n). Neither is
// in snapshots: after a restart the first use reads the dashboard's events again.
//
// Threading: follow() from the pipeline's listener (per dashboard in sequence order);
// with_tree() from any thread.
#pragma once

#include <cstdint>
#include <expected>
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
  // The leaf of an event whose hash (hex) is known good: SHA-256(0x00 ‖ its 32 bytes).
  static crypto::merkle::Hash leaf_of(std::string_view event_hash);

  // A folded event (`hash` in hex): appended to the dashboard's tree, if it has one.
  void follow(const std::string& dashboard_id, std::uint64_t sequence, std::string_view hash);

  // Calls `use` with the dashboard's tree holding at least `size` leaves, reading from `log`
  // the events the tree lacks at the places `index` gives. Returns why not, when an event is
  // missing or does not link to the one before it.
  // (Const: trees are a cache of what the log and the index hold.)
  std::optional<std::string> with_tree(const std::string& dashboard_id, std::uint64_t size, eventstore::EventLog& log,
                                       const AuditIndex& index,
                                       const std::function<void(const crypto::merkle::Tree&)>& use) const;

  // The dashboard's history as a checkpoint signs it: its first `size` events (at least
  // `at_least`, more when more were folded meanwhile), the hash of the last and the tree's root.
  struct Head {
    std::uint64_t size = 0;
    std::string hash;  // hex
    crypto::merkle::Hash root{};
  };
  std::expected<Head, std::string> head(const std::string& dashboard_id, std::uint64_t at_least,
                                        eventstore::EventLog& log, const AuditIndex& index) const;

 private:
  // A tree or a frontier, and the hash of its last event (hex), which the next must link to.
  template <class Hashes>
  struct Grown {
    Hashes hashes;
    std::string head;
  };
  struct Entry {
    std::mutex mutex;
    std::optional<Grown<crypto::merkle::Tree>> tree;          // once a proof was asked for
    std::optional<Grown<crypto::merkle::Frontier>> frontier;  // once a checkpoint was signed
  };
  // Runs `use` on the entry's `member`, made if need be and grown to at least `size` leaves.
  template <class Hashes>
  std::optional<std::string> with(std::optional<Grown<Hashes>> Entry::*member, const std::string& dashboard_id,
                                  std::uint64_t size, eventstore::EventLog& log, const AuditIndex& index,
                                  const std::function<void(const Grown<Hashes>&)>& use) const;
  // Appends the events of sequences hashes.size() + 1 … `size` read from the log.
  template <class Hashes>
  static std::optional<std::string> grow(Grown<Hashes>& grown, const std::string& dashboard_id, std::uint64_t size,
                                         eventstore::EventLog& log, const AuditIndex& index);
  mutable std::mutex mutex_;  // guards the map; an Entry never moves or goes away
  mutable std::map<std::string, std::unique_ptr<Entry>> trees_;
};

}  // namespace keyledger::projections
