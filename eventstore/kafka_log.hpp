// The Kafka backend of the event log (SPEC §6): one topic, message key = dashboard id (so
// each dashboard's events stay ordered in one partition), CloudEvents 1.0 binary-mode
// headers, and a transactional, idempotent producer with acks=all whose transactional id
// fences any other writer. Each group of waiting batches is one transaction (the shared
// group-commit queue); a batch is acknowledged only after its transaction committed.
//
// Positions are the brokers' own: (partition, offset), learnt from each record's delivery
// report, so every process and every other Kafka client names a record the same way. A
// dashboard's partition is murmur2 of its id, as Kafka's Java clients compute it
// (kafka_partition); a dashboard an earlier keyledger placed by librdkafka's default
// partitioner keeps the partition its events are in.
// Offsets have gaps where transaction markers sit.
//
// The process keeps a local replica of the topic, read to its end with read_committed at
// start-up, then extended by its own committed transactions and by a follower
// (kafka_follower.hpp) that reads what other processes commit and says how current the copy
// is; it holds every event's bytes in memory (bounded memory, SPEC §10, is still to come).
//
// Threading: append() and read() from any thread; the group-commit writer thread owns the
// producer's transactions.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "event_log.hpp"
#include "group_commit.hpp"
#include "kafka_client.hpp"
#include "kafka_follower.hpp"

namespace RdKafka {
class Message;
class Producer;
}

namespace keyledger::eventstore {

class KafkaLog final : public EventLog {
 public:
  // Creates the topic when missing, initialises the transactional producer (fencing any
  // earlier instance with the same transactional id) and reads the topic to its end.
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

  bool fenced() const { return fenced_.load(); }

 private:
  struct Partition {
    std::vector<std::uint64_t> offsets;  // ascending
    std::vector<std::string> records;    // records[i] is at offsets[i]
    std::uint64_t end = 0;
  };
  class DeliveryReports;

  explicit KafkaLog(KafkaOptions options);
  std::expected<void, std::string> start();
  // Creates the transactional producer and initialises its transactions (fencing older
  // instances). Also used to recover from a fatal producer error that was not a fence.
  std::expected<void, std::string> init_producer();
  // The group-commit writer's step: one transaction for the whole group.
  std::expected<std::vector<LogPosition>, std::error_code> commit_group(std::span<PendingBatch> group);
  std::error_code fence(const std::string& why);
  void note(const std::string& sentence) const;
  // Start-up read: remembers a dashboard whose events are not where murmur2 would put them.
  void note_partition(const RdKafka::Message& message);
  std::uint32_t partition_for(const std::string& dashboard_id) const;
  // The follower's: a record at `offset`, kept unless this process already has it.
  void add_followed(std::uint32_t partition, std::uint64_t offset, std::string_view bytes);
  void deliver_arrivals();

  KafkaOptions options_;
  std::unique_ptr<DeliveryReports> delivery_;  // before the producer, which reports to it
  std::unique_ptr<RdKafka::Producer> producer_;

  mutable std::shared_mutex replica_mutex_;
  std::vector<Partition> replica_;  // sized once at start; the vectors inside grow
  // Dashboards placed by an earlier partitioner, and where (filled at start, read after).
  std::unordered_map<std::string, std::uint32_t> placed_elsewhere_;

  std::atomic<bool> fenced_{false};  // another instance took the transactional id: never append again
  bool needs_abort_ = false;         // an abandoned transaction still to be aborted (writer thread only)
  bool needs_producer_ = false;      // the producer failed fatally without being fenced: make a new one
  std::mutex arrival_mutex_;
  std::function<void()> arrived_;        // the on_arrival callback
  bool arrival_due_ = false;             // records (or a new callback) not yet announced
  std::unique_ptr<KafkaFollower> follower_;  // after the replica: stops before it goes
  std::unique_ptr<GroupCommitQueue> queue_;  // last: its writer thread stops first
};

}  // namespace keyledger::eventstore
