// The Kafka backend's keyring: each dashboard's wrapped data key is a record on a compacted
// topic, keyed by dashboard id. Closing a dashboard writes a tombstone; once the log cleaner
// compacts the segment, the wrapped key is gone from the broker (crypto-shredding).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "kafka_client.hpp"
#include "keyring.hpp"
#include "master_key.hpp"

namespace RdKafka {
class Producer;
}

namespace keyledger::eventstore {

class KafkaKeyring final : public Keyring {
 public:
  // Creates the compacted topic `<topic>-keyring` when missing and reads it to its end.
  static std::expected<std::unique_ptr<KafkaKeyring>, std::string> open(const KafkaOptions& options,
                                                                        const MasterKey& master_key);
  ~KafkaKeyring() override;

  std::expected<std::string, std::error_code> data_key(const std::string& dashboard_id, bool create) override;
  std::error_code destroy(const std::string& dashboard_id) override;

  const std::string& topic() const { return topic_; }

 private:
  struct Delivery;
  KafkaKeyring();
  // Produces one record (nullopt value: a tombstone) and waits for its acks=all delivery.
  bool write(const std::string& dashboard_id, const std::optional<std::string>& value);

  std::string topic_;
  std::string kek_;
  std::unique_ptr<Delivery> delivery_;  // declared before the producer, which reports to it
  std::unique_ptr<RdKafka::Producer> producer_;
  std::mutex mutex_;
  std::map<std::string, std::optional<std::string>> keys_;  // unwrapped; nullopt: destroyed
};

}  // namespace keyledger::eventstore
