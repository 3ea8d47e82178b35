// The embedded event log: one partition of append-only segment files under DIR/log, one
// exclusive writer process (flock on DIR/LOCK), group commit with fsync, and recovery that
// truncates a torn tail. The byte format is segment_format.hpp's; docs/storage.md has the
// whole layout.
//
//   DIR/log/<base offset, 20 digits>.seg   batches back to back
//   DIR/log/<base offset, 20 digits>.idx   a sealed segment's sparse index (a cache)
//
// Reads are bounded: a sparse index per segment (one entry every few KiB) finds the batch
// holding an offset in O(log n), and a read costs what it returns. Segments are read in place
// through a read-only shared mapping (the active one's reaches past its end, for what is
// appended; only bytes already durable are ever read), never copied out with pread.
//
// Threading: append() and read() from any thread; the group-commit writer thread writes.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "event_log.hpp"
#include "group_commit.hpp"

namespace keyledger::eventstore {

struct FileLogOptions {
  std::string directory;
  std::uint64_t segment_bytes = 64ull << 20;  // a new segment starts past this size
  std::function<void(const std::string&)> report = nullptr;  // recovery notes, one sentence each
  // Read-only: no lock, no truncation, no appends, and every segment validated batch by
  // batch. Reading stops before the first bad batch, and damage() says what it found there
  // (for audits of a log at rest).
  bool read_only = false;
  GroupCommitSettings group_commit = {};
};

class FileLog final : public EventLog {
 public:
  // Locks the directory, validates the segments not known whole and truncates a torn or
  // corrupt tail. Fails at once, with a sentence saying why, when another process holds
  // the lock.
  static std::expected<std::unique_ptr<FileLog>, std::string> open(FileLogOptions options);
  ~FileLog() override;

  using EventLog::append;
  void append(std::vector<AppendRecord> batch, AppendDone done) override;
  std::uint32_t partitions() const override { return 1; }
  std::uint64_t end(std::uint32_t = 0) const override { return end_.load(std::memory_order_acquire); }
  std::error_code read(std::uint32_t partition, std::uint64_t from, std::uint64_t to,
                       const RecordVisitor& visit) override;
  LogStats stats() const override;

  // Read-only logs: the first bad batch found, as a sentence; empty when the log is whole.
  const std::string& damage() const { return damage_; }

  // A cut of the log while it serves (a backup's): no group becomes durable until the
  // returned hold is released or destroyed; see GroupCommitQueue::hold.
  class Hold {
   public:
    explicit Hold(GroupCommitQueue* queue) : queue_(queue) {}
    Hold(Hold&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    Hold& operator=(Hold&&) = delete;
    ~Hold() { release(); }
    void release() {
      if (queue_) std::exchange(queue_, nullptr)->release_hold();
    }

   private:
    GroupCommitQueue* queue_;
  };
  [[nodiscard]] Hold hold();

  // The log's durable bytes as files: each segment, oldest first, with how many of its bytes
  // hold whole durable batches and the offsets they cover (the last one's end is end()).
  struct SegmentExtent {
    std::string path;
    std::uint64_t base = 0, end = 0, bytes = 0;
  };
  std::vector<SegmentExtent> extents() const;

 private:
  // Where a batch starts: (offset of its first record, byte position of its frame).
  struct IndexEntry {
    std::uint64_t offset;
    std::uint64_t file_position;
  };
  // A segment mapped read-only (PROT_READ, MAP_SHARED), unmapped with the last view.
  struct Mapping {
    const char* data = nullptr;
    std::size_t size = 0;
    Mapping(const char* d, std::size_t s) : data(d), size(s) {}
    ~Mapping();
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
  };
  struct Segment {
    std::uint64_t base = 0;
    std::string path;
    int fd = -1;
    std::uint64_t size = 0;          // bytes of whole, durable batches
    std::uint64_t end = 0;           // one past its last record
    std::vector<IndexEntry> index;   // sparse, in order; the first batch always has one
    std::uint64_t last_indexed = 0;  // file position of the last entry
    std::shared_ptr<const Mapping> mapping;  // null, or shorter than `size`: read with pread
  };
  // What a read needs of a segment, copied under the lock.
  struct SegmentView {
    int fd;
    std::uint64_t size, end, start_position, next_base;
    std::shared_ptr<const Mapping> mapping;
  };

  explicit FileLog(FileLogOptions options);
  std::expected<void, std::string> recover();
  bool open_new_segment(std::uint64_t base);
  // Maps `length` bytes of the segment (past its end for the active one) for reading in
  // place, unless its mapping covers it already; leaves it to pread when that fails.
  static void map_segment(Segment& segment, std::uint64_t length);
  std::uint64_t active_mapping_length(std::uint64_t size) const;
  static void index_batch(Segment& segment, std::uint64_t offset, std::uint64_t file_position);
  bool load_sidecar(Segment& segment, std::uint64_t next_base);
  void write_sidecar(const Segment& segment) const;
  bool find(std::uint64_t offset, SegmentView& view) const;
  // The group-commit writer's step: one pwrite and one fdatasync for the whole group.
  std::expected<std::vector<LogPosition>, std::error_code> write_group(std::span<PendingBatch> group);

  FileLogOptions options_;
  int lock_fd_ = -1;
  std::vector<Segment> segments_;  // changes only under index_mutex_ (exclusive)
  mutable std::shared_mutex index_mutex_;
  std::atomic<std::uint64_t> end_{0};
  std::string damage_;
  std::string write_buffer_;  // writer thread only
  std::unique_ptr<GroupCommitQueue> queue_;  // last: its writer thread stops first
};

}  // namespace keyledger::eventstore
