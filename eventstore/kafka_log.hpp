// The Kafka backend of the event log (SPEC §6): one topic, message key = dashboard id (so
// each dashboard's events stay ordered in one partition), CloudEvents 1.0 binary-mode
// headers, and a transactional, idempotent producer with acks=all whose transactional id
// fences any other writer. Each group of waiting batches is one transaction; a batch is
// acknowledged only after its transaction committed.
//
// Positions: the process keeps a local replica of the topic, read to its end with
// read_committed at start-up and extended by every committed transaction; a position is
// an index into that replica (its order keeps every partition's order, hence every
// dashboard's). The replica holds every event's bytes in memory.
//
// Threading: append() from any thread; one writer thread owns the producer's transactions.
#pragma once

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <expected>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "event_log.hpp"

namespace RdKafka {
class Conf;
class Producer;
}

namespace keyledger::eventstore {

struct KafkaOptions {
  std::string brokers;  // "host:port[,host:port]"
  std::string topic;
  int partitions = 3;
  int replication = 1;
  std::string transactional_id;                    // default: "keyledger-" + topic
  std::map<std::string, std::string> client_config;  // passed to librdkafka (security.protocol, sasl.*, ssl.*)
  std::chrono::milliseconds command_timeout{5000};  // how long a command may wait on the broker
  std::function<void(const std::string&)> report;   // one sentence per note
};

// Parses "kafka://HOST:PORT[,HOST:PORT]/TOPIC".
std::expected<KafkaOptions, std::string> parse_kafka_url(const std::string& url);

// librdkafka settings shared by the log and the keyring: brokers plus pass-through config.
std::map<std::string, std::string> kafka_base_config(const KafkaOptions& options);

// A librdkafka configuration of `settings` whose client logs as JSON lines on stderr;
// nullptr (and `error`) when a setting is refused.
std::unique_ptr<RdKafka::Conf> make_kafka_conf(const std::map<std::string, std::string>& settings, std::string& error);

// Creates `topic` when missing (partitions, replication, `configs`); an error sentence otherwise.
std::expected<void, std::string> ensure_kafka_topic(const KafkaOptions& options, const std::string& topic,
                                                    int partitions,
                                                    const std::map<std::string, std::string>& configs);

class KafkaLog final : public EventLog {
 public:
  // Creates the topic when missing, initialises the transactional producer (fencing any
  // earlier instance with the same transactional id) and reads the topic to its end.
  static std::expected<std::unique_ptr<KafkaLog>, std::string> open(KafkaOptions options);
  ~KafkaLog() override;

  std::expected<std::uint64_t, std::error_code> append(std::span<const AppendRecord> batch) override;
  std::error_code read(std::uint64_t from, const std::function<bool(const StoredRecord&)>& visit) override;
  std::uint64_t end() const override;
  LogStats stats() const override;

  bool fenced() const;

 private:
  struct Pending {
    std::vector<AppendRecord> records;
    std::promise<std::expected<std::uint64_t, std::error_code>> done;
  };

  explicit KafkaLog(KafkaOptions options);
  std::expected<void, std::string> start();
  // Creates the transactional producer and initialises its transactions (fencing older
  // instances). Also used to recover from a fatal producer error that was not a fence.
  std::expected<void, std::string> init_producer();
  void writer_loop();
  // One transaction for every queued batch; the definitive outcome for each.
  std::error_code commit_group(std::deque<std::unique_ptr<Pending>>& group);
  void note(const std::string& sentence) const;

  KafkaOptions options_;
  std::unique_ptr<RdKafka::Producer> producer_;

  mutable std::shared_mutex replica_mutex_;
  std::vector<std::string> replica_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Pending>> queue_;
  bool stopping_ = false;
  bool fenced_ = false;   // another instance took the transactional id: never append again
  bool stalled_ = false;  // a commit's outcome is unknown until the broker answers: refuse new batches
  bool needs_abort_ = false;  // an abandoned transaction still to be aborted (writer thread only)
  bool needs_producer_ = false;  // the producer failed fatally without being fenced: make a new one
  std::atomic<std::uint64_t> batches_{0}, commits_{0};
  std::thread writer_;
};

}  // namespace keyledger::eventstore
