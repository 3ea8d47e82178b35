// The embedded store's keyring: one JSON file beside the log holding each dashboard's data
// key wrapped (AES-256-GCM) by the master key's key-encryption key. Every change rewrites
// the file atomically (temporary file, fsync, rename, fsync of the directory).
#pragma once

#include <map>
#include <mutex>
#include <optional>

#include "keyring.hpp"
#include "master_key.hpp"

namespace keyledger::eventstore {

class FileKeyring final : public Keyring {
 public:
  // Loads `path` if it exists; throws std::runtime_error when it cannot be read or a key does
  // not unwrap (a wrong master key), so the server refuses to start rather than lose data.
  FileKeyring(std::string path, const MasterKey& master_key);

  std::expected<std::string, std::error_code> data_key(const std::string& dashboard_id,
                                                       bool create) override;
  std::error_code destroy(const std::string& dashboard_id) override;

 private:
  struct Entry {
    std::optional<std::string> wrapped;  // absent: destroyed (a tombstone)
  };
  bool save_locked();

  std::string path_;
  std::string kek_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> unwrapped_;  // cache of live data keys
};

}  // namespace keyledger::eventstore
