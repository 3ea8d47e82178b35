#include "kafka_keyring.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>

namespace keyledger::eventstore {

// Counts the deliveries of the records in flight and remembers the first failure.
struct KafkaKeyringStorage::Delivery : RdKafka::DeliveryReportCb {
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) failed = true;
    --in_flight;
  }
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> failed{false};
};

KafkaKeyringStorage::KafkaKeyringStorage() = default;

std::expected<std::unique_ptr<KafkaKeyringStorage>, std::string> KafkaKeyringStorage::open(const KafkaOptions& options) {
  std::unique_ptr<KafkaKeyringStorage> storage(new KafkaKeyringStorage());
  storage->options_ = options;
  storage->topic_ = options.topic + "-keyring";
  if (auto created = ensure_kafka_topic(options, storage->topic_, 1,
                                        {{"cleanup.policy", "compact"},
                                         {"min.cleanable.dirty.ratio", "0.01"},
                                         {"segment.ms", "60000"},
                                         {"delete.retention.ms", "60000"}});
      !created) {
    return std::unexpected(created.error());
  }
  std::string error;
  auto settings = kafka_base_config(options);
  settings["enable.idempotence"] = "true";
  settings["acks"] = "all";
  settings["message.timeout.ms"] = std::to_string(options.command_timeout.count());
  auto conf = make_kafka_conf(settings, error);
  if (!conf) return std::unexpected(error);
  storage->delivery_ = std::make_unique<Delivery>();
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(storage->delivery_.get()), error);
  storage->producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!storage->producer_) return std::unexpected("cannot create the keyring producer: " + error);
  return storage;
}

KafkaKeyringStorage::~KafkaKeyringStorage() {
  if (producer_) producer_->flush(5000);
}

std::expected<KeyringStorage::Records, std::string> KafkaKeyringStorage::load() {
  Records records;
  auto read = read_kafka_topic(options_, topic_, /*read_committed=*/false, std::chrono::seconds(60),
                               [&](RdKafka::Message& m) {
                                 std::string name = m.key() ? *m.key() : "";
                                 records[name] = m.payload() ? std::optional<std::string>(std::string(
                                                                   static_cast<const char*>(m.payload()), m.len()))
                                                             : std::nullopt;
                               });
  if (!read) return std::unexpected(read.error());
  return records;
}

bool KafkaKeyringStorage::write(const Records& records) {
  std::lock_guard lock(mutex_);
  delivery_->failed = false;
  for (const auto& [name, value] : records) {
    ++delivery_->in_flight;
    auto err = producer_->produce(topic_, 0, RdKafka::Producer::RK_MSG_COPY,
                                  value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
                                  name.data(), name.size(), 0, nullptr);
    if (err != RdKafka::ERR_NO_ERROR) {
      --delivery_->in_flight;
      delivery_->failed = true;
      break;
    }
  }
  // message.timeout.ms bounds this: every report comes, delivered or failed.
  while (delivery_->in_flight > 0) producer_->poll(50);
  return !delivery_->failed;
}

}  // namespace keyledger::eventstore
