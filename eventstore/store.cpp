#include "store.hpp"

#include <malloc.h>

#include <chrono>
#include <cstddef>
#include <filesystem>

#include "file_keyring.hpp"
#include "file_log.hpp"
#include "kafka_keyring.hpp"
#include "kafka_client.hpp"
#include "kafka_log.hpp"
#include "snapshot_store.hpp"

// jemalloc's control interface, when the executable is linked with it (KEYLEDGER_JEMALLOC):
// null otherwise, as in the tests' executables.
extern "C" int mallctl(const char* name, void* old_value, std::size_t* old_size, void* new_value,
                       std::size_t new_size) __attribute__((weak));

namespace keyledger::eventstore {

domain::Timestamp system_now() {
  return domain::Timestamp{
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())};
}

namespace {

std::string keyring_path(const std::string& directory) { return directory + "/keyring.json"; }

std::expected<KafkaOptions, std::string> kafka_options(const std::string& url, const StoreOptions& options) {
  auto kafka = parse_kafka_url(url);
  if (!kafka) return std::unexpected(kafka.error());
  kafka->client_config = options.kafka_settings;
  kafka->transactional_id = options.kafka_transactional_id;
  kafka->join_group = options.kafka_cluster;
  kafka->group_session_timeout = options.kafka_group_session_timeout;
  kafka->partitions = options.kafka_partitions;
  kafka->replication = options.kafka_replication;
  kafka->group_commit_window = options.group_commit_window;
  kafka->replica_directory = options.kafka_replica_directory;
  kafka->report = options.report;
  kafka->stopping = options.stopping;
  return kafka;
}

const char* const kStoreUrlForms = "file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC";

std::expected<void, std::string> open_file_parts(Store& store, const MasterKey& master_key, const std::string& directory,
                                                 const StoreOptions& options) {
  store.directory = directory;
  auto log = FileLog::open({directory, 64ull << 20, options.report, false, {.window = options.group_commit_window}});
  if (!log) return std::unexpected(log.error());
  store.log = std::move(*log);
  auto keyring = Keyring::open(std::make_unique<FileKeyringStorage>(keyring_path(directory)), master_key,
                               options.report);
  if (!keyring) return std::unexpected("keyring " + keyring_path(directory) + ": " + keyring.error());
  store.keyring = std::move(*keyring);
  return {};
}

std::expected<void, std::string> open_kafka_parts(Store& store, const MasterKey& master_key, const std::string& url,
                                                  const StoreOptions& options) {
  auto kafka = kafka_options(url, options);
  if (!kafka) return std::unexpected(kafka.error());
  // The keyring first: its topic is small, and a wrong master key should stop us early.
  auto storage = KafkaKeyringStorage::open(*kafka);
  if (!storage) return std::unexpected(storage.error());
  const std::string topic = (*storage)->topic();
  auto keyring = Keyring::open(std::move(*storage), master_key, options.report);
  if (!keyring) return std::unexpected("keyring topic " + topic + ": " + keyring.error());
  store.keyring = std::move(*keyring);
  auto log = KafkaLog::open(*kafka);
  if (!log) return std::unexpected(log.error());
  store.log = std::move(*log);
  store.directory = kafka->replica_directory;
  return {};
}

}  // namespace

std::expected<std::unique_ptr<Store>, std::string> Store::open(const std::string& url, const std::string& master_key_file,
                                                               StoreOptions options) {
  auto store = std::make_unique<Store>();
  store->url = url;
  auto master = load_master_key(master_key_file);
  if (!master) return std::unexpected(master.error());
  std::expected<void, std::string> opened;
  if (url.rfind("file:", 0) == 0 && url.size() > 5) {
    opened = open_file_parts(*store, *master, url.substr(5), options);
  } else if (url.rfind("kafka://", 0) == 0) {
    opened = open_kafka_parts(*store, *master, url, options);
  } else {
    return std::unexpected(std::string("KEYLEDGER_STORE must be ") + kStoreUrlForms + ", got '" + url + "'");
  }
  if (!opened) return std::unexpected(opened.error());
  store->vault = std::make_unique<SecretVault>(*store->keyring, store->keyring->store_keys().fingerprint_pepper);
  store->pipeline = std::make_unique<CommandPipeline>(*store->log, system_now);
  store->use_snapshots = options.use_snapshots;
  store->report = options.report;
  return store;
}

std::expected<std::unique_ptr<KeyringStorage>, std::string> Store::open_keyring_storage(const std::string& url,
                                                                                     const StoreOptions& options) {
  if (url.rfind("file:", 0) == 0 && url.size() > 5) {
    std::error_code ec;
    std::filesystem::create_directories(url.substr(5), ec);
    if (ec) return std::unexpected("cannot create " + url.substr(5) + ": " + ec.message());
    return std::make_unique<FileKeyringStorage>(keyring_path(url.substr(5)));
  }
  if (url.rfind("kafka://", 0) == 0) {
    auto kafka = kafka_options(url, options);
    if (!kafka) return std::unexpected(kafka.error());
    auto storage = KafkaKeyringStorage::open(*kafka);
    if (!storage) return std::unexpected(storage.error());
    return std::unique_ptr<KeyringStorage>(std::move(*storage));
  }
  return std::unexpected(std::string("a store must be ") + kStoreUrlForms + ", got '" + url + "'");
}

std::expected<void, std::string> Store::recover(const ReplayProgress& progress) {
  if (use_snapshots && snapshots_supported()) {
    if (auto restored = restore_latest_snapshot(directory, *pipeline, report)) snapshot_events = restored->events;
  }
  std::string problem;
  if (auto ec = pipeline->catch_up(&problem, progress)) {
    return std::unexpected("cannot replay the log: " + (problem.empty() ? ec.message() : problem));
  }
  // Recovery allocates and frees a great deal on the way (decoded events, a snapshot's
  // buffers): give what is free back to the system rather than keep it resident.
  if (mallctl) {
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // 4096: MALLCTL_ARENAS_ALL
  } else {
    ::malloc_trim(0);
  }
  // From now on, what other processes append is folded as it arrives (a Kafka replica).
  log->on_arrival([this] {
    std::string problem;
    if (auto ec = pipeline->catch_up(&problem); ec && report) {
      report("cannot fold the records other processes appended: " + (problem.empty() ? ec.message() : problem));
    }
  });
  return {};
}

Store::~Store() {
  if (log) log->on_arrival(nullptr);  // returns once no fold of arrivals is under way
}

}  // namespace keyledger::eventstore
