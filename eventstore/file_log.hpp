// The embedded event log: append-only segment files under DIR/log, one exclusive writer
// process (flock on DIR/LOCK), group commit, and recovery that truncates a torn tail.
//
// Segment file "<base position, 20 digits>.seg" holds batches back to back:
//   u32 body_length | u32 crc32c(body) | body
//   body = u64 base_position | u32 record_count | record_count × (u32 length | bytes)
// little-endian. See docs/storage.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <expected>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "event_log.hpp"

namespace keyledger::eventstore {

struct FileLogOptions {
  std::string directory;
  std::uint64_t segment_bytes = 64ull << 20;  // a new segment starts past this size
  std::function<void(const std::string&)> report = nullptr;  // recovery notes, one sentence each
  // Read-only: no lock, no truncation, no appends. Reading stops before the first bad
  // batch, and damage() says what it found there (for audits of a log at rest).
  bool read_only = false;
};

class FileLog final : public EventLog {
 public:
  // Locks the directory, validates every segment and truncates a torn or corrupt tail.
  // Fails at once, with a sentence saying why, when another process holds the lock.
  static std::expected<std::unique_ptr<FileLog>, std::string> open(FileLogOptions options);
  ~FileLog() override;

  std::expected<std::uint64_t, std::error_code> append(std::span<const AppendRecord> batch) override;
  std::error_code read(std::uint64_t from, const std::function<bool(const StoredRecord&)>& visit) override;
  std::uint64_t end() const override { return end_.load(std::memory_order_acquire); }

  LogStats stats() const override;
  // Read-only logs: the first bad batch found, as a sentence; empty when the log is whole.
  const std::string& damage() const { return damage_; }

 private:
  struct Segment {
    std::uint64_t base = 0;
    std::string path;
    int fd = -1;
    std::uint64_t size = 0;
  };
  struct BatchIndex {
    std::uint64_t base;
    std::uint32_t count;
    std::uint32_t segment;  // index into segments_
    std::uint64_t offset;   // of the frame header
    std::uint32_t length;   // of the body
  };
  struct Pending {
    std::string frame;
    std::uint32_t count = 0;
    std::uint32_t body_length = 0;
    std::promise<std::expected<std::uint64_t, std::error_code>> done;
  };

  explicit FileLog(FileLogOptions options);
  std::expected<void, std::string> recover();
  bool open_new_segment(std::uint64_t base);
  void writer_loop();  // the one thread that writes and syncs segment files

  FileLogOptions options_;
  int lock_fd_ = -1;
  std::vector<Segment> segments_;  // grows only under index_mutex_ (exclusive)
  std::vector<BatchIndex> index_;
  mutable std::shared_mutex index_mutex_;
  std::atomic<std::uint64_t> end_{0};

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Pending>> queue_;
  bool stopping_ = false;
  bool broken_ = false;  // a failed write could not be undone: refuse appends from now on
  std::string damage_;
  std::atomic<std::uint64_t> batches_{0}, syncs_{0};
  std::thread writer_;
};

}  // namespace keyledger::eventstore
