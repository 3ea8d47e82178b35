#include "kafka_log.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <mutex>

#include "store_error.hpp"

namespace keyledger::eventstore {

// Where each record of the transaction in flight landed, from its delivery report. Reports
// are served on the writer thread (commit_transaction flushes and polls).
class KafkaLog::DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  struct Landed {
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    RdKafka::ErrorCode error = RdKafka::ERR__STATE;
  };
  void dr_cb(RdKafka::Message& message) override {
    auto* landed = static_cast<Landed*>(message.msg_opaque());
    if (!landed) return;
    landed->partition = message.partition();
    landed->offset = message.offset();
    landed->error = message.err();
  }
};

KafkaLog::KafkaLog(KafkaOptions options) : options_(std::move(options)) {}

std::expected<std::unique_ptr<KafkaLog>, std::string> KafkaLog::open(KafkaOptions options) {
  if (options.transactional_id.empty()) options.transactional_id = "keyledger-" + options.topic;
  std::unique_ptr<KafkaLog> log(new KafkaLog(std::move(options)));
  if (auto started = log->start(); !started) return std::unexpected(started.error());
  return log;
}

void KafkaLog::note(const std::string& sentence) const {
  if (options_.report) options_.report(sentence);
}

std::expected<void, std::string> KafkaLog::start() {
  // The event stream is kept for ever: it is the system of record.
  if (auto created = ensure_kafka_topic(options_, options_.topic, options_.partitions,
                                        {{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}});
      !created) {
    return std::unexpected(created.error());
  }
  // Fences any earlier writer and settles its open transaction first, so that the topic's
  // committed end is final before we read it.
  if (auto ready = init_producer(); !ready) return std::unexpected(ready.error());
  // Asked of the producer itself, which then knows the topic's partitions before its first
  // transaction (otherwise that transaction waits for a metadata refresh).
  auto partition_count = kafka_partition_count(*producer_, options_.topic);
  if (!partition_count) return std::unexpected(partition_count.error());
  replica_.resize(static_cast<std::size_t>(*partition_count));
  std::uint64_t events = 0;
  auto read = read_kafka_topic(options_, options_.topic, /*read_committed=*/true, std::chrono::seconds(120),
                               [&](RdKafka::Message& message) {
                                 note_partition(message);
                                 auto& p = replica_.at(static_cast<std::size_t>(message.partition()));
                                 p.offsets.push_back(static_cast<std::uint64_t>(message.offset()));
                                 p.records.emplace_back(static_cast<const char*>(message.payload()), message.len());
                                 p.end = static_cast<std::uint64_t>(message.offset()) + 1;
                                 ++events;
                               });
  if (!read) return std::unexpected(read.error());
  note("read " + std::to_string(events) + " committed events from topic " + options_.topic);
  if (!placed_elsewhere_.empty()) {
    note(std::to_string(placed_elsewhere_.size()) +
         " dashboards keep the partition an earlier keyledger's partitioner gave them (not murmur2's)");
  }
  std::vector<std::uint64_t> ends;
  for (const auto& p : replica_) ends.push_back(p.end);
  auto follower = KafkaFollower::start(
      options_, options_.topic, std::move(ends),
      {.record = [this](std::uint32_t p, std::uint64_t offset, std::string_view bytes) { add_followed(p, offset, bytes); },
       .idle = [this] { deliver_arrivals(); }});
  if (!follower) return std::unexpected(follower.error());
  follower_ = std::move(*follower);
  queue_ = std::make_unique<GroupCommitQueue>(
      [this](std::span<PendingBatch> group) { return commit_group(group); },
      GroupCommitSettings{.window = options_.group_commit_window});
  return {};
}

std::expected<void, std::string> KafkaLog::init_producer() {
  auto settings = kafka_base_config(options_);
  settings["transactional.id"] = options_.transactional_id;
  settings["enable.idempotence"] = "true";
  settings["acks"] = "all";
  settings["linger.ms"] = "0";
  // Undeliverable records fail the transaction well before a command's time is up, so that
  // the abort still fits in it.
  settings["message.timeout.ms"] = std::to_string(options_.command_timeout.count() * 3 / 5);
  // Long enough to outlast a broker outage: a coordinator that times our transaction out
  // bumps the producer epoch. An abandoned transaction of a crashed instance is aborted at
  // once by the next instance's init_transactions.
  settings["transaction.timeout.ms"] = "900000";
  std::string error;
  auto conf = make_kafka_conf(settings, error);
  if (!conf) return std::unexpected(error);
  if (!delivery_) delivery_ = std::make_unique<DeliveryReports>();
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(delivery_.get()), error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) return std::unexpected("cannot create the Kafka producer: " + error);
  if (KafkaError e{producer_->init_transactions(30000)}) {
    return std::unexpected("cannot initialise Kafka transactions (transactional id " + options_.transactional_id +
                           "): " + e->str());
  }
  return {};
}

