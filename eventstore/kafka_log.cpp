#include "kafka_log.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "crypto.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace {

// librdkafka's own log lines and errors, as the one-JSON-object-per-line logs of keyledger.
class JsonLogEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    const char* level = nullptr;
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      level = event.fatal() ? "error" : "warn";
    } else if (event.type() == RdKafka::Event::EVENT_LOG) {
      level = event.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR     ? "error"
              : event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING ? "warn"
                                                                            : "info";
    }
    if (!level) return;
    nlohmann::json line{{"level", level}, {"msg", "kafka client"}, {"detail", event.str()}};
    if (event.type() == RdKafka::Event::EVENT_LOG) line["facility"] = event.fac();
    std::cerr << line.dump() + "\n" << std::flush;
  }
};

std::unique_ptr<RdKafka::Conf> make_conf(const std::map<std::string, std::string>& settings, std::string& error) {
  static JsonLogEvents json_log_events;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (auto& [k, v] : settings) {
    if (conf->set(k, v, error) != RdKafka::Conf::CONF_OK) {
      error = "Kafka setting " + k + ": " + error;
      return nullptr;
    }
  }
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&json_log_events), error);
  return conf;
}

}  // namespace

std::unique_ptr<RdKafka::Conf> make_kafka_conf(const std::map<std::string, std::string>& settings, std::string& error) {
  return make_conf(settings, error);
}

namespace {

// Owns an RdKafka::Error* and says whether it is one.
struct ErrorHolder {
  std::unique_ptr<RdKafka::Error> error;
  explicit ErrorHolder(RdKafka::Error* e) : error(e) {}
  explicit operator bool() const { return error != nullptr; }
  RdKafka::Error* operator->() const { return error.get(); }
};

}  // namespace

std::expected<KafkaOptions, std::string> parse_kafka_url(const std::string& url) {
  const std::string scheme = "kafka://";
  if (url.rfind(scheme, 0) != 0) return std::unexpected("a Kafka store is kafka://HOST:PORT[,HOST:PORT]/TOPIC");
  auto slash = url.find('/', scheme.size());
  if (slash == std::string::npos || slash + 1 >= url.size() || slash == scheme.size()) {
    return std::unexpected("a Kafka store is kafka://HOST:PORT[,HOST:PORT]/TOPIC, got " + url);
  }
  KafkaOptions options;
  options.brokers = url.substr(scheme.size(), slash - scheme.size());
  options.topic = url.substr(slash + 1);
  for (char c : options.topic) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return std::unexpected("a Kafka topic name is made of A-Z a-z 0-9 . _ -, got " + options.topic);
    }
  }
  return options;
}

std::map<std::string, std::string> kafka_base_config(const KafkaOptions& options) {
  std::map<std::string, std::string> config{{"bootstrap.servers", options.brokers}, {"client.id", "keyledger"}};
  for (auto& [k, v] : options.client_config) config[k] = v;
  return config;
}

