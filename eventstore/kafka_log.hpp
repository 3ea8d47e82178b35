// The Kafka backend of the event log (SPEC §6, §10): one topic, message key = dashboard id
// (so each dashboard's events stay ordered in one partition), CloudEvents 1.0 binary-mode
// headers. A dashboard's partition is murmur2 of its id, as Kafka's Java clients compute it
// (kafka_partition); a dashboard an earlier keyledger placed by librdkafka's default
// partitioner keeps the partition its events are in.
//
// Writers, one per partition: a transactional, idempotent producer with acks=all whose
// transactional id names the partition (`<id>-p<N>`, id default `keyledger-<topic>`), so
// whoever initialises it next fences this one and aborts what it left open, and a group-commit
// queue of its own (each group of waiting batches is one transaction; a batch is
// acknowledged only after its transaction committed). Which partitions a process writes:
//   - alone (the CLI, migrate, tests): every partition, fencing any other writer at start;
//   - in a cluster (`join_group`, keyledger serve): those a consumer group over the topic
//     assigns it (kafka_ownership.hpp). A partition gained is written only once its writer
//     fenced the previous owner and this process's copy holds everything committed before
//     (writable() then says from which offset state must be folded); one lost, or fenced,
//     is refused at once (StoreErrc::not_owner).
// Opening also fences the single writer of keyledger before partition ownership (the
// transactional id `<id>` itself).
//
// In a cluster each writer also publishes where this process answers HTTP (advertise()) to
// the compacted topic `<topic>-owners`, inside its own transaction, so that the others can
// forward commands to the owner (owner_url()); every process follows that topic.
//
// Number reservations (SPEC §10) are records of their own in the compacted topic
// `<topic>-numbers` (as many partitions as the topic; key = the number, in the number's
// partition), written by that partition's writer inside its transactions, and followed by
// every process: a process that takes a partition over has read every reservation its
// previous owner committed before it decides anything there, and hands those still open to
// the pipeline (take_inherited_reservations).
//
// Positions are the brokers' own: (partition, offset), learnt from each record's delivery
// report, so every process and every other Kafka client names a record the same way.
// Offsets have gaps where transaction markers sit.
//
// The process keeps a local replica of the topic, read to its end with read_committed at
// start-up, then extended by its own committed transactions and by a follower
// (kafka_follower.hpp) that reads what other processes commit and says how current the copy
// is. The records are in a cache file per partition on local disk (record_cache.hpp);
// memory holds a sparse index of them. A record that cannot be written there stops the
// process (with a note): a replica with a hole must not serve. The files are anonymous ones
// in TMPDIR (a start reads the whole topic), or kept in a replica directory
// (replica_directory.hpp) across restarts: a start then reads each partition from its last
// kept record, which the brokers must hand back first and unchanged (otherwise the directory
// starts afresh and the topic is read from its beginning), and the store's snapshots go there
// too.
//
// Threading: append() and read() from any thread; each writer's group-commit thread owns its
// producer's transactions; ownership changes run on the ownership thread.
#pragma once

#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "event_log.hpp"
#include "group_commit.hpp"
#include "kafka_client.hpp"
#include "kafka_follower.hpp"
#include "kafka_ownership.hpp"
#include "record_cache.hpp"
#include "replica_directory.hpp"

namespace RdKafka {
class DeliveryReportCb;
class Message;
class Producer;
}

namespace keyledger::eventstore {

class KafkaLog final : public EventLog {
 public:
  // Creates the topic when missing, fences earlier writers (see above), reads the topic to
  // its end and starts following it; in a cluster, joins the owners' group and acquires what
  // it is first given (bounded by the group's session timeout and a few seconds).
  static std::expected<std::unique_ptr<KafkaLog>, std::string> open(KafkaOptions options);
  ~KafkaLog() override;

  using EventLog::append;
  void append(std::vector<AppendRecord> batch, AppendDone done) override;
  std::uint32_t partitions() const override { return static_cast<std::uint32_t>(replica_.size()); }
  std::uint64_t end(std::uint32_t partition) const override;
  std::error_code read(std::uint32_t partition, std::uint64_t from, std::uint64_t to,
                       const RecordVisitor& visit) override;
  LogStats stats() const override;
  void on_arrival(std::function<void()> arrived) override;
  std::chrono::milliseconds staleness(std::uint32_t partition) const override;
  std::chrono::milliseconds staleness() const override;
  std::uint64_t lag(std::uint32_t partition) const override;
  bool current_since(std::uint32_t partition, std::chrono::steady_clock::time_point instant) const override;
  void request_currency() override;
  std::uint32_t partition_for(std::string_view dashboard_id) const override;
  std::optional<std::uint64_t> writable(std::uint32_t partition) const override;
  bool withdraw_if_idle() override;
  void advertise(const std::string& url) override;
  std::optional<std::string> owner_url(std::uint32_t partition) const override;
  void record_reservation(NumberReservation reservation, AppendDone done) override;
  std::optional<std::vector<NumberReservation>> take_inherited_reservations(std::uint32_t partition) override;

  // The partitions this process writes now, ascending.
  std::vector<std::uint32_t> owned() const;
  // Ownership changes the group made (0 for a process writing alone).
  std::uint64_t rebalances() const { return ownership_ ? ownership_->rebalances() : 0; }

