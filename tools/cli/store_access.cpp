#include "store_access.hpp"

#include <unistd.h>

#include <cctype>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>

extern char** environ;

namespace keyledger::cli {

namespace es = keyledger::eventstore;

void log_line(const nlohmann::json& line) { std::cerr << line.dump() + "\n" << std::flush; }

OptionSet store_options() {
  OptionSet options("store");
  options.text("store", "STORE", "where the events are kept: file:DIR, or kafka://HOST:PORT[,HOST:PORT]/TOPIC", "file:./keyledger-data")
      .text("master-key-file", "FILE", "the master key (required; see `keyledger keygen`)")
      .text("kafka-transactional-id", "ID",
            "default keyledger-TOPIC; partition N is written with ID-pN, and whoever takes it next fences the "
            "previous writer")
      .number("kafka-partitions", "N", "partitions of the topic when keyledger creates it", 3)
      .number("kafka-replication", "N", "replication factor of the topic when keyledger creates it", 1);
  return options;
}

namespace {
// KEYLEDGER_KAFKA_<SETTING> variables pass librdkafka settings through, e.g.
// KEYLEDGER_KAFKA_SECURITY_PROTOCOL=SASL_SSL becomes security.protocol=SASL_SSL.
std::map<std::string, std::string> kafka_settings_from_environment() {
  std::map<std::string, std::string> settings;
  const std::set<std::string> ours{"KEYLEDGER_KAFKA_TRANSACTIONAL_ID", "KEYLEDGER_KAFKA_PARTITIONS",
                                   "KEYLEDGER_KAFKA_REPLICATION", "KEYLEDGER_GROUP_SESSION_TIMEOUT"};
  for (char** env = environ; *env; ++env) {
    std::string entry(*env);
    auto eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    if (name.rfind("KEYLEDGER_KAFKA_", 0) != 0 || ours.contains(name)) continue;
    std::string key = name.substr(16);
    for (auto& c : key) c = c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    settings[key] = entry.substr(eq + 1);
  }
  return settings;
}
}  // namespace

es::StoreOptions kafka_aware_options() {
  es::StoreOptions options;
  options.kafka_settings = kafka_settings_from_environment();
  options.report = [](const std::string& note) { log_line({{"level", "warn"}, {"msg", "store"}, {"detail", note}}); };
  return options;
}

std::unique_ptr<es::Store> open_store(const Invocation& invocation, bool use_snapshots, std::function<bool()> stopping) {
  es::StoreOptions options = kafka_aware_options();
  options.use_snapshots = use_snapshots;
  options.stopping = std::move(stopping);
  options.kafka_transactional_id = invocation.text("kafka-transactional-id");
  options.kafka_partitions = static_cast<int>(invocation.number("kafka-partitions"));
  options.kafka_replication = static_cast<int>(invocation.number("kafka-replication"));
  if (invocation.has("group-commit-us")) {  // serve's; other subcommands write alone
    options.group_commit_window = std::chrono::microseconds(invocation.number("group-commit-us"));
  }
  if (invocation.has("group-session-timeout")) {  // serve's: on Kafka, one process of a cluster
    options.kafka_cluster = true;
    options.kafka_group_session_timeout = std::chrono::seconds(invocation.number("group-session-timeout"));
  }
  if (invocation.has("replica-dir")) options.kafka_replica_directory = invocation.text("replica-dir");  // serve's
  auto store = es::Store::open(invocation.text("store"), invocation.text("master-key-file"), options);
  if (!store) throw std::runtime_error(store.error());
  return std::move(*store);
}

std::string file_store_directory(const std::string& store) {
  if (store.rfind("file:", 0) == 0 && store.size() > 5) return store.substr(5);
  throw std::runtime_error("this command works on a file store (file:DIR), got '" + store + "'");
}

ProgressReport::ProgressReport(std::string what) : what_(std::move(what)), terminal_(::isatty(STDERR_FILENO) == 1) {}

ProgressReport::~ProgressReport() {
  if (terminal_ && shown_) std::cerr << "\n";
}

void ProgressReport::operator()(std::uint64_t done, std::uint64_t total) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  if (elapsed < 2.0 || (now < next_ && done < total)) return;
  next_ = now + (terminal_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000));
  const double rate = done / elapsed;
  const double left = rate > 0 && total > done ? (total - done) / rate : 0;
  shown_ = true;
  if (terminal_) {
    std::cerr << "\r" << what_ << ": " << done << " of " << total << " events, " << static_cast<std::uint64_t>(rate)
              << " events/s, " << static_cast<std::uint64_t>(left) << " s left   " << std::flush;
  } else {
    log_line({{"level", "info"}, {"msg", "progress"}, {"work", what_}, {"done", done}, {"total", total},
              {"events_per_second", static_cast<std::uint64_t>(rate)}, {"seconds_left", static_cast<std::uint64_t>(left)}});
  }
}

void recover(es::Store& store, const std::string& what) {
  ProgressReport progress(what);
  auto recovered = store.recover(std::ref(progress));
  if (!recovered) throw std::runtime_error(recovered.error());
}

}  // namespace keyledger::cli
