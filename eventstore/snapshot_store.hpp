// Snapshots of the command pipeline's state and its read models beside the file log, so that
// start-up replays only the events after the newest snapshot. Each is one file, written
// atomically while commands go on:
//   DIR/snapshots/<events, 20 digits>.snap
//   "KLSNAP" u16 version | body (CommandPipeline::write_snapshot) | u32 crc32c | "KLEND!"
// The CRC32C covers everything before it. A snapshot that is damaged, cut short, of another
// version, or that does not fit the log is ignored (the caller logs why) and the log replayed.
#pragma once

#include <optional>
#include <string>

#include "command_pipeline.hpp"

namespace keyledger::eventstore {

inline constexpr std::uint16_t kSnapshotVersion = 6;  // 5: checkpoints carry their Merkle root; 6: the data key's master

struct SnapshotInfo {
  std::uint64_t events = 0;  // events folded into it (its file name)
  std::string path;
};

// Writes the pipeline's snapshot and removes all but the newest `keep` snapshots.
std::optional<SnapshotInfo> write_snapshot(const std::string& directory, const CommandPipeline& pipeline,
                                           int keep = 2);

// Restores the newest snapshot that decodes and fits the log into a fresh pipeline (and its
// sections); nullopt when there is none. Each snapshot passed over is reported through
// `report`, with why, and the next older one tried.
std::optional<SnapshotInfo> restore_latest_snapshot(const std::string& directory, CommandPipeline& pipeline,
                                                    const std::function<void(const std::string&)>& report);

}  // namespace keyledger::eventstore
