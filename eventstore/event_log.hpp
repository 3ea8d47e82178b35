// The log interface both backends implement (embedded file log, Kafka).
//
// A log is a set of partitions, each a sequence of records at increasing offsets: the file
// log is one partition whose offsets are 0, 1, 2, ...; a Kafka topic's partitions keep the
// offsets the brokers gave (with gaps where transaction markers sit). A position names one
// record the same way in every process that reads the log. A batch holds the events of one
// command, all for one dashboard (hence one partition), and is appended atomically: all of
// it or none, at consecutive offsets.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace keyledger::eventstore {

struct LogPosition {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  friend auto operator<=>(const LogPosition&, const LogPosition&) = default;
  std::string to_string() const { return std::to_string(partition) + ":" + std::to_string(offset); }
};

// One event on its way into the log: the sealed envelope plus what a backend may need
// without parsing it (Kafka's message key and CloudEvents headers).
struct AppendRecord {
  std::string dashboard_id;
  std::string event_id;
  std::string event_type;
  std::string occurred_at;  // RFC 3339
  std::string bytes;        // the envelope's canonical JSON
};

// A record as a read hands it to its visitor: `bytes` is valid only during the visit.
struct StoredRecord {
  LogPosition position;
  std::string_view bytes;
};
// Returns false to stop reading.
using RecordVisitor = std::function<bool(const StoredRecord&)>;

using AppendResult = std::expected<LogPosition, std::error_code>;
// Completes one append: the position of the batch's first record, or why none of it is in
// the log. Runs on the log's writer thread: it must be quick and must not append.
using AppendDone = std::move_only_function<void(AppendResult)>;

// SPEC §10: a phone number reserved, by the owner of the number's partition, for a
// registration another process decides; or (dashboard_id empty) such a reservation ended.
// Records of their own beside the log: never in a dashboard's chain.
struct NumberReservation {
  std::string number;        // E.164
  std::string dashboard_id;  // empty: released
  std::int64_t at_ms = 0;    // when reserved or released (ms since the epoch)
};

// How a log has been making batches durable since it was opened.
struct LogStats {
  std::uint64_t batches = 0;  // appended batches (one per command)
  std::uint64_t syncs = 0;    // durability points that covered them: fdatasync calls (file
                              // log) or committed transactions (Kafka)
  std::uint64_t rebalances = 0;  // times a Kafka cluster's owners' group changed this process's partitions
  std::uint64_t fenced = 0;      // batches refused because another writer had fenced this one (Kafka)
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Queues the batch and calls `done` once it is durable (fsynced, or its Kafka transaction
  // committed) or refused. Thread-safe; the log has one writer process (each backend
  // enforces it).
  virtual void append(std::vector<AppendRecord> batch, AppendDone done) = 0;
  // The same, waiting for the answer on the caller's thread.
  AppendResult append(std::span<const AppendRecord> batch);

  virtual std::uint32_t partitions() const = 0;
  // One past the offset of the partition's last durable record.
  virtual std::uint64_t end(std::uint32_t partition) const = 0;

  // Calls `visit` for every record of `partition` with an offset in [from, to), in order,
  // stopping early when it returns false. Costs what it reads: finding `from` is O(log n).
  // Thread-safe, concurrent with appends. An error when a record cannot be read back.
  virtual std::error_code read(std::uint32_t partition, std::uint64_t from, std::uint64_t to,
                               const RecordVisitor& visit) = 0;

  virtual LogStats stats() const = 0;

  // Records other processes append (SPEC §10: every process is a read replica). `arrived`
  // is called on the log's own thread after such records were added to this process's copy
  // (and once soon after the call, for any that came before it); it may read the log. A log
  // that only this process appends to never calls it.
  virtual void on_arrival(std::function<void()> arrived) { (void)arrived; }
  // How long since this process's copy of `partition` last held everything committed to it
  // (SPEC §10's staleness); always zero for a log that only this process appends to.
  virtual std::chrono::milliseconds staleness(std::uint32_t partition) const {
    (void)partition;
    return {};
  }
  // The largest staleness of any partition: a cheap first check on the verify path.
  virtual std::chrono::milliseconds staleness() const { return {}; }
  // Offsets committed to `partition` (as the brokers last said) that this process has not
  // read yet; always zero for a log that only this process appends to.
  virtual std::uint64_t lag(std::uint32_t partition) const {
    (void)partition;
    return 0;
  }
  // Whether this process's copy of `partition` holds every record committed to it before
  // `instant` (read-your-writes for what another process wrote, without a position to wait
  // for); always, for a log that only this process appends to. request_currency() has it
  // learnt soon rather than at the next of its periodic checks.
  virtual bool current_since(std::uint32_t partition, std::chrono::steady_clock::time_point instant) const {
    (void)partition;
    (void)instant;
    return true;
  }
  virtual void request_currency() {}

  // The partition a dashboard's events go to (one partition: always 0).
  virtual std::uint32_t partition_for(std::string_view dashboard_id) const {
    (void)dashboard_id;
    return 0;
  }
  // Whether this process may decide commands for the partition now (SPEC §10's ownership),
  // and if so from which offset its state must hold every record before it does: records a
  // previous owner committed. A log only this process appends to: always, from 0.
  virtual std::optional<std::uint64_t> writable(std::uint32_t partition) const {
    (void)partition;
    return 0;
  }
  // Has this process decide for no partition from now on, if it decides for none now (one that
  // can no longer read the store's master key: docs/cluster.md): a member of a cluster leaves
  // the owners' group, so that the partitions go to the others only; it still reads the log
  // and forwards commands. True when it did, now or before. A log only this process appends
  // to decides for every partition: false.
  virtual bool withdraw_if_idle() { return false; }

  // Where this process answers HTTP (SPEC §10's KEYLEDGER_ADVERTISE): a log shared by a
  // cluster publishes it for every partition this process writes, now and whenever it gains
  // one, so that the others can forward commands to it. Others: nothing to do.
  virtual void advertise(const std::string& url) { (void)url; }
  // Where the partition's writer last said it answers, if any did (a log only this process
  // writes: never).
  virtual std::optional<std::string> owner_url(std::uint32_t partition) const {
    (void)partition;
    return std::nullopt;
  }

  // SPEC §10's reservations as durable records of their own (a cluster's log: the compacted
  // topic `<topic>-numbers`, keyed by number, in the number's partition, written by that
  // partition's writer so that a fenced owner cannot). `done` as append's (the position says
  // nothing); not_owner when this process does not write the number's partition. A log only
  // this process appends to needs none (the process reserves in memory): refused.
  virtual void record_reservation(NumberReservation reservation, AppendDone done);
  // The reservations of the partition's numbers that its previous owners recorded and did
  // not end, as they stood when this process was given the partition (the log's copy holding
  // everything they committed): handed over once per tenure, to adopt before deciding for
  // those numbers (the recorded ones replace what the process thought before). None after
  // that, and from a log only this process appends to.
  virtual std::optional<std::vector<NumberReservation>> take_inherited_reservations(std::uint32_t partition) {
    (void)partition;
    return std::nullopt;
  }

  // The bytes of one record (empty when there is none at that position).
  std::string read_one(LogPosition position);
  // The end of every partition, indexed by partition: where a reader that started now
  // would stop.
  std::vector<std::uint64_t> ends() const;
};

}  // namespace keyledger::eventstore
