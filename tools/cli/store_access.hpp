// What the subcommands that work on a store share: its options, opening it, folding its log
// with a progress report, and the JSON log lines on stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "eventstore/store.hpp"
#include "options.hpp"

namespace keyledger::cli {

// One JSON object per line on stderr.
void log_line(const nlohmann::json& line);

// --store, --master-key-file, and how a Kafka store is opened.
OptionSet store_options();

// Store options every subcommand shares: KEYLEDGER_KAFKA_<SETTING> pass-through, notes logged.
eventstore::StoreOptions kafka_aware_options();

// Opens the store named by --store (snapshots ignored when `use_snapshots` is false).
// `stopping`: see eventstore::StoreOptions (serve's).
std::unique_ptr<eventstore::Store> open_store(const Invocation& invocation, bool use_snapshots = true,
                                              std::function<bool()> stopping = nullptr);
// The directory of a file store; throws for any other store.
std::string file_store_directory(const std::string& store);

// Long work says how far it is: on a terminal one line rewritten in place, otherwise one
// JSON line every 5 s; nothing at all for work done within its first 2 s.
class ProgressReport {
 public:
  explicit ProgressReport(std::string what);
  ~ProgressReport();
  void operator()(std::uint64_t done, std::uint64_t total);

 private:
  std::string what_;
  bool terminal_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now(), next_{};
};

// Folds the log into the store's state and the read models attached to its pipeline.
void recover(eventstore::Store& store, const std::string& what);

}  // namespace keyledger::cli
