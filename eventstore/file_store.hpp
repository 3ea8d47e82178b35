// The embedded store assembled: the file log, the keyring beside it, the secret vault and
// the command pipeline, recovered from the newest snapshot plus the log's tail.
//   DIR/LOCK, DIR/log/*.seg, DIR/snapshots/*.json, DIR/keyring.json
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>

#include "command_pipeline.hpp"
#include "file_keyring.hpp"
#include "file_log.hpp"
#include "master_key.hpp"
#include "secret_vault.hpp"

namespace keyledger::eventstore {

struct FileStore {
  std::string directory;
  MasterKey master_key;
  std::unique_ptr<FileLog> log;
  std::unique_ptr<FileKeyring> keyring;
  std::unique_ptr<SecretVault> vault;
  std::unique_ptr<CommandPipeline> pipeline;
  std::uint64_t snapshot_position = 0;  // where the state was restored from (0: none)

  struct Options {
    bool use_snapshots = true;
    std::function<void(const std::string&)> report;  // one JSON-free sentence per note
  };
  // Every failure is a sentence for the operator (locked directory, wrong master key, ...).
  static std::expected<std::unique_ptr<FileStore>, std::string> open(const std::string& directory,
                                                                     const std::string& master_key_file,
                                                                     Options options);
};

// The system clock in the domain's resolution; the only clock the product reads.
domain::Timestamp system_now();

}  // namespace keyledger::eventstore
