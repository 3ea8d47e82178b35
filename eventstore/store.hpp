// A store assembled from configuration (SPEC §8's KEYLEDGER_STORE): the event log, the
// keyring beside it, the secret vault and the command pipeline.
//   file:DIR                      DIR/LOCK, DIR/log/*.seg, DIR/snapshots/*.snap, DIR/keyring.json
//   kafka://HOST:PORT[,...]/TOPIC the TOPIC of events and the compacted TOPIC-keyring; with a
//                                 replica directory, DIR/records/*, DIR/snapshots/*.snap
// Opening reads nothing of the log yet: the caller subscribes its read models to the
// pipeline, then recover() restores the newest snapshot and folds the rest of the log.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "command_pipeline.hpp"
#include "event_log.hpp"
#include "keyring.hpp"
#include "master_key.hpp"
#include "secret_vault.hpp"

namespace keyledger::eventstore {

struct StoreOptions {
  bool use_snapshots = true;                           // file stores, and Kafka stores with a replica directory
  std::map<std::string, std::string> kafka_settings;   // KEYLEDGER_KAFKA_* pass-through
  std::string kafka_transactional_id;                  // default "keyledger-" + topic
  bool kafka_cluster = false;                          // join the owners' group (keyledger serve)
  std::chrono::seconds kafka_group_session_timeout{6};
  int kafka_partitions = 3;
  int kafka_replication = 1;
  std::chrono::microseconds group_commit_window{0};   // see GroupCommitSettings::window
  std::string kafka_replica_directory;                // keep the replica and snapshots there (replica_directory.hpp)
  std::function<void(const std::string&)> report;      // one sentence per note
  std::function<bool()> stopping;                      // see KafkaOptions::stopping
};

struct Store {
  std::string url;
  std::string directory;  // where snapshots go: the file store's, or a Kafka store's replica directory (else empty)
  std::unique_ptr<EventLog> log;
  std::unique_ptr<Keyring> keyring;
  std::unique_ptr<SecretVault> vault;
  std::unique_ptr<CommandPipeline> pipeline;
  std::uint64_t snapshot_events = 0;  // events the restored snapshot held (0: none)
  bool use_snapshots = true;
  std::function<void(const std::string&)> report;

  Store() = default;
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool snapshots_supported() const { return !directory.empty(); }

  // Restores the newest usable snapshot (a damaged one is reported and passed over) and folds the rest of the log into the state and every subscribed read model.
  // `progress` as CommandPipeline::catch_up's. A sentence when a stored event does not decode.
  // Afterwards, records other processes append to the log are folded as they arrive.
  std::expected<void, std::string> recover(const ReplayProgress& progress = nullptr);

  // Every failure is a sentence for the operator (locked directory, wrong master key,
  // unreachable brokers, ...).
  static std::expected<std::unique_ptr<Store>, std::string> open(const std::string& url,
                                                                 const std::string& master_key_file,
                                                                 StoreOptions options);
  // The keyring's storage of the store at `url` alone: no log, no master key (for copying a
  // keyring record by record, as keyledger migrate does). A file store's directory is made.
  static std::expected<std::unique_ptr<KeyringStorage>, std::string> open_keyring_storage(const std::string& url,
                                                                                         const StoreOptions& options);
};

// The system clock in the domain's resolution; the only clock the product reads.
domain::Timestamp system_now();

}  // namespace keyledger::eventstore
