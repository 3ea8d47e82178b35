// Where each dashboard's events are in the log, with what the audit filters need, so that
// an audit page reads only the events it returns. Cursor pagination is by the dashboard's
// sequence number, which never changes once assigned: pages stay stable while new events
// arrive.
//
// Compact: 24 bytes an event. A dashboard's events all sit in one partition, and their
// sequences are dense, so neither is stored per event; event types and actors are interned.
//
// Threading: record() from the pipeline's listener; queries from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/channel.hpp"
#include "domain/time.hpp"
#include "eventstore/event_log.hpp"

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
  void record(const std::string& dashboard_id, const AuditEntry& entry);

  // Up to `limit` matching entries starting at sequence `cursor` (inclusive), oldest first,
  // or newest first from `cursor` downwards when `descending`.
  AuditPage query(const std::string& dashboard_id, const AuditFilter& filter, std::optional<std::uint64_t> cursor,
                  std::size_t limit, bool descending) const;
  std::vector<AuditEntry> all(const std::string& dashboard_id) const;
  // The entry of one event of the dashboard, by its sequence.
  std::optional<AuditEntry> at(const std::string& dashboard_id, std::uint64_t sequence) const;
  // Where the dashboard's events of sequences `first`..`last` are in the log, in sequence
  // order (fewer when the index holds fewer, none when it lacks `first`).
  std::vector<eventstore::LogPosition> positions(const std::string& dashboard_id, std::uint64_t first,
                                                 std::uint64_t last) const;

  // One dashboard's entries as snapshots carry them: its own table of the types and actors
  // it names, and rows that point into it.
  struct Trail {
    struct Row {
      std::uint64_t offset;
      std::int64_t occurred_ms;
      std::uint32_t actor;   // index into actors
      std::uint16_t type;    // index into types
      std::uint8_t channel;  // 0: none, else 1 + the channel
    };
    std::uint32_t partition = 0;
    std::uint64_t first_sequence = 0;
    std::vector<std::string> types, actors;
    std::vector<Row> rows;
  };
  Trail trail(const std::string& dashboard_id) const;
  // trail() in two steps, so that the first is brief: the rows as they are (their type and
  // actor are indexes into this index's own tables, and `types`, `actors` are empty), then
  // the tables made the trail's own.
  Trail capture(const std::string& dashboard_id) const;
  void localize(Trail& captured) const;
  // Replaces one dashboard's entries (from a snapshot); false when the rows point outside
  // their tables. clear() forgets everything.
  bool restore(const std::string& dashboard_id, const Trail& trail);
  void clear();
  // The events recorded (the read model's position), and a canonical text of the whole read
  // model, for comparing it before and after a rebuild.
  std::uint64_t events() const;
  std::string canonical_dump() const;

 private:
  using Entry = Trail::Row;  // with indexes into types_ and actors_
  struct Entries {
    std::uint32_t partition = 0;
    std::uint64_t first_sequence = 0;
    std::vector<Entry> entries;  // in sequence order, dense
  };
  // An interned text: its index in `texts`, added when new (exclusive lock held).
  struct Interned {
    std::vector<std::string> texts;
    std::unordered_map<std::string, std::uint32_t> index;
    std::uint32_t intern(const std::string& text);
    std::optional<std::uint32_t> find(const std::string& text) const;
  };
  AuditEntry expand(const Entries& trail, std::size_t i) const;

  mutable std::shared_mutex mutex_;
  std::map<std::string, Entries> trails_;
  Interned types_, actors_;
};

}  // namespace keyledger::projections