KafkaLog::~KafkaLog() {
  follower_.reset();
  queue_.reset();  // commits what is queued, then stops the writer
  if (producer_) producer_->flush(5000);
}

void KafkaLog::append(std::vector<AppendRecord> batch, AppendDone done) {
  if (batch.empty()) return done(LogPosition{});
  queue_->submit(PendingBatch{std::move(batch), std::move(done)});
}

std::error_code KafkaLog::fence(const std::string& why) {
  fenced_ = true;
  const auto code = make_error_code(StoreErrc::fenced);
  // Said first, so that the log tells why before any caller hears the refusal.
  note("fenced: this instance will not append again (" + why + "); another keyledger took transactional id " +
       options_.transactional_id);
  queue_->refuse(code);
  queue_->fail_queued(code);  // batches queued behind this group will never be written either
  return code;
}

std::expected<std::vector<LogPosition>, std::error_code> KafkaLog::commit_group(std::span<PendingBatch> group) {
  const int timeout_ms = static_cast<int>(options_.command_timeout.count());
  const auto unavailable = make_error_code(StoreErrc::log_unavailable);
  if (fenced_) return std::unexpected(make_error_code(StoreErrc::fenced));
  if (needs_producer_) {
    // A new producer with our transactional id: init_transactions settles whatever our old
    // one left open. Until it succeeds, batches fail fast.
    if (auto ready = init_producer(); !ready) {
      note("the Kafka producer is not back yet: " + ready.error());
      return std::unexpected(unavailable);
    }
    needs_producer_ = false;
    needs_abort_ = false;
    note("a new Kafka producer took over after a fatal producer error");
  }
  // A fatal error fences us for good only when another producer took our transactional id;
  // any other fatal error (e.g. a transaction state the broker lost during an outage) is
  // recovered from with a new producer before the next group.
  auto fatal = [&](const KafkaError& e) -> std::error_code {
    auto code = e->code();
    if (code == RdKafka::ERR__FENCED || code == RdKafka::ERR_PRODUCER_FENCED || code == RdKafka::ERR_INVALID_PRODUCER_EPOCH) {
      return fence(e->str());
    }
    note("the Kafka producer failed fatally (" + e->str() + "); a new one will take over");
    needs_producer_ = true;
    return unavailable;
  };
  // An abandoned transaction is never committed, so its batches are known to have failed at
  // once; the abort itself may wait for the broker, and is retried before the next begin.
  auto abandon = [&]() -> std::error_code {
    KafkaError e{producer_->abort_transaction(timeout_ms)};
    needs_abort_ = false;
    if (!e) return unavailable;
    if (e->is_fatal()) return fatal(e);
    needs_abort_ = true;
    return unavailable;
  };
  if (needs_abort_) {
    KafkaError e{producer_->abort_transaction(timeout_ms)};
    if (e && e->is_fatal()) return std::unexpected(fatal(e));
    if (e) return std::unexpected(unavailable);  // the broker is still away: fail fast
    needs_abort_ = false;
  }
  if (KafkaError e{producer_->begin_transaction()}) {
    return std::unexpected(e->is_fatal() ? fatal(e) : unavailable);
  }
  std::size_t total = 0;
  for (auto& b : group) total += b.records.size();
  std::vector<DeliveryReports::Landed> landed(total);
  std::size_t next = 0;
  for (auto& b : group) {
    for (auto& r : b.records) {
      RdKafka::Headers* headers = RdKafka::Headers::create();
      headers->add("ce_specversion", "1.0");
      headers->add("ce_id", r.event_id);
      headers->add("ce_type", r.event_type);
      headers->add("ce_source", "/keyledger/dashboards/" + r.dashboard_id);
      headers->add("ce_time", r.occurred_at);
      headers->add("content-type", "application/json");
      auto err = producer_->produce(options_.topic, static_cast<int32_t>(partition_for(r.dashboard_id)),
                                    RdKafka::Producer::RK_MSG_COPY,
                                    const_cast<char*>(r.bytes.data()), r.bytes.size(), r.dashboard_id.data(),
                                    r.dashboard_id.size(), 0, headers, &landed[next++]);
      if (err != RdKafka::ERR_NO_ERROR) {
        delete headers;
        note("cannot produce to " + options_.topic + ": " + RdKafka::err2str(err));
        return std::unexpected(abandon());
      }
    }
  }
  // Committing waits for every record's acks=all delivery (and serves the delivery
  // reports). A commit whose outcome is unknown (the broker went away mid-way) is retried
  // until it is known: answering before that could report a failure for events that later
  // turn out committed. Meanwhile new batches fail fast.
  bool stalled = false;
  std::error_code failed;
  while (true) {
    KafkaError e{producer_->commit_transaction(timeout_ms)};
    if (!e) break;
    if (e->is_fatal()) {
      failed = fatal(e);
    } else if (e->txn_requires_abort()) {
      note("a Kafka transaction was aborted: " + e->str());
      failed = abandon();
    } else if (!e->is_retriable()) {
      note("a Kafka commit failed: " + e->str());
      failed = abandon();
    } else {
      note("a Kafka commit is waiting on the broker: " + e->str());
      if (!stalled) queue_->refuse(unavailable);
      stalled = true;
      continue;
    }
    break;
  }
  if (stalled && !fenced_) queue_->allow();
  if (failed) return std::unexpected(failed);
  // Every report has come once the commit succeeded; poll for any not yet served.
  for (int i = 0; i < 100 && std::any_of(landed.begin(), landed.end(), [](auto& l) { return l.offset < 0; }); ++i) {
    producer_->poll(10);
  }
  for (auto& l : landed) {
    if (l.offset < 0 || l.partition < 0 || static_cast<std::size_t>(l.partition) >= replica_.size() ||
        l.error != RdKafka::ERR_NO_ERROR) {
      // Committed, yet we cannot say where: refuse to serve a replica with a hole in it.
      note("a committed Kafka record has no delivery report; this instance stops appending");
      return std::unexpected(fence("a committed record's position is unknown"));
    }
  }
  std::vector<LogPosition> positions;
  {
    std::unique_lock lock(replica_mutex_);
    next = 0;
    for (auto& b : group) {
      positions.push_back(LogPosition{static_cast<std::uint32_t>(landed[next].partition),
                                      static_cast<std::uint64_t>(landed[next].offset)});
      for (auto& r : b.records) {
        auto& l = landed[next++];
        auto& p = replica_[static_cast<std::size_t>(l.partition)];
        if (static_cast<std::uint64_t>(l.offset) < p.end) continue;  // the follower was first
        p.offsets.push_back(static_cast<std::uint64_t>(l.offset));
        p.records.push_back(std::move(r.bytes));
        p.end = static_cast<std::uint64_t>(l.offset) + 1;
      }
    }
  }
  return positions;
}

