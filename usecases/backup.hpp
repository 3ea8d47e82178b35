// Backups of the embedded store (SPEC §13): taken while it serves, checked, and restored.
//
// A backup is a ustar archive (tar_format.hpp) of the store's files up to one position:
//   log/<base>.seg        every segment, the last one cut at the position (whole batches)
//   snapshots/<n>.snap    the newest snapshot, when there is one (complete before the cut)
//   keyring.json          the keyring as stored: every key wrapped, never the master key
//   manifest.json         the position, each file's size, SHA-256 and a CRC32C of each MiB,
//                         and each dashboard's chain head (sequence, hash, closed) there
//   manifest.sha256       the manifest's SHA-256, as `sha256sum -c` reads it
// The manifest comes last because it is computed while the files stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <istream>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/crypto.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/file_log.hpp"
#include "eventstore/store.hpp"
#include "projections/projector.hpp"

namespace keyledger::usecases {

struct ChainHead {
  std::uint64_t sequence = 0;
  std::string head_hash;
  bool closed = false;
  friend bool operator==(const ChainHead&, const ChainHead&) = default;
};

// What the files backups stream hashed to, kept from one backup to the next: a sealed
// segment, a snapshot and a segment's durable prefix never change, so each MiB of them is
// hashed once, not once per backup (a server keeps one cache for all its backups). A file
// is known by its device and inode, so a new file under a reused name starts over. The bytes
// are still read and sent every time: if they rotted on disk since, they no longer match
// the manifest, and `backup verify` says so.
class DigestCache {
 public:
  struct Identity {
    std::uint64_t device = 0, inode = 0;
    friend auto operator<=>(const Identity&, const Identity&) = default;
  };
  struct Entry {
    std::uint64_t bytes = 0;  // hashed so far: a whole number of MiB
    crypto::Sha256 sha;       // its state after them
    std::vector<std::uint32_t> crcs;
  };
  std::optional<Entry> find(const Identity& file, std::uint64_t at_most) const;
  void keep(const Identity& file, const Entry& entry);
  // Forgets every file but these (those gone since, such as replaced snapshots).
  void retain(const std::set<Identity>& files);

 private:
  mutable std::mutex mutex_;
  std::map<Identity, Entry> entries_;
};

// A backup being written, piece by piece (an HTTP response streams it).
class BackupStream {
 public:
  // Takes the cut while commands go on: holds the log's group commit, waits until every
  // durable batch is folded, and notes the log's extent, each dashboard's chain head, the
  // newest snapshot and the keyring's bytes — commands wait only that long. `directory` is
  // the file store's. A sentence when the cut cannot be taken.
  // `cache`, when given, must outlive the stream.
  static std::expected<std::unique_ptr<BackupStream>, std::string> begin(eventstore::FileLog& log,
                                                                         const eventstore::CommandPipeline& pipeline,
                                                                         const std::string& directory,
                                                                         const std::string& master_key_id,
                                                                         DigestCache* cache = nullptr);
  ~BackupStream();

  // Appends the archive's next piece (about `max` bytes at most) to `out`; false once the
  // archive is complete, or when a file could not be read (error() then says which: the
  // archive stops short of its manifest, so no reader takes it for whole). While commands
  // are being appended, it first yields for a few milliseconds, so that a backup (the
  // server's copying, the reader's, the disk's) takes what commands leave rather than
  // competing with them; alone, it streams as fast as it can.
  bool next(std::string& out, std::size_t max = 1 << 20);
  const std::string& error() const { return error_; }
  eventstore::LogPosition position() const { return position_; }
  // How long the cut held the log's group commit (commands waited at most that long).
  std::chrono::microseconds held() const { return held_; }

 private:
  struct File;
  BackupStream() = default;
  void finish_file(std::string& out);

  eventstore::LogPosition position_;
  std::chrono::microseconds held_{0};
  std::string master_key_id_, created_at_;
  std::map<std::string, ChainHead> heads_;
  std::vector<File> files_;
  std::size_t current_ = 0;       // the file being written
  bool header_written_ = false;
  std::uint64_t written_ = 0;     // of the current file's data
  std::uint64_t hashed_from_ = 0;  // of the current file: what the cache knew
  DigestCache* cache_ = nullptr;
  const eventstore::FileLog* log_ = nullptr;
  std::uint64_t batches_seen_ = 0;  // the log's appended batches at the previous piece
  bool done_ = false;
  std::string error_;
  struct Digests;
  std::unique_ptr<Digests> digests_;
};

// Whether an archive ends as BackupStream ends one — manifest.sha256's header 2 KiB before
// the end, then its one block of data and the end-of-archive blocks — rather than cut short
// (a server that stopped midway sends neither). A quick check of the layout only;
// verify_backup checks the rest.
bool ends_with_manifest(std::istream& archive);

// What a backup holds, as its manifest says and its files confirmed.
struct VerifiedBackup {
  eventstore::LogPosition position;
  std::map<std::string, ChainHead> dashboards;
  std::uint64_t files = 0, bytes = 0;
  std::uint64_t snapshot_events = 0;  // of the snapshot restored (0: none)
  // The extracted store, opened and recovered with the read models `serve` keeps (a
  // snapshot carries them).
  std::unique_ptr<projections::Projector> read_models;
  std::unique_ptr<eventstore::Store> store;
};

// Extracts the archive into `directory` (existing and empty) and checks it whole: every
// member's header and padding, each file against the manifest (a damaged one is named with
// the byte range that differs), every dashboard's chain and its head against the manifest,
// the log's end at the position, the keyring opened with the master key, the snapshot
// restored. Every problem found, as sentences, when it does not hold.
std::expected<VerifiedBackup, std::vector<std::string>> verify_backup(std::istream& archive,
                                                                      const std::string& directory,
                                                                      const std::string& master_key_file);

// The dashboards closed (their data keys destroyed) anywhere in a file store's log, read
// without a lock: for restoring an older backup (SPEC §13's --shreds-from).
std::expected<std::set<std::string>, std::string> closed_dashboards(const std::string& directory);

struct RestoreReport {
  eventstore::LogPosition position;
  std::size_t dashboards = 0;
  std::vector<std::string> shredded;  // data keys destroyed again (closed at or after the backup)
};

// Makes `target` (absent or an empty directory) a store that serves what the backup's store
// served at its position: verified in a directory beside it first, then renamed into place,
// so nothing is written at `target` unless all of it holds. The data key of each dashboard
// closed at the position, or in `shreds_from` (closed_dashboards of a newer log), is
// destroyed. Every problem as sentences.
std::expected<RestoreReport, std::vector<std::string>> restore_backup(std::istream& archive, const std::string& target,
                                                                     const std::string& master_key_file,
                                                                     const std::set<std::string>& shreds_from);

}  // namespace keyledger::usecases