std::expected<void, std::string> ensure_kafka_topic(const KafkaOptions& options, const std::string& topic,
                                                    int partitions, const std::map<std::string, std::string>& configs) {
  std::string error;
  auto conf = make_conf(kafka_base_config(options), error);
  if (!conf) return std::unexpected(error);
  std::unique_ptr<RdKafka::Producer> admin(RdKafka::Producer::create(conf.get(), error));
  if (!admin) return std::unexpected("cannot create a Kafka client: " + error);
  rd_kafka_t* rk = admin->c_ptr();
  char errstr[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, options.replication, errstr, sizeof errstr);
  if (!new_topic) return std::unexpected(std::string("invalid topic settings: ") + errstr);
  for (auto& [k, v] : configs) rd_kafka_NewTopic_set_config(new_topic, k.c_str(), v.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* admin_options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(admin_options, 15000, errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, &new_topic, 1, admin_options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 20000);
  std::string problem;
  if (!event) {
    problem = "the Kafka brokers at " + options.brokers + " did not answer within 20 s";
  } else if (rd_kafka_event_error(event)) {
    problem = std::string("cannot create topic ") + topic + ": " + rd_kafka_event_error_string(event);
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        problem = std::string("cannot create topic ") + topic + ": " + rd_kafka_topic_result_error_string(results[i]);
      }
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(admin_options);
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_queue_destroy(queue);
  if (!problem.empty()) return std::unexpected(problem);
  return {};
}

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
  if (auto ready = init_producer(); !ready) return std::unexpected(ready.error());

  // Read the whole topic, committed records only, into the local replica.
  std::string error;
  auto consumer_settings = kafka_base_config(options_);
  consumer_settings["group.id"] = "keyledger-replay-" + crypto::to_hex(crypto::random_bytes(6));
  consumer_settings["enable.auto.commit"] = "false";
  consumer_settings["isolation.level"] = "read_committed";
  consumer_settings["enable.partition.eof"] = "true";
  consumer_settings["auto.offset.reset"] = "earliest";
  auto consumer_conf = make_conf(consumer_settings, error);
  if (!consumer_conf) return std::unexpected(error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(consumer_conf.get(), error));
  if (!consumer) return std::unexpected("cannot create the Kafka consumer: " + error);
  RdKafka::Metadata* raw_metadata = nullptr;
  std::unique_ptr<RdKafka::Topic> topic_handle(RdKafka::Topic::create(producer_.get(), options_.topic, nullptr, error));
  if (producer_->metadata(false, topic_handle.get(), &raw_metadata, 15000) != RdKafka::ERR_NO_ERROR || !raw_metadata) {
    return std::unexpected("cannot read the metadata of topic " + options_.topic);
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (auto* t : *metadata->topics()) {
    if (t->topic() != options_.topic) continue;
    for (auto* p : *t->partitions()) {
      partitions.push_back(RdKafka::TopicPartition::create(options_.topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  if (partitions.empty()) return std::unexpected("topic " + options_.topic + " has no partitions");
  std::set<int32_t> open_partitions;
  for (auto* p : partitions) open_partitions.insert(p->partition());
  consumer->assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!open_partitions.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return std::unexpected("reading topic " + options_.topic + " to its end took over 120 s");
    }
    std::unique_ptr<RdKafka::Message> message(consumer->consume(500));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        replica_.emplace_back(static_cast<const char*>(message->payload()), message->len());
        break;
      case RdKafka::ERR__PARTITION_EOF:
        open_partitions.erase(message->partition());
        break;
      case RdKafka::ERR__TIMED_OUT:
        break;
      default:
        return std::unexpected("reading topic " + options_.topic + ": " + message->errstr());
    }
  }
  consumer->close();
  note("read " + std::to_string(replica_.size()) + " committed events from topic " + options_.topic);
  writer_ = std::thread([this] { writer_loop(); });
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
  auto conf = make_conf(settings, error);
  if (!conf) return std::unexpected(error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) return std::unexpected("cannot create the Kafka producer: " + error);
  // Fences any earlier instance with this transactional id and settles its open transaction,
  // so that the topic's committed end is final before we read it.
  if (ErrorHolder e{producer_->init_transactions(30000)}) {
    return std::unexpected("cannot initialise Kafka transactions (transactional id " + options_.transactional_id +
                           "): " + e->str());
  }
  return {};
}

KafkaLog::~KafkaLog() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (producer_) producer_->flush(5000);
}

bool KafkaLog::fenced() const {
  auto* self = const_cast<KafkaLog*>(this);
  std::lock_guard lock(self->queue_mutex_);
  return fenced_;
}

std::expected<std::uint64_t, std::error_code> KafkaLog::append(std::span<const AppendRecord> batch) {
  if (batch.empty()) return end();
  auto pending = std::make_unique<Pending>();
  pending->records.assign(batch.begin(), batch.end());
  auto result = pending->done.get_future();
  {
    std::lock_guard lock(queue_mutex_);
    if (fenced_) return std::unexpected(make_error_code(StoreErrc::fenced));
    if (stalled_) return std::unexpected(make_error_code(StoreErrc::log_unavailable));  // fail fast
    if (stopping_) return std::unexpected(make_error_code(StoreErrc::log_unavailable));
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return result.get();
}

void KafkaLog::writer_loop() {
  while (true) {
    std::deque<std::unique_ptr<Pending>> group;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      group.swap(queue_);
    }
    if (auto ec = commit_group(group)) {
      for (auto& p : group) p->done.set_value(std::unexpected(ec));
      continue;
    }
    batches_.fetch_add(group.size(), std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t first;
    {
      std::unique_lock lock(replica_mutex_);
      first = replica_.size();
      for (auto& p : group) {
        for (auto& r : p->records) replica_.push_back(r.bytes);
      }
    }
    for (auto& p : group) {
      p->done.set_value(first);
      first += p->records.size();
    }
  }
}

std::error_code KafkaLog::commit_group(std::deque<std::unique_ptr<Pending>>& group) {
  const int timeout_ms = static_cast<int>(options_.command_timeout.count());
  if (needs_producer_) {
    // A new producer with our transactional id: init_transactions settles whatever our old
    // one left open. Until it succeeds, batches fail fast.
    if (auto ready = init_producer(); !ready) {
      note("the Kafka producer is not back yet: " + ready.error());
      return make_error_code(StoreErrc::log_unavailable);
    }
    needs_producer_ = false;
    needs_abort_ = false;
    note("a new Kafka producer took over after a fatal producer error");
  }
  auto fence = [&](const std::string& why) {
    {
      std::lock_guard lock(queue_mutex_);
      fenced_ = true;
      // Batches queued behind this one will never be written either.
      for (auto& p : queue_) p->done.set_value(std::unexpected(make_error_code(StoreErrc::fenced)));
      queue_.clear();
    }
    note("fenced: this instance will not append again (" + why + "); another keyledger took transactional id " +
         options_.transactional_id);
    return make_error_code(StoreErrc::fenced);
  };
  // A fatal error fences us for good only when another producer took our transactional id;
  // any other fatal error (e.g. a transaction state the broker lost during an outage) is
  // recovered from with a new producer before the next batch.
  auto fatal = [&](const ErrorHolder& e) -> std::error_code {
    auto code = e->code();
    if (code == RdKafka::ERR__FENCED || code == RdKafka::ERR_PRODUCER_FENCED ||
        code == RdKafka::ERR_INVALID_PRODUCER_EPOCH) {
      return fence(e->str());
    }
    note("the Kafka producer failed fatally (" + e->str() + "); a new one will take over");
    needs_producer_ = true;
    return make_error_code(StoreErrc::log_unavailable);
  };
  // An abandoned transaction is never committed, so its batches are known to have failed at
  // once; the abort itself may wait for the broker, and is retried before the next begin.
  auto abandon = [&]() -> std::error_code {
    ErrorHolder e{producer_->abort_transaction(timeout_ms)};
    needs_abort_ = false;
    if (!e) return make_error_code(StoreErrc::log_unavailable);
    if (e->is_fatal()) return fatal(e);
    needs_abort_ = true;
    return make_error_code(StoreErrc::log_unavailable);
  };
  if (needs_abort_) {
    ErrorHolder e{producer_->abort_transaction(timeout_ms)};
    if (e && e->is_fatal()) return fatal(e);
    if (e) return make_error_code(StoreErrc::log_unavailable);  // the broker is still away: fail fast
    needs_abort_ = false;
  }
  if (ErrorHolder e{producer_->begin_transaction()}) {
    if (e->is_fatal()) return fatal(e);
    return make_error_code(StoreErrc::log_unavailable);
  }
  for (auto& p : group) {
    for (auto& r : p->records) {
      RdKafka::Headers* headers = RdKafka::Headers::create();
      headers->add("ce_specversion", "1.0");
      headers->add("ce_id", r.event_id);
      headers->add("ce_type", r.event_type);
      headers->add("ce_source", "/keyledger/dashboards/" + r.dashboard_id);
      headers->add("ce_time", r.occurred_at);
      headers->add("content-type", "application/json");
      auto err = producer_->produce(options_.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                    const_cast<char*>(r.bytes.data()), r.bytes.size(), r.dashboard_id.data(),
                                    r.dashboard_id.size(), 0, headers, nullptr);
      if (err != RdKafka::ERR_NO_ERROR) {
        delete headers;
        note("cannot produce to " + options_.topic + ": " + RdKafka::err2str(err));
        return abandon();
      }
    }
  }
  // Committing waits for every record's acks=all delivery. A commit whose outcome is
  // unknown (the broker went away mid-way) is retried until it is known: answering before
  // that could report a failure for events that later turn out committed.
  struct Unstall {
    KafkaLog& log;
    ~Unstall() {
      std::lock_guard lock(log.queue_mutex_);
      log.stalled_ = false;
    }
  } unstall{*this};
  while (true) {
    ErrorHolder e{producer_->commit_transaction(timeout_ms)};
    if (!e) return {};
    if (e->is_fatal()) return fatal(e);
    if (e->txn_requires_abort()) {
      note("a Kafka transaction was aborted: " + e->str());
      return abandon();
    }
    if (!e->is_retriable()) {
      note("a Kafka commit failed: " + e->str());
      return abandon();
    }
    note("a Kafka commit is waiting on the broker: " + e->str());
    std::lock_guard lock(queue_mutex_);
    stalled_ = true;
  }
}

std::error_code KafkaLog::read(std::uint64_t from, const std::function<bool(const StoredRecord&)>& visit) {
  std::shared_lock lock(replica_mutex_);
  for (std::uint64_t p = from; p < replica_.size(); ++p) {
    if (!visit(StoredRecord{p, replica_[p]})) break;
  }
  return {};
}

LogStats KafkaLog::stats() const {
  return LogStats{batches_.load(std::memory_order_relaxed), commits_.load(std::memory_order_relaxed)};
}

std::uint64_t KafkaLog::end() const {
  std::shared_lock lock(replica_mutex_);
  return replica_.size();
}

}  // namespace keyledger::eventstore
