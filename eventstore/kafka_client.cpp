#include "kafka_client.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "crypto/crypto.hpp"

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

// yield_main_thread's interceptors. librdkafka copies no interceptor when it duplicates a
// configuration (the C++ API duplicates it in every create()), only what on_conf_dup adds:
// so on_conf_dup adds both again, on_new adds on_thread_start to the new client, and that
// lowers the main thread's priority as it starts.
constexpr const char* yield_interceptor = "keyledger-yield-main-thread";

rd_kafka_resp_err_t yield_on_thread_start(rd_kafka_t*, rd_kafka_thread_type_t type, const char*, void*) {
  if (type == RD_KAFKA_THREAD_MAIN) {
    // On Linux a thread's nice value is its own: `who` is the calling thread's id.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t yield_on_new(rd_kafka_t* rk, const rd_kafka_conf_t*, void*, char*, size_t) {
  return rd_kafka_interceptor_add_on_thread_start(rk, yield_interceptor, yield_on_thread_start, nullptr);
}

rd_kafka_resp_err_t add_yield_interceptors(rd_kafka_conf_t* conf);

rd_kafka_resp_err_t yield_on_conf_dup(rd_kafka_conf_t* copy, const rd_kafka_conf_t*, size_t, const char**, void*) {
  return add_yield_interceptors(copy);
}

rd_kafka_resp_err_t add_yield_interceptors(rd_kafka_conf_t* conf) {
  if (auto e = rd_kafka_conf_interceptor_add_on_conf_dup(conf, yield_interceptor, yield_on_conf_dup, nullptr)) {
    return e;
  }
  return rd_kafka_conf_interceptor_add_on_new(conf, yield_interceptor, yield_on_new, nullptr);
}

}  // namespace

void yield_main_thread(RdKafka::Conf& conf) { add_yield_interceptors(conf.c_ptr_global()); }

std::uint32_t kafka_partition(std::string_view key, std::uint32_t partitions) {
  // MurmurHash2, 32 bits, as org.apache.kafka.common.utils.Utils.murmur2 computes it.
  constexpr std::uint32_t m = 0x5bd1e995;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const std::size_t length = key.size();
  std::uint32_t h = 0x9747b28cu ^ static_cast<std::uint32_t>(length);
  for (std::size_t i = 0; i + 4 <= length; i += 4) {
    std::uint32_t k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | static_cast<std::uint32_t>(data[i + 3]) << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::size_t tail = length & ~std::size_t{3};
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return partitions == 0 ? 0 : (h & 0x7fffffffu) % partitions;
}

KafkaError::KafkaError(RdKafka::Error* e) : error(e) {}
KafkaError::~KafkaError() = default;

std::unique_ptr<RdKafka::Conf> make_kafka_conf(const std::map<std::string, std::string>& settings, std::string& error) {
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
  auto conf = make_kafka_conf(kafka_base_config(options), error);
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

std::expected<int, std::string> kafka_partition_count(RdKafka::Handle& client, const std::string& topic) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(&client, topic, nullptr, error));
  if (!handle) return std::unexpected("cannot name topic " + topic + ": " + error);
  // A topic created a moment ago may not be in every broker's metadata yet: ask again,
  // briefly, until its partitions show.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::string problem;
  do {
    RdKafka::Metadata* raw = nullptr;
    if (client.metadata(false, handle.get(), &raw, 5000) != RdKafka::ERR_NO_ERROR || !raw) {
      problem = "cannot read the metadata of topic " + topic;
      continue;
    }
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    problem = "topic " + topic + " has no partitions";
    for (auto* t : *metadata->topics()) {
      if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR && !t->partitions()->empty()) {
        return static_cast<int>(t->partitions()->size());
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::unexpected(problem);
}

std::expected<void, std::string> read_kafka_topic(const KafkaOptions& options, const std::string& topic,
                                                  bool read_committed, std::chrono::seconds timeout,
                                                  const std::function<void(RdKafka::Message&)>& visit,
                                                  const std::vector<std::uint64_t>& from) {
  std::string error;
  auto settings = kafka_base_config(options);
  settings["group.id"] = "keyledger-reader-" + crypto::to_hex(crypto::random_bytes(6));  // never joined: assign()
  settings["enable.auto.commit"] = "false";
  settings["isolation.level"] = read_committed ? "read_committed" : "read_uncommitted";
  settings["enable.partition.eof"] = "true";
  settings["auto.offset.reset"] = "earliest";  // a `from` the brokers do not hold
  // The end shows as a fetch that comes back empty: the brokers answer one at once when there
  // is data, and otherwise after this long (librdkafka's default, 500 ms, was most of a start).
  settings["fetch.wait.max.ms"] = "10";
  auto conf = make_kafka_conf(settings, error);
  if (!conf) return std::unexpected(error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) return std::unexpected("cannot create a Kafka consumer: " + error);
  auto partition_count = kafka_partition_count(*consumer, topic);
  if (!partition_count) return std::unexpected(partition_count.error());
  std::vector<RdKafka::TopicPartition*> partitions;
  std::set<int32_t> open;
  for (int p = 0; p < *partition_count; ++p) {
    const auto start = static_cast<std::size_t>(p) < from.size() ? static_cast<std::int64_t>(from[static_cast<std::size_t>(p)])
                                                                 : RdKafka::Topic::OFFSET_BEGINNING;
    partitions.push_back(RdKafka::TopicPartition::create(topic, p, start));
    open.insert(p);
  }
  consumer->assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!open.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      consumer->close();
      return std::unexpected("reading topic " + topic + " to its end took over " + std::to_string(timeout.count()) + " s");
    }
    std::unique_ptr<RdKafka::Message> message(consumer->consume(500));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        visit(*message);
        break;
      case RdKafka::ERR__PARTITION_EOF:
        open.erase(message->partition());
        break;
      case RdKafka::ERR__TIMED_OUT:
        break;
      default:
        consumer->close();
        return std::unexpected("reading topic " + topic + ": " + message->errstr());
    }
  }
  consumer->close();
  return {};
}

}  // namespace keyledger::eventstore
