#include "audit_trees.hpp"

#include "crypto/crypto.hpp"
#include "eventstore/envelope.hpp"

namespace keyledger::projections {

namespace es = keyledger::eventstore;
namespace merkle = keyledger::crypto::merkle;

namespace {

// Trees of dashboards longer than this are first built without holding the dashboard's
// entry, so that the pipeline's listener (follow) never waits for a long read.
constexpr std::uint64_t kBuildAside = 256;

}  // namespace

merkle::Hash AuditTrees::leaf_of(std::string_view event_hash) {
  return merkle::leaf_hash(crypto::from_hex(event_hash).value_or(""));
}

void AuditTrees::follow(const std::string& dashboard_id, std::uint64_t sequence, std::string_view hash) {
  Entry* entry;
  {
    std::lock_guard lock(mutex_);
    auto it = trees_.find(dashboard_id);
    if (it == trees_.end()) return;
    entry = it->second.get();
  }
  std::lock_guard lock(entry->mutex);
  // Only the next leaf: one still being built aside is caught up from the log instead.
  auto append = [&](auto& grown) {
    if (!grown || grown->hashes.size() + 1 != sequence) return;
    grown->hashes.append(leaf_of(hash));
    grown->head = hash;
  };
  append(entry->tree);
  append(entry->frontier);
}

template <class Hashes>
std::optional<std::string> AuditTrees::grow(Grown<Hashes>& grown, const std::string& dashboard_id, std::uint64_t size,
                                            es::EventLog& log, const AuditIndex& index) {
  for (std::uint64_t sequence = grown.hashes.size() + 1; sequence <= size; ++sequence) {
    auto at = index.at(dashboard_id, sequence);
    if (!at) return "event " + std::to_string(sequence) + " of the dashboard is not in the audit index";
    const std::string bytes = log.read_one({at->partition, at->offset});
    auto hash = es::check_link(bytes, grown.head.empty() ? es::kGenesisHash : grown.head);
    if (!hash) return "the hash chain breaks at sequence " + std::to_string(sequence) + ": " + hash.error();
    grown.hashes.append(leaf_of(*hash));
    grown.head = std::move(*hash);
  }
  return std::nullopt;
}

template <class Hashes>
std::optional<std::string> AuditTrees::with(std::optional<Grown<Hashes>> Entry::*member, const std::string& dashboard_id,
                                            std::uint64_t size, es::EventLog& log, const AuditIndex& index,
                                            const std::function<void(const Grown<Hashes>&)>& use) const {
  Entry* entry;
  {
    std::lock_guard lock(mutex_);
    auto& slot = trees_[dashboard_id];
    if (!slot) slot = std::make_unique<Entry>();
    entry = slot.get();
  }
  std::unique_lock lock(entry->mutex);
  auto& grown = entry->*member;
  if (!grown) grown.emplace();
  if (grown->hashes.size() < size && size - grown->hashes.size() > kBuildAside) {
    Grown<Hashes> aside = *grown;
    lock.unlock();
    if (auto why = grow(aside, dashboard_id, size, log, index)) return why;
    lock.lock();
    // Unless another request got further meanwhile, what was built aside replaces it; what
    // was folded meanwhile (follow() skipped it) is read below.
    if (grown->hashes.size() < aside.hashes.size()) *grown = std::move(aside);
  }
  if (auto why = grow(*grown, dashboard_id, size, log, index)) return why;
  use(*grown);
  return std::nullopt;
}

std::optional<std::string> AuditTrees::with_tree(const std::string& dashboard_id, std::uint64_t size,
                                                 es::EventLog& log, const AuditIndex& index,
                                                 const std::function<void(const merkle::Tree&)>& use) const {
  return with<merkle::Tree>(&Entry::tree, dashboard_id, size, log, index,
                            [&](const Grown<merkle::Tree>& grown) { use(grown.hashes); });
}

std::expected<AuditTrees::Head, std::string> AuditTrees::head(const std::string& dashboard_id, std::uint64_t at_least,
                                                              es::EventLog& log, const AuditIndex& index) const {
  Head out;
  auto why = with<merkle::Frontier>(&Entry::frontier, dashboard_id, at_least, log, index,
                                    [&](const Grown<merkle::Frontier>& grown) {
                                      out = Head{grown.hashes.size(), grown.head, grown.hashes.root()};
                                    });
  if (why) return std::unexpected(std::move(*why));
  return out;
}

}  // namespace keyledger::projections
