#include "audit_index.hpp"

#include <algorithm>
#include <mutex>

namespace keyledger::projections {

namespace {
std::uint8_t channel_code(const std::optional<domain::Channel>& c) {
  return c ? static_cast<std::uint8_t>(1 + static_cast<int>(*c)) : 0;
}
}  // namespace

std::uint32_t AuditIndex::Interned::intern(const std::string& text) {
  auto [it, inserted] = index.try_emplace(text, static_cast<std::uint32_t>(texts.size()));
  if (inserted) texts.push_back(text);
  return it->second;
}

std::optional<std::uint32_t> AuditIndex::Interned::find(const std::string& text) const {
  auto it = index.find(text);
  if (it == index.end()) return std::nullopt;
  return it->second;
}

AuditEntry AuditIndex::expand(const Entries& trail, std::size_t i) const {
  const Entry& e = trail.entries[i];
  AuditEntry out;
  out.sequence = trail.first_sequence + i;
  out.partition = trail.partition;
  out.offset = e.offset;
  out.type = types_.texts[e.type];
  out.actor_id = actors_.texts[e.actor];
  if (e.channel) out.channel = static_cast<domain::Channel>(e.channel - 1);
  out.occurred_at = domain::Timestamp{std::chrono::milliseconds{e.occurred_ms}};
  return out;
}

void AuditIndex::record(const std::string& dashboard_id, const AuditEntry& entry) {
  std::unique_lock lock(mutex_);
  auto& trail = trails_[dashboard_id];
  // A replay after a snapshot may offer events already recorded; sequences only grow.
  if (!trail.entries.empty() && trail.first_sequence + trail.entries.size() > entry.sequence) return;
  if (trail.entries.empty()) {
    trail.partition = entry.partition;
    trail.first_sequence = entry.sequence;
  }
  trail.entries.push_back(Entry{entry.offset, entry.occurred_at.time_since_epoch().count(), actors_.intern(entry.actor_id),
                                static_cast<std::uint16_t>(types_.intern(entry.type)), channel_code(entry.channel)});
}

AuditPage AuditIndex::query(const std::string& dashboard_id, const AuditFilter& filter,
                            std::optional<std::uint64_t> cursor, std::size_t limit, bool descending) const {
  AuditPage page;
  std::shared_lock lock(mutex_);
  auto it = trails_.find(dashboard_id);
  if (it == trails_.end() || it->second.entries.empty()) return page;
  const Entries& trail = it->second;
  // The filter's texts as interned ids: a text never recorded matches nothing.
  std::optional<std::uint32_t> type, actor;
  if (filter.type && !(type = types_.find(*filter.type))) return page;
  if (filter.actor && !(actor = actors_.find(*filter.actor))) return page;
  const std::uint8_t channel = channel_code(filter.channel);
  const std::int64_t since = filter.since ? filter.since->time_since_epoch().count() : INT64_MIN;
  const std::int64_t until = filter.until ? filter.until->time_since_epoch().count() : INT64_MAX;
  auto matches = [&](const Entry& e) {
    return e.occurred_ms >= since && e.occurred_ms < until && (!type || e.type == *type) &&
           (!actor || e.actor == *actor) && (!filter.channel || e.channel == channel);
  };
  // Sequences are dense from the first recorded one, so a sequence maps to an index.
  const auto n = static_cast<std::int64_t>(trail.entries.size());
  std::int64_t i = cursor ? static_cast<std::int64_t>(*cursor) - static_cast<std::int64_t>(trail.first_sequence)
                          : (descending ? n - 1 : 0);
  if (i < 0) i = descending ? -1 : 0;
  if (i >= n) i = descending ? n - 1 : n;
  const std::int64_t step = descending ? -1 : 1;
  for (; i >= 0 && i < n; i += step) {
    if (!matches(trail.entries[static_cast<std::size_t>(i)])) continue;
    if (page.entries.size() == limit) {
      page.next_cursor = trail.first_sequence + static_cast<std::uint64_t>(i);
      break;
    }
    page.entries.push_back(expand(trail, static_cast<std::size_t>(i)));
  }
  return page;
}

std::vector<AuditEntry> AuditIndex::all(const std::string& dashboard_id) const {
  std::shared_lock lock(mutex_);
  std::vector<AuditEntry> out;
  auto it = trails_.find(dashboard_id);
  if (it == trails_.end()) return out;
  out.reserve(it->second.entries.size());
  for (std::size_t i = 0; i < it->second.entries.size(); ++i) out.push_back(expand(it->second, i));
  return out;
}

AuditIndex::Trail AuditIndex::trail(const std::string& dashboard_id) const {
  Trail out = capture(dashboard_id);
  localize(out);
  return out;
}

AuditIndex::Trail AuditIndex::capture(const std::string& dashboard_id) const {
  std::shared_lock lock(mutex_);
  Trail out;
  auto it = trails_.find(dashboard_id);
  if (it == trails_.end()) return out;
  out.partition = it->second.partition;
  out.first_sequence = it->second.first_sequence;
  out.rows = it->second.entries;
  return out;
}

// The trail's own tables: the global ids it uses, renumbered in order of first use. (The
// global tables only grow, so ids captured earlier are still theirs.)
void AuditIndex::localize(Trail& trail) const {
  std::shared_lock lock(mutex_);
  std::unordered_map<std::uint32_t, std::uint32_t> type_ids, actor_ids;
  for (Entry& e : trail.rows) {
    auto [t, new_type] = type_ids.try_emplace(e.type, static_cast<std::uint32_t>(trail.types.size()));
    if (new_type) trail.types.push_back(types_.texts[e.type]);
    auto [a, new_actor] = actor_ids.try_emplace(e.actor, static_cast<std::uint32_t>(trail.actors.size()));
    if (new_actor) trail.actors.push_back(actors_.texts[e.actor]);
    e.type = static_cast<std::uint16_t>(t->second);
    e.actor = a->second;
  }
}

std::optional<AuditEntry> AuditIndex::at(const std::string& dashboard_id, std::uint64_t sequence) const {
  std::shared_lock lock(mutex_);
  auto it = trails_.find(dashboard_id);
  if (it == trails_.end() || sequence < it->second.first_sequence ||
      sequence - it->second.first_sequence >= it->second.entries.size()) {
    return std::nullopt;
  }
  return expand(it->second, sequence - it->second.first_sequence);
}

std::vector<eventstore::LogPosition> AuditIndex::positions(const std::string& dashboard_id, std::uint64_t first,
                                                       std::uint64_t last) const {
  std::vector<eventstore::LogPosition> out;
  std::shared_lock lock(mutex_);
  auto it = trails_.find(dashboard_id);
  if (it == trails_.end() || first < it->second.first_sequence || first > last) return out;
  const auto& trail = it->second;
  const std::uint64_t begin = first - trail.first_sequence;
  const std::uint64_t end = std::min<std::uint64_t>(last - trail.first_sequence + 1, trail.entries.size());
  if (begin >= end) return out;
  out.reserve(end - begin);
  for (std::uint64_t i = begin; i < end; ++i) out.push_back({trail.partition, trail.entries[i].offset});
  return out;
}

bool AuditIndex::restore(const std::string& dashboard_id, const Trail& trail) {
  std::unique_lock lock(mutex_);
  std::vector<std::uint32_t> types, actors;  // the trail's table -> global ids
  for (const auto& t : trail.types) types.push_back(types_.intern(t));
  for (const auto& a : trail.actors) actors.push_back(actors_.intern(a));
  Entries entries{trail.partition, trail.first_sequence, {}};
  entries.entries.reserve(trail.rows.size());
  for (const Entry& row : trail.rows) {
    if (row.type >= types.size() || row.actor >= actors.size() || row.channel > 4) return false;
    entries.entries.push_back(Entry{row.offset, row.occurred_ms, actors[row.actor],
                                    static_cast<std::uint16_t>(types[row.type]), row.channel});
  }
  trails_[dashboard_id] = std::move(entries);
  return true;
}

void AuditIndex::clear() {
  std::unique_lock lock(mutex_);
  trails_.clear();
  types_ = {};
  actors_ = {};
}

std::uint64_t AuditIndex::events() const {
  std::shared_lock lock(mutex_);
  std::uint64_t total = 0;
  for (auto& [d, trail] : trails_) total += trail.entries.size();
  return total;
}

std::string AuditIndex::canonical_dump() const {
  std::shared_lock lock(mutex_);
  std::string out;
  for (auto& [dashboard, trail] : trails_) {
    for (std::size_t i = 0; i < trail.entries.size(); ++i) {
      const AuditEntry e = expand(trail, i);
      out += dashboard + " " + std::to_string(e.sequence) + " @" + std::to_string(e.partition) + ":" +
             std::to_string(e.offset) + " " + e.type + " " + e.actor_id + " " +
             (e.channel ? std::string(domain::to_string(*e.channel)) : "-") + " " +
             std::to_string(e.occurred_at.time_since_epoch().count()) + "\n";
    }
  }
  return out;
}

}  // namespace keyledger::projections
