// What the Kafka backend's parts (the log, the keyring) share of librdkafka: the store URL
// and options, client configuration whose own log lines come out as keyledger's JSON lines,
// topic creation, and reading a topic to its end.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <string_view>

namespace RdKafka {
class Conf;
class Error;
class Handle;
class Message;
}  // namespace RdKafka

namespace keyledger::eventstore {

struct KafkaOptions {
  std::string brokers;  // "host:port[,host:port]"
  std::string topic;
  int partitions = 3;
  int replication = 1;
  std::string transactional_id;                      // default: "keyledger-" + topic; partition N's writer adds "-pN"
  bool join_group = false;                           // cluster: write the partitions the owners' group assigns
  std::chrono::seconds group_session_timeout{6};     // the owners' group's session timeout
  std::map<std::string, std::string> client_config;  // passed to librdkafka (security.protocol, sasl.*, ssl.*)
  std::chrono::milliseconds command_timeout{5000};   // how long a command may wait on the broker
  std::chrono::microseconds group_commit_window{0};  // see GroupCommitSettings::window
  std::string replica_directory;                     // the replica kept across restarts (replica_directory.hpp); empty: none
  std::function<void(const std::string&)> report;    // one sentence per note
  // True once the process is asked to stop while it opens the store (keyledger serve's
  // SIGTERM): it then stops waiting to be given partitions, so that it can leave the owners'
  // group at once instead of holding what it was given until its session times out.
  std::function<bool()> stopping;
};

// Parses "kafka://HOST:PORT[,HOST:PORT]/TOPIC".
std::expected<KafkaOptions, std::string> parse_kafka_url(const std::string& url);

// The partition Kafka's Java clients (and librdkafka's murmur2_random) give a message key:
// murmur2 of its bytes, made positive, modulo the partition count (SPEC §10), so that every
// keyledger process and every other Kafka client agrees where a dashboard's events are.
std::uint32_t kafka_partition(std::string_view key, std::uint32_t partitions);

// librdkafka settings every client of the store starts from: brokers plus pass-through config.
std::map<std::string, std::string> kafka_base_config(const KafkaOptions& options);

// A librdkafka configuration of `settings` whose client logs as JSON lines on stderr;
// nullptr (and `error`) when a setting is refused.
std::unique_ptr<RdKafka::Conf> make_kafka_conf(const std::map<std::string, std::string>& settings, std::string& error);

// Makes the main thread of every client created from `conf` yield to the process's other
// threads (nice 10). For transactional producers: librdkafka 2.0.2's main thread busy-waits
// for up to a millisecond before each timer that is due in less than one (fixed upstream in
// 2.3.1, confluentinc/librdkafka#4671), and a transaction arms two 1 ms timers (registering
// its partitions with the coordinator). With a transaction every few milliseconds per
// partition, those waits took a fifth of a core per producer from the threads that decide
// commands and from the brokers. At nice 10 the wait mostly runs on CPU left over, while the
// thread's real work — it drives every step of a commit — keeps enough of a share when cores
// are saturated. nice 19 (the first choice) starved it: with both cores busy hashing
// passwords, commits sat in `BeginCommit` for seconds, past the command timeout, and
// commands failed 503 (two bench seeders at once on one broker: 503s in 3 runs of 3 at
// nice 19, 1 of 15 at nice 10, 2 of 9 at nice 0). Under the bench's command load nice 10 and
// 19 gave the same commands/s, nice 0 a fifth fewer. Threads the main thread starts inherit
// the value (seen: librdkafka's internal broker thread, which holds partitions without a
// leader). Not for consumers of a group, whose main thread also keeps their session alive.
// Best effort: a client whose interceptor cannot be added runs as before.
void yield_main_thread(RdKafka::Conf& conf);

// Creates `topic` when missing (partitions, replication, `configs`); an error sentence otherwise.
std::expected<void, std::string> ensure_kafka_topic(const KafkaOptions& options, const std::string& topic,
                                                    int partitions,
                                                    const std::map<std::string, std::string>& configs);

// The partitions `topic` has, from the brokers' metadata as `client` sees it (which caches
// it); an error sentence otherwise. A topic created a moment ago is waited for, briefly.
std::expected<int, std::string> kafka_partition_count(RdKafka::Handle& client, const std::string& topic);

// Reads every partition of `topic` from `from[partition]` (the beginning when `from` has no
// such entry; also when the brokers hold no such offset) to its end as of the call (committed
// records only when `read_committed`), calling `visit` for each record in each partition's
// order; an error sentence when the brokers fail or `timeout` passes first.
std::expected<void, std::string> read_kafka_topic(const KafkaOptions& options, const std::string& topic,
                                                  bool read_committed, std::chrono::seconds timeout,
                                                  const std::function<void(RdKafka::Message&)>& visit,
                                                  const std::vector<std::uint64_t>& from = {});

// Owns an RdKafka::Error* and says whether there is one.
struct KafkaError {
  std::unique_ptr<RdKafka::Error> error;
  explicit KafkaError(RdKafka::Error* e);
  ~KafkaError();
  explicit operator bool() const { return error != nullptr; }
  RdKafka::Error* operator->() const { return error.get(); }
};

}  // namespace keyledger::eventstore
