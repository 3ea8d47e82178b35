// One partition of a Kafka replica's records, kept on local disk rather than in memory
// (SPEC §10: no in-memory copy of the topic's records). An append-only file of frames —
// offset (8 bytes, little-endian), size (4), CRC32C of the two and the bytes (4), the
// record's bytes. Either
//   - anonymous (create): unlinked from its creation (O_TMPFILE, or created and unlinked at
//     once where that is unsupported), so it never outlives the process: each start fills
//     it again from the brokers; or
//   - kept (open): a named file that a later start continues. Opening reads it through and
//     keeps its longest prefix of whole frames with good checksums and rising offsets (a
//     crash, or power lost before the page cache reached the disk, leaves a torn or zeroed
//     tail): what follows is cut off and fetched from the brokers again. Nothing is synced:
//     the brokers hold every record, the file only saves fetching them.
// Memory holds one (offset, place) pair every kIndexEvery records; a read finds the pair at
// or before where it starts and scans frames from there, with reads of at least 64 KiB, from
// the page cache while the kernel keeps the file there.
//
// Threading: append() from one thread at a time, never during a read (the caller holds its
// lock exclusively to append, shared to read); read() from any number of threads.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::eventstore {

class RecordCache {
 public:
  static constexpr std::uint64_t kIndexEvery = 64;

  // A new, empty cache file in `directory`; a sentence when it cannot be made.
  static std::expected<std::unique_ptr<RecordCache>, std::string> create(const std::string& directory);
  // The cache kept in the file at `path` (made when missing), holding what it held up to the
  // first frame that is cut short or damaged; `dropped` says how many bytes were cut off
  // after it. A sentence when the file cannot be opened, read or cut.
  static std::expected<std::unique_ptr<RecordCache>, std::string> open(const std::string& path,
                                                                       std::uint64_t* dropped = nullptr);
  ~RecordCache();
  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;

  struct Record {
    std::uint64_t offset;
    std::string_view bytes;
  };
  // Appends `records` with one write (a committed transaction's, say), their offsets rising
  // and past every offset appended before; a sentence when they could not be written (the
  // disk full, say), and then none was appended.
  std::expected<void, std::string> append(std::span<const Record> records);
  std::expected<void, std::string> append(std::uint64_t offset, std::string_view bytes) {
    const Record record{offset, bytes};
    return append(std::span<const Record>(&record, 1));
  }
  // Calls `visit` for every record with an offset in [from, to), in order, until it returns
  // false; `bytes` is valid only during the call. False when the file cannot be read back.
  using Visitor = std::function<bool(std::uint64_t offset, std::string_view bytes)>;
  bool read(std::uint64_t from, std::uint64_t to, const Visitor& visit) const;

  std::uint64_t records() const { return records_; }
  // The offset of the last record appended (or kept from an earlier start); none when empty.
  std::optional<std::uint64_t> last_offset() const {
    return records_ == 0 ? std::nullopt : std::optional<std::uint64_t>(last_offset_);
  }

 private:
  explicit RecordCache(int fd) : fd_(fd) {}
  // Reads the file through, indexing its whole, good frames, and cuts off the rest.
  std::expected<void, std::string> load(const std::string& path, std::uint64_t* dropped);
  int fd_;
  std::uint64_t size_ = 0;     // bytes of whole frames
  std::uint64_t records_ = 0;  // frames
  std::uint64_t last_offset_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> index_;  // (offset, place) of every kIndexEvery-th frame
  std::string frames_;         // append()'s buffer
};

}  // namespace keyledger::eventstore
