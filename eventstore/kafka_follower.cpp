#include "kafka_follower.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "crypto/crypto.hpp"
#include "thread_name.hpp"

namespace keyledger::eventstore {

namespace {

std::int64_t ns_of(KafkaFollower::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Time since an instant in ns_of's terms (never negative).
std::chrono::milliseconds age_of(std::int64_t instant_ns) {
  const auto age = std::chrono::nanoseconds(std::max<std::int64_t>(ns_of(KafkaFollower::Clock::now()) - instant_ns, 0));
  return std::chrono::duration_cast<std::chrono::milliseconds>(age);
}

// Unanswered probes kept per partition; dropping the oldest only ever makes staleness look
// larger than it is, never smaller.
constexpr std::size_t kMaxProbes = 64;

}  // namespace

KafkaFollower::KafkaFollower(std::string topic, Callbacks callbacks, std::chrono::milliseconds probe_interval,
                             std::size_t partitions)
    : topic_(std::move(topic)), callbacks_(std::move(callbacks)), probe_interval_(probe_interval), partitions_(partitions) {}

std::expected<std::unique_ptr<KafkaFollower>, std::string> KafkaFollower::start(
    const KafkaOptions& options, const std::string& topic, std::vector<std::uint64_t> from, Callbacks callbacks,
    std::chrono::milliseconds probe_interval) {
  std::unique_ptr<KafkaFollower> follower(
      new KafkaFollower(topic, std::move(callbacks), probe_interval, from.size()));
  auto settings = kafka_base_config(options);
  // Never joins the group (assign(), no commits): every process reads every partition.
  settings["group.id"] = "keyledger-follower-" + crypto::to_hex(crypto::random_bytes(6));
  settings["enable.auto.commit"] = "false";
  settings["isolation.level"] = "read_committed";  // also the probes' ListOffsets
  std::string error;
  // The prober's requests give up after a second, and it learns of new leaders soon.
  auto prober_settings = settings;
  prober_settings["socket.timeout.ms"] = "1100";
  prober_settings["fetch.wait.max.ms"] = "50";  // it never fetches; librdkafka wants this below the above
  prober_settings["topic.metadata.refresh.interval.ms"] = "1000";
  auto prober_conf = make_kafka_conf(prober_settings, error);
  if (!prober_conf) return std::unexpected(error);
  follower->prober_.reset(RdKafka::KafkaConsumer::create(prober_conf.get(), error));
  if (!follower->prober_) return std::unexpected("cannot create the Kafka client that probes the topic: " + error);
  settings["enable.partition.eof"] = "true";
  settings["fetch.wait.max.ms"] = "50";             // an idle partition's new records arrive within this
  settings["queued.max.messages.kbytes"] = "4096";  // prefetched, not yet handed over: bounded
  auto conf = make_kafka_conf(settings, error);
  if (!conf) return std::unexpected(error);
  follower->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!follower->consumer_) return std::unexpected("cannot create the Kafka consumer that follows the topic: " + error);
  std::vector<RdKafka::TopicPartition*> assignment;
  const auto now = ns_of(Clock::now());
  for (std::size_t p = 0; p < from.size(); ++p) {
    assignment.push_back(RdKafka::TopicPartition::create(topic, static_cast<int32_t>(p), static_cast<int64_t>(from[p])));
    follower->partitions_[p].reached = from[p];
    follower->partitions_[p].fresh_at_ns = now;
  }
  const auto assigned = follower->consumer_->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (assigned != RdKafka::ERR_NO_ERROR) {
    return std::unexpected("cannot assign topic " + topic + "'s partitions: " + RdKafka::err2str(assigned));
  }
  follower->consumer_thread_ = std::thread([f = follower.get()] {
    name_this_thread("kl-follow");
    f->consume();
  });
  follower->prober_thread_ = std::thread([f = follower.get()] {
    name_this_thread("kl-probe");
    f->probe();
  });
  return follower;
}

KafkaFollower::~KafkaFollower() {
  stopping_ = true;
  if (consumer_thread_.joinable()) consumer_thread_.join();
  if (prober_thread_.joinable()) prober_thread_.join();
  if (consumer_) consumer_->close();
  if (prober_) prober_->close();
}

void KafkaFollower::consume() {
  auto next_idle = Clock::now();
  std::vector<std::unique_ptr<RdKafka::Message>> arrived;  // one poll's records, alive until handed over
  std::vector<std::uint64_t> reached(partitions_.size());  // where each partition's copy is after it
  while (!stopping_) {
    arrived.clear();
    std::fill(reached.begin(), reached.end(), 0);
    // Waits briefly for the first message, then takes what is already there.
    for (int timeout_ms = 100, n = 0; n < 4096 && !stopping_; timeout_ms = 0, ++n) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
      if (message->err() == RdKafka::ERR__TIMED_OUT) break;
      const auto partition = message->partition();
      if (partition < 0 || static_cast<std::size_t>(partition) >= partitions_.size()) continue;
      auto& at = reached[static_cast<std::size_t>(partition)];
      if (message->err() == RdKafka::ERR_NO_ERROR) {
        at = std::max(at, static_cast<std::uint64_t>(message->offset()) + 1);
        arrived.push_back(std::move(message));
      } else if (message->err() == RdKafka::ERR__PARTITION_EOF) {
        // The end as the fetch saw it: the last stable offset, past any transaction marker.
        at = std::max(at, static_cast<std::uint64_t>(message->offset()));
      } else {
        break;  // a transport error, said by the client's own log: try again at the next poll
      }
    }
    // Each partition's records together (a writer's cache keeps them with one write), and
    // only then the partition counts as reached that far.
    std::vector<RecordCache::Record> records;
    for (std::size_t p = 0; p < partitions_.size(); ++p) {
      records.clear();
      for (const auto& m : arrived) {
        if (static_cast<std::size_t>(m->partition()) != p) continue;
        records.push_back({static_cast<std::uint64_t>(m->offset()),
                           std::string_view(static_cast<const char*>(m->payload()), m->len())});
      }
      if (!records.empty()) callbacks_.records(static_cast<std::uint32_t>(p), records);
    }
    {
      std::lock_guard lock(mutex_);
      for (std::size_t p = 0; p < partitions_.size(); ++p) {
        if (reached[p] == 0) continue;
        partitions_[p].reached = std::max(partitions_[p].reached, reached[p]);
        settle(partitions_[p]);
      }
    }
    // What arrived is acted on now; a callback newly set, at least every probe interval.
    if (callbacks_.idle && (!arrived.empty() || Clock::now() >= next_idle)) {
      callbacks_.idle();
      next_idle = Clock::now() + probe_interval_;
    }
  }
}