std::error_code KafkaLog::read(std::uint32_t partition, std::uint64_t from, std::uint64_t to,
                               const RecordVisitor& visit) {
  std::shared_lock lock(replica_mutex_);
  if (partition >= replica_.size()) return {};
  const auto& p = replica_[partition];
  auto i = static_cast<std::size_t>(std::lower_bound(p.offsets.begin(), p.offsets.end(), from) - p.offsets.begin());
  for (; i < p.offsets.size() && p.offsets[i] < to; ++i) {
    if (!visit(StoredRecord{LogPosition{partition, p.offsets[i]}, p.records[i]})) break;
  }
  return {};
}

void KafkaLog::note_partition(const RdKafka::Message& message) {
  if (!message.key_pointer() || message.partition() < 0) return;
  const std::string_view key(static_cast<const char*>(message.key_pointer()), message.key_len());
  const auto partition = static_cast<std::uint32_t>(message.partition());
  if (partition == kafka_partition(key, static_cast<std::uint32_t>(replica_.size()))) return;
  placed_elsewhere_.try_emplace(std::string(key), partition);
}

std::uint32_t KafkaLog::partition_for(const std::string& dashboard_id) const {
  if (auto it = placed_elsewhere_.find(dashboard_id); it != placed_elsewhere_.end()) return it->second;
  return kafka_partition(dashboard_id, static_cast<std::uint32_t>(replica_.size()));
}

void KafkaLog::add_followed(std::uint32_t partition, std::uint64_t offset, std::string_view bytes) {
  {
    // Most records a writer follows are its own, added when their transaction committed.
    std::shared_lock seen(replica_mutex_);
    if (offset < replica_.at(partition).end) return;
  }
  {
    std::unique_lock lock(replica_mutex_);
    auto& p = replica_.at(partition);
    if (offset < p.end) return;
    p.offsets.push_back(offset);
    p.records.emplace_back(bytes);
    p.end = offset + 1;
  }
  std::lock_guard lock(arrival_mutex_);
  arrival_due_ = true;
}

void KafkaLog::deliver_arrivals() {
  // Held while the callback runs, so that on_arrival() returns only once no call of the
  // callback it replaces is under way.
  std::lock_guard lock(arrival_mutex_);
  if (!arrival_due_ || !arrived_) return;
  arrival_due_ = false;
  arrived_();
}

void KafkaLog::on_arrival(std::function<void()> arrived) {
  std::lock_guard lock(arrival_mutex_);
  arrived_ = std::move(arrived);
  arrival_due_ = true;
}

std::chrono::milliseconds KafkaLog::staleness(std::uint32_t partition) const {
  return follower_ ? follower_->staleness(partition) : std::chrono::milliseconds{};
}

std::chrono::milliseconds KafkaLog::staleness() const {
  return follower_ ? follower_->staleness() : std::chrono::milliseconds{};
}

LogStats KafkaLog::stats() const { return queue_ ? queue_->stats() : LogStats{}; }

std::uint64_t KafkaLog::end(std::uint32_t partition) const {
  std::shared_lock lock(replica_mutex_);
  return partition < replica_.size() ? replica_[partition].end : 0;
}

}  // namespace keyledger::eventstore
