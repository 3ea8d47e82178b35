// The embedded store's keyring storage: one JSON file beside the log,
// {"version":2,"records":{name: record or null}}. Every write rewrites the file atomically
// (temporary file, fsync, rename, fsync of the directory). Version 1 files
// ({"keys":{dashboard: record or null}}) are read as they are and rewritten as version 2.
#pragma once

#include <mutex>

#include "keyring.hpp"

namespace keyledger::eventstore {

class FileKeyringStorage final : public KeyringStorage {
 public:
  explicit FileKeyringStorage(std::string path) : path_(std::move(path)) {}

  std::expected<Records, std::string> load() override;
  bool write(const Records& records) override;

 private:
  std::string path_;
  std::mutex mutex_;
  Records records_;  // everything in the file
};

}  // namespace keyledger::eventstore