 private:
  struct Partition {
    std::unique_ptr<RecordCache> records;  // appended to with replica_mutex_ held exclusively
    std::uint64_t end = 0;
  };
  struct Writer;
  using Clock = std::chrono::steady_clock;

  explicit KafkaLog(KafkaOptions options);
  std::expected<void, std::string> start();
  // Each partition's record cache: kept in the replica directory (as it was left), or
  // anonymous in TMPDIR.
  std::expected<void, std::string> open_caches();
  // Reads the topic from where each cache ends to its end: empty when done, or why a kept
  // cache is not what the brokers hold (then nothing more was kept).
  std::expected<std::string, std::string> read_to_end();
  // A producer with `transactional_id` whose transactions are initialised (fencing older
  // instances and aborting what they left open).
  std::expected<std::unique_ptr<RdKafka::Producer>, std::string> transactional_producer(
      const std::string& transactional_id, RdKafka::DeliveryReportCb* reports);
  // Writers for `partitions`, their producers initialised in parallel; a sentence per failure.
  std::vector<std::expected<std::shared_ptr<Writer>, std::string>> make_writers(
      const std::vector<std::uint32_t>& partitions);
  void start_queue(const std::shared_ptr<Writer>& writer);
  // A writer's group-commit step: one transaction for the whole group.
  std::expected<std::vector<LogPosition>, std::error_code> commit_group(Writer& writer, std::span<PendingBatch> group);
  std::error_code fence(Writer& writer, const std::string& why);
  // Ownership (cluster): the group's changes, and retries of what could not be acquired.
  void acquire(const std::vector<std::uint32_t>& partitions);
  void release(const std::vector<std::uint32_t>& partitions, bool lost);
  void retry_acquisitions();
  std::shared_ptr<Writer> writer(std::uint32_t partition) const;
  void note(const std::string& sentence) const;
  // replica_mutex_ held exclusively: `records` (offsets rising) go to the end of the
  // partition's copy with one write (their bytes into the cache, or the process stops).
  void keep(Partition& partition, std::span<const RecordCache::Record> records);
  // Start-up read: remembers a dashboard whose events are not where murmur2 would put them.
  void note_partition(const RdKafka::Message& message);
  // The follower's: a record at `offset`, kept unless this process already has it.
  void add_followed(std::uint32_t partition, std::span<const RecordCache::Record> records);
  void deliver_arrivals();
  // Has the writer publish this process's address (once known) in its next transaction, and
  // starts one for it.
  void publish_owner(Writer& writer);
  // The cluster's topics beside the events: where owners answer, number reservations.
  std::string owners_topic() const { return options_.topic + "-owners"; }
  std::string numbers_topic() const { return options_.topic + "-numbers"; }
  // The owners topic's follower's: one owner record.
  void add_owner(std::string_view bytes);
  // The numbers topic's follower's: one reservation record.
  void add_reservation(std::string_view bytes);

  KafkaOptions options_;
  std::unique_ptr<ReplicaDirectory> replica_directory_;  // when the replica is kept across restarts

  mutable std::shared_mutex replica_mutex_;
  std::vector<Partition> replica_;  // sized once at start; the vectors inside grow
  // Dashboards placed by an earlier partitioner, and where (filled at start, read after).
  std::unordered_map<std::string, std::uint32_t> placed_elsewhere_;

  mutable std::shared_mutex writers_mutex_;
  std::vector<std::shared_ptr<Writer>> writers_;  // by partition; null where this process does not write
  std::vector<std::shared_ptr<Writer>> retired_;  // fenced in a cluster: destroyed off their own thread
  std::atomic<std::uint64_t> batches_{0}, syncs_{0}, fenced_batches_{0};
  std::atomic<bool> withdrawn_{false};  // withdraw_if_idle() did: the owners' group is left
  // Partitions the group assigned, and when to (try to) acquire any that has no writer.
  // Locked before writers_mutex_ when both are.
  std::mutex assigned_mutex_;
  std::unordered_map<std::uint32_t, Clock::time_point> assigned_;

  std::mutex arrival_mutex_;
  std::function<void()> arrived_;        // the on_arrival callback
  bool arrival_due_ = false;             // records (or a new callback) not yet announced
  // Owners (cluster): where each partition's writer answers, from the compacted topic
  // `<topic>-owners` (one record per partition, keyed by its number, written in the writer's
  // own transactions so that a fenced writer cannot publish).
  mutable std::mutex owners_mutex_;
  std::string advertised_;               // this process's address, once known
  std::vector<std::string> owner_urls_;  // by partition; empty when none was published
  std::unique_ptr<KafkaFollower> owners_follower_;
  // Reservations (cluster): each number's last record from `<topic>-numbers` while open, and
  // those inherited with each partition acquired until taken.
  std::mutex reservations_mutex_;
  std::unordered_map<std::string, NumberReservation> reservations_;
  std::unordered_map<std::uint32_t, std::vector<NumberReservation>> inherited_;
  std::unique_ptr<KafkaFollower> numbers_follower_;
  std::unique_ptr<KafkaFollower> follower_;    // after the replica: stops before it goes
  std::unique_ptr<KafkaOwnership> ownership_;  // last: leaves the group (letting writers go) first
};

}  // namespace keyledger::eventstore
