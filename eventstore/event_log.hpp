// The log interface both backends implement (embedded file log, Kafka). A position is the
// 0-based index of a record in the whole log; a batch holds the events of one command, all
// for one dashboard, and is appended atomically: all of it or none.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <span>
#include <string>
#include <system_error>

namespace keyledger::eventstore {

// One event on its way into the log: the sealed envelope plus what a backend may need
// without parsing it (Kafka's message key and CloudEvents headers).
struct AppendRecord {
  std::string dashboard_id;
  std::string event_id;
  std::string event_type;
  std::string occurred_at;  // RFC 3339
  std::string bytes;        // the envelope's canonical JSON
};

struct StoredRecord {
  std::uint64_t position = 0;
  std::string bytes;
};

// How a log has been making batches durable since it was opened.
struct LogStats {
  std::uint64_t batches = 0;  // appended batches (one per command)
  std::uint64_t syncs = 0;    // durability points that covered them: fdatasync calls (file
                              // log) or committed transactions (Kafka)
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends the batch durably and returns the position of its first record; the others
  // follow contiguously. Blocks until durable (fsync, or the Kafka transaction committed).
  // Thread-safe; the log has one writer process (enforced by each backend).
  virtual std::expected<std::uint64_t, std::error_code> append(std::span<const AppendRecord> batch) = 0;

  // Calls `visit` for every record from `from` up to the end as of the call, in order;
  // stops early when `visit` returns false. Thread-safe, concurrent with appends.
  virtual std::error_code read(std::uint64_t from,
                               const std::function<bool(const StoredRecord&)>& visit) = 0;

  // One past the last durable record.
  virtual std::uint64_t end() const = 0;

  virtual LogStats stats() const = 0;
};

}  // namespace keyledger::eventstore
