// Which partitions of the topic this process decides for (SPEC §10's ownership): membership
// of a Kafka consumer group over the topic (classic protocol, cooperative-sticky assignment),
// whose assignment names this process's partitions. It only reports changes: the log
// acquires a partition it gains (its transactional producer fences the previous owner) and
// lets go of one it loses. It reads no records (every partition it is given is paused; the
// follower reads the topic).
//
// Threading: one thread polls the group's consumer; `gained` and `lost` run on it, inside
// the rebalance, so a lost partition is let go of before the group hands it to another
// process (when this process is alive to hear of it). Heartbeats are librdkafka's own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kafka_client.hpp"

namespace RdKafka {
class KafkaConsumer;
}

namespace keyledger::eventstore {

class KafkaOwnership {
 public:
  struct Callbacks {
    std::function<void(const std::vector<std::uint32_t>&)> gained;
    // `lost` is true when the group took them away without a rebalance this process took
    // part in (its session expired): another process may already be appending to them.
    std::function<void(const std::vector<std::uint32_t>&, bool lost)> lost;
    // Between polls (at least every 100 ms): the moment to retry what failed.
    std::function<void()> tick;
    // Between polls too: true once this process is to hold no partition from then on. It then
    // leaves the group (its partitions are `lost` first) and is given none again.
    std::function<bool()> withdraw;
  };

  // Joins group `group_id` on `topic`. Returns once the first assignment (possibly empty)
  // has been handled, or `first_assignment` passed (the group may still be waiting for a
  // dead member's session to expire; partitions then come later), or `options.stopping`.
  static std::expected<std::unique_ptr<KafkaOwnership>, std::string> join(
      const KafkaOptions& options, const std::string& topic, const std::string& group_id, Callbacks callbacks,
      std::chrono::milliseconds first_assignment);
  // Leaves the group (its partitions are `lost` first, and go to other members at once).
  ~KafkaOwnership();
  KafkaOwnership(const KafkaOwnership&) = delete;
  KafkaOwnership& operator=(const KafkaOwnership&) = delete;

  std::uint64_t rebalances() const { return rebalances_.load(); }
  // When the group last changed this process's partitions.
  std::chrono::steady_clock::time_point last_change() const {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_change_.load()));
  }

 private:
  class Rebalance;
  explicit KafkaOwnership(Callbacks callbacks);
  void poll();

  Callbacks callbacks_;
  std::unique_ptr<Rebalance> rebalance_;  // before the consumer, which calls it
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<std::uint64_t> rebalances_{0};
  std::atomic<std::chrono::steady_clock::rep> last_change_{0};
  std::mutex mutex_;
  std::condition_variable assigned_;
  bool first_done_ = false;
  std::atomic<bool> stopping_{false};
  bool withdrawn_ = false;  // the polling thread's
  std::thread thread_;  // last
};

}  // namespace keyledger::eventstore
