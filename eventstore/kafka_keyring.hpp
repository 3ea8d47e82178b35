// The Kafka backend's keyring storage: each record on a compacted topic, keyed by its name.
// Closing a dashboard writes a tombstone; once the log cleaner compacts the segment, the
// wrapped key is gone from the broker (crypto-shredding).
#pragma once

#include <memory>
#include <mutex>

#include "kafka_client.hpp"
#include "keyring.hpp"

namespace RdKafka {
class Producer;
}

namespace keyledger::eventstore {

class KafkaKeyringStorage final : public KeyringStorage {
 public:
  // Creates the compacted topic `<topic>-keyring` when missing; load() reads it to its end.
  static std::expected<std::unique_ptr<KafkaKeyringStorage>, std::string> open(const KafkaOptions& options);
  ~KafkaKeyringStorage() override;

  std::expected<Records, std::string> load() override;
  // Produces every record (acks=all, idempotent) and waits for all their deliveries.
  bool write(const Records& records) override;

  const std::string& topic() const { return topic_; }

 private:
  struct Delivery;
  KafkaKeyringStorage();

  KafkaOptions options_;
  std::string topic_;
  std::unique_ptr<Delivery> delivery_;  // declared before the producer, which reports to it
  std::unique_ptr<RdKafka::Producer> producer_;
  std::mutex mutex_;
};

}  // namespace keyledger::eventstore
