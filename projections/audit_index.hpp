// Where each dashboard's events are in the log, with what the audit filters need, so that
// an audit page reads only the events it returns. Cursor pagination is by the dashboard's
// sequence number, which never changes once assigned: pages stay stable while new events
// arrive.
//
// Threading: record() from the pipeline's listener; queries from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "domain/channel.hpp"
#include "domain/time.hpp"

namespace keyledger::projections {

struct AuditEntry {
  std::uint64_t sequence = 0;   // 1-based, per dashboard
  std::uint32_t partition = 0;  // where the event is in the log
  std::uint64_t offset = 0;
  std::string type;
  std::string actor_id;
  std::optional<domain::Channel> channel;
  domain::Timestamp occurred_at{};
};

struct AuditFilter {
  std::optional<domain::Timestamp> since, until;  // since inclusive, until exclusive
  std::optional<std::string> actor, type;
  std::optional<domain::Channel> channel;
};

struct AuditPage {
  std::vector<AuditEntry> entries;
  std::optional<std::uint64_t> next_cursor;  // the sequence to continue from
};

class AuditIndex {
 public:
  void record(const std::string& dashboard_id, AuditEntry entry);

  // Up to `limit` matching entries starting at sequence `cursor` (inclusive), oldest first,
  // or newest first from `cursor` downwards when `descending`.
  AuditPage query(const std::string& dashboard_id, const AuditFilter& filter, std::optional<std::uint64_t> cursor,
                  std::size_t limit, bool descending) const;
  std::vector<AuditEntry> all(const std::string& dashboard_id) const;
  // Replaces one dashboard's entries (from a snapshot), and forgets everything.
  void restore(const std::string& dashboard_id, std::vector<AuditEntry> entries);
  void clear();
  // The events recorded (the read model's position), and a canonical text of the whole read
  // model, for comparing it before and after a rebuild.
  std::uint64_t events() const;
  std::string canonical_dump() const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::vector<AuditEntry>> entries_;  // in sequence order
};

}  // namespace keyledger::projections
