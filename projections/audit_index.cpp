#include "audit_index.hpp"

#include <algorithm>
#include <mutex>

namespace keyledger::projections {

namespace {
bool matches(const AuditEntry& e, const AuditFilter& f) {
  if (f.since && e.occurred_at < *f.since) return false;
  if (f.until && e.occurred_at >= *f.until) return false;
  if (f.actor && e.actor_id != *f.actor) return false;
  if (f.type && e.type != *f.type) return false;
  if (f.channel && e.channel != f.channel) return false;
  return true;
}
}  // namespace

void AuditIndex::record(const std::string& dashboard_id, AuditEntry entry) {
  std::unique_lock lock(mutex_);
  auto& list = entries_[dashboard_id];
  // A replay after a snapshot may offer events already recorded; sequences only grow.
  if (!list.empty() && list.back().sequence >= entry.sequence) return;
  list.push_back(std::move(entry));
}

AuditPage AuditIndex::query(const std::string& dashboard_id, const AuditFilter& filter,
                            std::optional<std::uint64_t> cursor, std::size_t limit, bool descending) const {
  AuditPage page;
  std::shared_lock lock(mutex_);
  auto it = entries_.find(dashboard_id);
  if (it == entries_.end()) return page;
  const auto& list = it->second;
  if (list.empty()) return page;
  // Sequences are dense from the first recorded one, so a sequence maps to an index.
  const std::uint64_t first = list.front().sequence;
  auto index_of = [&](std::uint64_t seq) -> std::int64_t { return static_cast<std::int64_t>(seq) - static_cast<std::int64_t>(first); };
  std::int64_t n = static_cast<std::int64_t>(list.size());
  std::int64_t i = cursor ? index_of(*cursor) : (descending ? n - 1 : 0);
  if (i < 0) i = descending ? -1 : 0;
  if (i >= n) i = descending ? n - 1 : n;
  std::int64_t step = descending ? -1 : 1;
  for (; i >= 0 && i < n; i += step) {
    if (!matches(list[static_cast<std::size_t>(i)], filter)) continue;
    if (page.entries.size() == limit) {
      page.next_cursor = list[static_cast<std::size_t>(i)].sequence;
      break;
    }
    page.entries.push_back(list[static_cast<std::size_t>(i)]);
  }
  return page;
}

std::uint64_t AuditIndex::events() const {
  std::shared_lock lock(mutex_);
  std::uint64_t total = 0;
  for (auto& [d, list] : entries_) total += list.size();
  return total;
}

std::string AuditIndex::canonical_dump() const {
  std::shared_lock lock(mutex_);
  std::string out;
  for (auto& [dashboard, list] : entries_) {
    for (auto& e : list) {
      out += dashboard + " " + std::to_string(e.sequence) + " @" + std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " + e.type + " " +
             e.actor_id + " " + (e.channel ? std::string(domain::to_string(*e.channel)) : "-") + " " +
             std::to_string(e.occurred_at.time_since_epoch().count()) + "\n";
    }
  }
  return out;
}

std::vector<AuditEntry> AuditIndex::all(const std::string& dashboard_id) const {
  std::shared_lock lock(mutex_);
  auto it = entries_.find(dashboard_id);
  return it == entries_.end() ? std::vector<AuditEntry>{} : it->second;
}

void AuditIndex::restore(const std::string& dashboard_id, std::vector<AuditEntry> entries) {
  std::unique_lock lock(mutex_);
  entries_[dashboard_id] = std::move(entries);
}

void AuditIndex::clear() {
  std::unique_lock lock(mutex_);
  entries_.clear();
}

}  // namespace keyledger::projections
