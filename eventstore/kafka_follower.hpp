// Follows a Kafka topic as it grows (SPEC §10: every process is a read replica): a
// read_committed consumer assigned every partition from given offsets hands the records
// to the log, each partition's of one poll together, and measures how current that copy is.
//
// Staleness of a partition = now − the last instant T such that every record committed at
// T has been handed over. It is measured with probes: every `probe_interval` the follower
// asks each partition's leader for its latest offset (ListOffsets; librdkafka 2.0 asks for
// the high watermark, which is at or past the last stable offset, so a probe is settled no
// sooner than it should be); a probe answered at T with offset L is settled once the
// consumer has reached L (its end-of-partition event says where it stands, past any
// transaction marker), and T becomes the partition's fresh instant. A transaction left open
// holds settling back until it ends (a new writer aborts a crashed one's at once).
// When the brokers are away no probe is answered and staleness grows: a replica that cannot
// tell whether it is current says so, instead of answering from old state as if it were.
//
// Threading: one thread polls the consumer and calls the callbacks; another runs the probes
// on a client of its own whose requests time out after a second, so that a partition whose
// leader is gone never holds up the records of the others, nor shutdown, for long.
// staleness() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kafka_client.hpp"
#include "record_cache.hpp"

namespace RdKafka {
class KafkaConsumer;
}

namespace keyledger::eventstore {

class KafkaFollower {
 public:
  struct Callbacks {
    // A partition's records that one poll brought, in its order (never one the follower
    // handed over before); their bytes are valid only during the call.
    std::function<void(std::uint32_t partition, std::span<const RecordCache::Record> records)> records;
    // After a poll that handed over records, or at most every probe interval: the moment to
    // act on what arrived.
    std::function<void()> idle;
  };
  using Clock = std::chrono::steady_clock;

  // Starts following `topic` from `from[p]` in each partition p. The copy counts as current
  // at the start (the caller has just read the topic to its end).
  static std::expected<std::unique_ptr<KafkaFollower>, std::string> start(
      const KafkaOptions& options, const std::string& topic, std::vector<std::uint64_t> from, Callbacks callbacks,
      std::chrono::milliseconds probe_interval = std::chrono::milliseconds(200));
  ~KafkaFollower();  // stops the thread and closes the consumer
  KafkaFollower(const KafkaFollower&) = delete;
  KafkaFollower& operator=(const KafkaFollower&) = delete;

  std::chrono::milliseconds staleness(std::uint32_t partition) const;
  // The largest of every partition's.
  std::chrono::milliseconds staleness() const;
  // Offsets the brokers last said the partition has (its last stable offset at the latest
  // answered probe) that the consumer has not reached yet.
  std::uint64_t lag(std::uint32_t partition) const;
  // Whether a probe of `partition` asked at or after `instant` has been settled: everything
  // committed to it before `instant` has been handed over.
  bool current_since(std::uint32_t partition, Clock::time_point instant) const;
  // Asks the next probe now (within 10 ms) instead of at the end of the interval: for a
  // caller about to wait on current_since (a partition just taken over).
  void probe_soon() { probe_soon_ = true; }

 private:
  struct Probe {
    Clock::time_point asked_at;
    std::uint64_t stable_end;  // the partition's last stable offset then
  };
  struct Partition {
    std::atomic<std::int64_t> fresh_at_ns{0};  // Clock's time since epoch
    std::uint64_t reached = 0;                 // the consumer's end-of-partition offset (mutex_)
    std::uint64_t latest_end = 0;              // the latest probe's answer (mutex_)
    std::deque<Probe> probes;                  // unsettled, oldest first (mutex_)
  };
  KafkaFollower(std::string topic, Callbacks callbacks, std::chrono::milliseconds probe_interval,
                std::size_t partitions);
  void consume();
  void probe();
  // Turns the probes the consumer has caught up with into the partition's fresh instant.
  void settle(Partition& p);  // mutex_ held

  std::string topic_;
  Callbacks callbacks_;
  std::chrono::milliseconds probe_interval_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::KafkaConsumer> prober_;  // never assigned: only asks for offsets
  mutable std::mutex mutex_;
  std::vector<Partition> partitions_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> probe_soon_{false};
  std::thread consumer_thread_, prober_thread_;  // last: started once everything else is in place
};

}  // namespace keyledger::eventstore