void KafkaFollower::probe() {
  while (!stopping_) {
    const auto asked_at = Clock::now();
    // One ListOffsets per leader for the latest offsets, bounded as a whole (a leader that is
    // gone does not answer within the second: its partitions' probes are simply missing).
    std::vector<RdKafka::TopicPartition*> latest;
    for (std::size_t i = 0; i < partitions_.size(); ++i) {
      latest.push_back(RdKafka::TopicPartition::create(topic_, static_cast<int32_t>(i), RdKafka::Topic::OFFSET_END));
    }
    if (prober_->offsetsForTimes(latest, 1000) == RdKafka::ERR_NO_ERROR) {
      std::lock_guard lock(mutex_);
      for (const auto* answer : latest) {
        if (answer->err() != RdKafka::ERR_NO_ERROR || answer->offset() < 0) continue;  // unanswered: staleness grows
        Partition& p = partitions_[static_cast<std::size_t>(answer->partition())];
        if (p.probes.size() == kMaxProbes) p.probes.pop_front();
        p.probes.push_back(Probe{asked_at, static_cast<std::uint64_t>(answer->offset())});
        p.latest_end = std::max(p.latest_end, static_cast<std::uint64_t>(answer->offset()));
        settle(p);
      }
    }
    RdKafka::TopicPartition::destroy(latest);
    const auto next = asked_at + probe_interval_;
    while (!stopping_ && Clock::now() < next && !probe_soon_.exchange(false)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

void KafkaFollower::settle(Partition& p) {
  std::optional<Clock::time_point> fresh;
  while (!p.probes.empty() && p.probes.front().stable_end <= p.reached) {
    fresh = p.probes.front().asked_at;
    p.probes.pop_front();
  }
  if (fresh) p.fresh_at_ns.store(std::max(p.fresh_at_ns.load(std::memory_order_relaxed), ns_of(*fresh)));
}

std::chrono::milliseconds KafkaFollower::staleness(std::uint32_t partition) const {
  if (partition >= partitions_.size()) return {};
  return age_of(partitions_[partition].fresh_at_ns.load());
}

std::uint64_t KafkaFollower::lag(std::uint32_t partition) const {
  if (partition >= partitions_.size()) return 0;
  std::lock_guard lock(mutex_);
  const Partition& p = partitions_[partition];
  return p.latest_end > p.reached ? p.latest_end - p.reached : 0;
}

bool KafkaFollower::current_since(std::uint32_t partition, Clock::time_point instant) const {
  return partition < partitions_.size() && partitions_[partition].fresh_at_ns.load() >= ns_of(instant);
}

std::chrono::milliseconds KafkaFollower::staleness() const {
  if (partitions_.empty()) return {};
  std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
  for (const auto& p : partitions_) oldest = std::min(oldest, p.fresh_at_ns.load());
  return age_of(oldest);
}

}  // namespace keyledger::eventstore
