// Snapshots of the command pipeline's state beside the file log, so that start-up replays
// only the events after the newest snapshot. Each is one file, written atomically:
//   DIR/snapshots/<log position, 20 digits>.json
#pragma once

#include <optional>
#include <string>

#include "command_pipeline.hpp"

namespace keyledger::eventstore {

struct SnapshotInfo {
  std::uint64_t position = 0;  // the file log's offset it was taken at
  std::uint64_t events = 0;    // events folded into it
  std::string path;
};

// Writes the pipeline's snapshot and removes all but the newest `keep` snapshots.
std::optional<SnapshotInfo> write_snapshot(const std::string& directory, const CommandPipeline& pipeline,
                                           int keep = 2);

// Restores the newest snapshot that is not beyond `log_end`; nullopt when there is none, or
// when it does not decode (then `problem` says why and the pipeline must be discarded).
std::optional<SnapshotInfo> restore_latest_snapshot(const std::string& directory, CommandPipeline& pipeline,
                                                    std::uint64_t log_end, std::string* problem = nullptr);

}  // namespace keyledger::eventstore
