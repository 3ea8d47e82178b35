#include "kafka_keyring.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <set>

#include "crypto/crypto.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace {

std::string wrap_aad(const std::string& dashboard_id) { return "keyledger data key v1/" + dashboard_id; }

// Records the outcome of the one message in flight.
class DeliveryResult : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    error = message.err();
    done = true;
  }
  std::atomic<bool> done{false};
  RdKafka::ErrorCode error = RdKafka::ERR_NO_ERROR;
};

}  // namespace

struct KafkaKeyring::Delivery : DeliveryResult {};

std::expected<std::unique_ptr<KafkaKeyring>, std::string> KafkaKeyring::open(const KafkaOptions& options,
                                                                             const MasterKey& master_key) {
  std::unique_ptr<KafkaKeyring> keyring(new KafkaKeyring());
  keyring->topic_ = options.topic + "-keyring";
  keyring->kek_ = master_key.key_encryption_key();
  if (auto created = ensure_kafka_topic(options, keyring->topic_, 1,
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
  keyring->delivery_ = std::make_unique<Delivery>();
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(keyring->delivery_.get()), error);
  keyring->producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!keyring->producer_) return std::unexpected("cannot create the keyring producer: " + error);

  std::string problem;
  auto read = read_kafka_topic(options, keyring->topic_, /*read_committed=*/false, std::chrono::seconds(60),
                               [&](RdKafka::Message& m) {
                                 std::string dashboard = m.key() ? *m.key() : "";
                                 if (!m.payload()) {
                                   keyring->keys_[dashboard] = std::nullopt;  // tombstone
                                   return;
                                 }
                                 std::string wrapped(static_cast<const char*>(m.payload()), m.len());
                                 auto sealed = crypto::base64_decode(wrapped);
                                 auto key = sealed ? crypto::aes256gcm_open(keyring->kek_, *sealed, wrap_aad(dashboard))
                                                   : std::nullopt;
                                 if (!key && problem.empty()) {
                                   problem = "keyring topic " + keyring->topic_ + ": the data key of dashboard " +
                                             dashboard + " does not unwrap; is this the right master key?";
                                 }
                                 if (key) keyring->keys_[dashboard] = *key;
                               });
  if (!read) return std::unexpected(read.error());
  if (!problem.empty()) return std::unexpected(problem);
  return keyring;
}

KafkaKeyring::KafkaKeyring() = default;

KafkaKeyring::~KafkaKeyring() {
  if (producer_) producer_->flush(5000);
}

bool KafkaKeyring::write(const std::string& dashboard_id, const std::optional<std::string>& value) {
  delivery_->done = false;
  auto err = producer_->produce(topic_, 0, RdKafka::Producer::RK_MSG_COPY,
                                value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
                                dashboard_id.data(), dashboard_id.size(), 0, nullptr);
  if (err != RdKafka::ERR_NO_ERROR) return false;
  // message.timeout.ms bounds this: the report always comes, delivered or failed.
  while (!delivery_->done) producer_->poll(50);
  return delivery_->error == RdKafka::ERR_NO_ERROR;
}

std::expected<std::string, std::error_code> KafkaKeyring::data_key(const std::string& dashboard_id, bool create) {
  std::lock_guard lock(mutex_);
  if (auto it = keys_.find(dashboard_id); it != keys_.end()) {
    if (!it->second) return std::unexpected(make_error_code(StoreErrc::data_key_destroyed));
    return *it->second;
  }
  if (!create) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  std::string key = crypto::random_bytes(32);
  if (!write(dashboard_id, crypto::base64_encode(crypto::aes256gcm_seal(kek_, key, wrap_aad(dashboard_id))))) {
    return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  }
  keys_[dashboard_id] = key;
  return key;
}

std::error_code KafkaKeyring::destroy(const std::string& dashboard_id) {
  std::lock_guard lock(mutex_);
  if (!write(dashboard_id, std::nullopt)) return make_error_code(StoreErrc::keyring_unavailable);
  keys_[dashboard_id] = std::nullopt;
  return {};
}

}  // namespace keyledger::eventstore
