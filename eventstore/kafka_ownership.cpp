#include "kafka_ownership.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "thread_name.hpp"

namespace keyledger::eventstore {

// librdkafka calls it from within consume() (and close()) on the polling thread.
class KafkaOwnership::Rebalance : public RdKafka::RebalanceCb {
 public:
  explicit Rebalance(KafkaOwnership& ownership) : ownership_(ownership) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    std::vector<std::uint32_t> ids;
    for (const auto* tp : partitions) ids.push_back(static_cast<std::uint32_t>(tp->partition()));
    std::sort(ids.begin(), ids.end());
    ownership_.rebalances_.fetch_add(1);
    ownership_.last_change_.store(std::chrono::steady_clock::now().time_since_epoch().count());
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      KafkaError assigned{consumer->incremental_assign(partitions)};
      consumer->pause(partitions);  // the follower reads them; this consumer only holds them
      if (!ids.empty()) ownership_.callbacks_.gained(ids);
      ownership_.last_change_.store(std::chrono::steady_clock::now().time_since_epoch().count());
      std::lock_guard lock(ownership_.mutex_);
      ownership_.first_done_ = true;
      ownership_.assigned_.notify_all();
    } else {
      // Let go before the group gives them to someone else.
      if (!ids.empty()) ownership_.callbacks_.lost(ids, consumer->assignment_lost());
      KafkaError unassigned{consumer->incremental_unassign(partitions)};
    }
  }

 private:
  KafkaOwnership& ownership_;
};

KafkaOwnership::KafkaOwnership(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

std::expected<std::unique_ptr<KafkaOwnership>, std::string> KafkaOwnership::join(
    const KafkaOptions& options, const std::string& topic, const std::string& group_id, Callbacks callbacks,
    std::chrono::milliseconds first_assignment) {
  std::unique_ptr<KafkaOwnership> ownership(new KafkaOwnership(std::move(callbacks)));
  auto settings = kafka_base_config(options);
  const auto session_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.group_session_timeout).count();
  settings["group.id"] = group_id;
  settings["partition.assignment.strategy"] = "cooperative-sticky";
  settings["session.timeout.ms"] = std::to_string(session_ms);
  settings["heartbeat.interval.ms"] = std::to_string(std::min<long long>(500, session_ms / 3));
  settings["enable.auto.commit"] = "false";
  settings["enable.auto.offset.store"] = "false";
  std::string error;
  auto conf = make_kafka_conf(settings, error);
  if (!conf) return std::unexpected(error);
  ownership->rebalance_ = std::make_unique<Rebalance>(*ownership);
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(ownership->rebalance_.get()), error) !=
      RdKafka::Conf::CONF_OK) {
    return std::unexpected(error);
  }
  ownership->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!ownership->consumer_) return std::unexpected("cannot create the Kafka consumer of the owners' group: " + error);
  if (auto err = ownership->consumer_->subscribe({topic}); err != RdKafka::ERR_NO_ERROR) {
    return std::unexpected("cannot join the owners' group " + group_id + ": " + RdKafka::err2str(err));
  }
  ownership->thread_ = std::thread([o = ownership.get()] {
    name_this_thread("kl-owners");
    o->poll();
  });
  const auto deadline = std::chrono::steady_clock::now() + first_assignment;
  std::unique_lock lock(ownership->mutex_);
  while (!ownership->first_done_ && std::chrono::steady_clock::now() < deadline &&
         !(options.stopping && options.stopping())) {
    ownership->assigned_.wait_for(lock, std::chrono::milliseconds(10));
  }
  return ownership;
}

KafkaOwnership::~KafkaOwnership() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (!consumer_) return;
  // librdkafka 2.0.2 closing a cooperative member that holds no partition skips the
  // LeaveGroup (it is sent on the way to rejoining, which a closing consumer skips): the group
  // then waits for it until its session times out, and a rebalance under way (one that would
  // give partitions to this process, or move them between the others) with it. Unsubscribing
  // first takes the path that sends it.
  std::vector<RdKafka::TopicPartition*> held;
  if (!withdrawn_ && consumer_->assignment(held) == RdKafka::ERR_NO_ERROR && held.empty()) consumer_->unsubscribe();
  RdKafka::TopicPartition::destroy(held);
  // Revokes every partition through the callback, then leaves the group.
  consumer_->close();
}

void KafkaOwnership::poll() {
  while (!stopping_) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    if (callbacks_.tick) callbacks_.tick();
    if (!withdrawn_ && callbacks_.withdraw && callbacks_.withdraw()) {
      withdrawn_ = true;
      consumer_->unsubscribe();  // revokes what it holds (through the callback), then leaves
    }
  }
}

}  // namespace keyledger::eventstore
