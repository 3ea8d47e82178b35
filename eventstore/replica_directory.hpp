// A Kafka replica kept on local disk across restarts (keyledger serve --replica-dir; SPEC §10:
// a start is snapshot + tail, not the whole topic):
//   DIR/LOCK                  held by the one process using the directory (flock)
//   DIR/replica.json          {"topic": T, "partitions": N}: what the rest is a replica of
//   DIR/records/<p>.records   each partition's record cache, kept (record_cache.hpp)
//   DIR/placed.json           dashboards whose events an earlier keyledger's partitioner put
//                             where murmur2 would not ({"<dashboard id>": partition}); present
//                             only while it accounts for every record the caches hold
//   DIR/snapshots/            the pipeline's snapshots (snapshot_store.hpp), each holding every
//                             partition up to an offset the brokers had committed
// Opening a directory kept for another topic or partition count, or whose placed.json is
// missing while its caches hold records, empties it first (the caller is told why). Whether
// the records are the brokers' is for the log to check (KafkaLog compares the last record of
// each cache with the brokers' before continuing it).
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace keyledger::eventstore {

class ReplicaDirectory {
 public:
  using Placed = std::unordered_map<std::string, std::uint32_t>;

  // Makes or takes over DIR for `topic` of `partitions` partitions; a sentence when it cannot
  // be made, read or locked (another process uses it).
  static std::expected<std::unique_ptr<ReplicaDirectory>, std::string> open(
      const std::string& path, const std::string& topic, std::uint32_t partitions,
      const std::function<void(const std::string&)>& note);
  ~ReplicaDirectory();  // lets go of the lock
  ReplicaDirectory(const ReplicaDirectory&) = delete;
  ReplicaDirectory& operator=(const ReplicaDirectory&) = delete;

  const std::string& path() const { return path_; }
  std::string records_path(std::uint32_t partition) const;
  // The dashboards placed elsewhere, as last saved.
  const Placed& placed() const { return placed_; }
  // Before the caches take records nobody has looked at for placement: placed.json goes, so
  // that a crash before save_placed() cannot leave it short of what the caches hold.
  std::expected<void, std::string> unsettle_placed();
  std::expected<void, std::string> save_placed(const Placed& placed);
  // Removes every record cache, snapshot and placed.json: the directory as new. `why` is
  // told to the caller's note.
  std::expected<void, std::string> clear(const std::string& why);

 private:
  ReplicaDirectory(std::string path, int lock_fd, std::function<void(const std::string&)> note)
      : path_(std::move(path)), lock_fd_(lock_fd), note_(std::move(note)) {}
  std::string path_;
  int lock_fd_;
  std::function<void(const std::string&)> note_;
  Placed placed_;
};

}  // namespace keyledger::eventstore
