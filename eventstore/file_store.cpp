#include "file_store.hpp"

#include <chrono>

#include "snapshot_store.hpp"

namespace keyledger::eventstore {

domain::Timestamp system_now() {
  return domain::Timestamp{
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())};
}

std::expected<std::unique_ptr<FileStore>, std::string> FileStore::open(const std::string& directory,
                                                                       const std::string& master_key_file,
                                                                       Options options) {
  auto store = std::make_unique<FileStore>();
  store->directory = directory;
  auto master = load_master_key(master_key_file);
  if (!master) return std::unexpected(master.error());
  store->master_key = std::move(*master);
  auto log = FileLog::open({directory, 64ull << 20, options.report});
  if (!log) return std::unexpected(log.error());
  store->log = std::move(*log);
  try {
    store->keyring = std::make_unique<FileKeyring>(directory + "/keyring.json", store->master_key);
  } catch (const std::exception& e) {
    return std::unexpected(e.what());
  }
  store->vault = std::make_unique<SecretVault>(*store->keyring, store->master_key.fingerprint_pepper());
  store->pipeline = std::make_unique<CommandPipeline>(*store->log, system_now);
  if (options.use_snapshots) {
    std::string problem;
    if (auto restored = restore_latest_snapshot(directory, *store->pipeline, store->log->end(), &problem)) {
      store->snapshot_position = restored->position;
    } else if (!problem.empty()) {
      if (options.report) options.report("ignored an unreadable snapshot, replaying the whole log: " + problem);
      store->pipeline = std::make_unique<CommandPipeline>(*store->log, system_now);
    }
  }
  std::string problem;
  if (auto ec = store->pipeline->catch_up(&problem)) {
    return std::unexpected("cannot replay the log: " + (problem.empty() ? ec.message() : problem));
  }
  return store;
}

}  // namespace keyledger::eventstore
