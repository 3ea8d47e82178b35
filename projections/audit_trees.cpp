#include "audit_trees.hpp"

#include "crypto/crypto.hpp"
#include "eventstore/envelope.hpp"

namespace keyledger::projections {

namespace es = keyledger::eventstore;
namespace merkle = keyledger::crypto::merkle;

namespace {

// The leaf of an event whose hash (hex) is known good.
merkle::Hash leaf_of(std::string_view hash) { return merkle::leaf_hash(crypto::from_hex(hash).value_or("")); }

// Trees of dashboards longer than this are first built without holding the dashboard's
// entry, so that the pipeline's listener (follow) never waits for a long read.
constexpr std::uint64_t kBuildAside = 256;

}  // namespace

void AuditTrees::follow(const std::string& dashboard_id, std::uint64_t sequence, std::string_view hash) {
  Entry* entry;
  {
    std::lock_guard lock(mutex_);
    auto it = trees_.find(dashboard_id);
    if (it == trees_.end()) return;
    entry = it->second.get();
  }
  std::lock_guard lock(entry->mutex);
  // Only the next leaf: a tree still being built aside is caught up from the log instead.
  if (entry->tree.size() + 1 != sequence) return;
  entry->tree.append(leaf_of(hash));
  entry->head = hash;
}

std::optional<std::string> AuditTrees::grow(Entry& entry, const std::string& dashboard_id, std::uint64_t size,
                                            es::EventLog& log, const AuditIndex& index) {
  for (std::uint64_t sequence = entry.tree.size() + 1; sequence <= size; ++sequence) {
    auto at = index.at(dashboard_id, sequence);
    if (!at) return "event " + std::to_string(sequence) + " of the dashboard is not in the audit index";
    const std::string bytes = log.read_one({at->partition, at->offset});
    auto hash = es::check_link(bytes, entry.head.empty() ? es::kGenesisHash : entry.head);
    if (!hash) return "the hash chain breaks at sequence " + std::to_string(sequence) + ": " + hash.error();
    entry.tree.append(leaf_of(*hash));
    entry.head = std::move(*hash);
  }
  return std::nullopt;
}

std::optional<std::string> AuditTrees::with_tree(const std::string& dashboard_id, std::uint64_t size,
                                                 es::EventLog& log, const AuditIndex& index,
                                                 const std::function<void(const merkle::Tree&)>& use) const {
  Entry* entry;
  {
    std::lock_guard lock(mutex_);
    auto& slot = trees_[dashboard_id];
    if (!slot) slot = std::make_unique<Entry>();
    entry = slot.get();
  }
  std::unique_lock lock(entry->mutex);
  if (entry->tree.size() < size && size - entry->tree.size() > kBuildAside) {
    Entry aside;
    aside.tree = entry->tree;
    aside.head = entry->head;
    lock.unlock();
    if (auto why = grow(aside, dashboard_id, size, log, index)) return why;
    lock.lock();
    // Unless another request got further meanwhile, the tree built aside replaces it; what
    // was folded meanwhile (follow() skipped it) is read below.
    if (entry->tree.size() < aside.tree.size()) {
      entry->tree = std::move(aside.tree);
      entry->head = std::move(aside.head);
    }
  }
  if (auto why = grow(*entry, dashboard_id, size, log, index)) return why;
  use(entry->tree);
  return std::nullopt;
}

}  // namespace keyledger::projections
