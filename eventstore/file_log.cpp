#include "file_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "crc32c.hpp"
#include "durable_file.hpp"
#include "segment_format.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace fs = std::filesystem;
namespace sf = segment_format;

namespace {

// A sparse index entry every this many bytes of segment: finding an offset then reads at
// most this much more than it returns.
constexpr std::uint64_t kIndexInterval = 4096;
constexpr std::string_view kSidecarMagic = "KLIDX001";

std::string base_name(std::uint64_t base) {
  std::string digits = std::to_string(base);
  return std::string(20 - digits.size(), '0') + digits;
}

std::string slurp(int fd, std::uint64_t size, bool& ok) {
  std::string data(size, '\0');
  ok = data.empty() || read_all(fd, data.data(), data.size(), 0);
  return data;
}

}  // namespace

FileLog::FileLog(FileLogOptions options) : options_(std::move(options)) {}

std::expected<std::unique_ptr<FileLog>, std::string> FileLog::open(FileLogOptions options) {
  std::error_code ec;
  fs::create_directories(fs::path(options.directory) / "log", ec);
  if (ec) return std::unexpected("cannot create " + options.directory + ": " + ec.message());
  std::unique_ptr<FileLog> log(new FileLog(std::move(options)));
  if (!log->options_.read_only) {
    auto lock = lock_directory(log->options_.directory, "the data directory " + log->options_.directory);
    if (!lock) return std::unexpected(lock.error());
    log->lock_fd_ = *lock;
  }
  if (auto recovered = log->recover(); !recovered) return std::unexpected(recovered.error());
  if (!log->options_.read_only) {
    log->queue_ = std::make_unique<GroupCommitQueue>(
        [raw = log.get()](std::span<PendingBatch> group) { return raw->write_group(group); },
        log->options_.group_commit);
  }
  return log;
}

FileLog::~FileLog() {
  // Writes what is queued, then stops the writer (whose failure path refuses through
  // queue_, so it must stop before queue_ is reset).
  if (queue_) queue_->stop();
  queue_.reset();
  for (auto& s : segments_) ::close(s.fd);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

// How far the active segment's mapping reaches: twice the size at which it is sealed (a
// group written past that is read with pread, as is all of a segment that could not be mapped).
std::uint64_t FileLog::active_mapping_length(std::uint64_t size) const {
  return 2 * std::max(options_.segment_bytes, size);
}

FileLog::Mapping::~Mapping() { ::munmap(const_cast<char*>(data), size); }

void FileLog::map_segment(Segment& segment, std::uint64_t length) {
  if (length == 0 || (segment.mapping && segment.mapping->size >= length)) return;
  void* data = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, segment.fd, 0);
  if (data == MAP_FAILED) return;
  segment.mapping = std::make_shared<const Mapping>(static_cast<const char*>(data), length);
}

void FileLog::index_batch(Segment& segment, std::uint64_t offset, std::uint64_t file_position) {
  if (segment.index.empty() || file_position >= segment.last_indexed + kIndexInterval) {
    segment.index.push_back(IndexEntry{offset, file_position});
    segment.last_indexed = file_position;
  }
}

// A sealed segment's sidecar: magic | u64 base | u64 next_base | u64 size | u32 n |
// n × (u64 offset | u64 file_position) | u32 crc32c of everything before it. Only a sidecar
// that matches the segment file's size is believed; any other is rebuilt by a scan.
bool FileLog::load_sidecar(Segment& segment, std::uint64_t next_base) {
  std::string path = segment.path.substr(0, segment.path.size() - 4) + ".idx";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st{};
  bool ok = ::fstat(fd, &st) == 0;
  std::string data = ok ? slurp(fd, static_cast<std::uint64_t>(st.st_size), ok) : std::string();
  ::close(fd);
  const std::size_t header = kSidecarMagic.size() + 8 * 3 + 4;
  if (!ok || data.size() < header + 4 || !data.starts_with(kSidecarMagic)) return false;
  if (crc32c(std::string_view(data).substr(0, data.size() - 4)) != sf::load32(data.data() + data.size() - 4)) {
    return false;
  }
  const char* p = data.data() + kSidecarMagic.size();
  const std::uint64_t base = sf::load64(p), end = sf::load64(p + 8), size = sf::load64(p + 16);
  const std::uint32_t n = sf::load32(p + 24);
  if (base != segment.base || end != next_base || size != segment.size || n == 0 ||
      data.size() != header + 16ull * n + 4) {
    return false;
  }
  segment.index.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    segment.index[i] = IndexEntry{sf::load64(p + 28 + 16 * i), sf::load64(p + 36 + 16 * i)};
  }
  segment.end = end;
  segment.last_indexed = segment.index.back().file_position;
  return true;
}

void FileLog::write_sidecar(const Segment& segment) const {
  std::string data(kSidecarMagic);
  sf::append64(data, segment.base);
  sf::append64(data, segment.end);
  sf::append64(data, segment.size);
  sf::append32(data, static_cast<std::uint32_t>(segment.index.size()));
  for (auto& e : segment.index) {
    sf::append64(data, e.offset);
    sf::append64(data, e.file_position);
  }
  sf::append32(data, crc32c(data));
  // A cache: if it is lost, the next start scans the segment instead.
  write_file_atomically(segment.path.substr(0, segment.path.size() - 4) + ".idx", data);
}

// Kafka's LogSegment.recover, segment by segment: a sealed segment whose sidecar index
// matches is known whole; any other (always the newest) is validated batch by batch, and
// the first bad batch ends the log: the segment is cut there and every later one removed.
// Nothing acknowledged is ever cut: an acknowledged batch was fsynced whole, and a crash can
// only tear the batches written after it.
std::expected<void, std::string> FileLog::recover() {
  std::vector<std::pair<std::uint64_t, std::string>> files;
  for (auto& entry : fs::directory_iterator(fs::path(options_.directory) / "log")) {
    std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.ends_with(".seg") && std::all_of(name.begin(), name.begin() + 20, ::isdigit)) {
      files.emplace_back(std::stoull(name.substr(0, 20)), entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  auto note = [&](const std::string& s) {
    if (options_.report) options_.report(s);
  };
  std::uint64_t next = 0;
  bool cut = false;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [base, path] = files[i];
    if (cut || base != next) {
      if (options_.read_only) {
        if (!cut && damage_.empty()) damage_ = "segment " + path + " does not start where the log ends";
      } else {
        if (!cut) {
          note("segment " + path + " does not start where the log ends (" + std::to_string(next) +
               "); removed it and every later segment");
        }
        ::unlink(path.c_str());
        ::unlink((path.substr(0, path.size() - 4) + ".idx").c_str());
      }
      cut = true;
      continue;
    }
    int fd = ::open(path.c_str(), (options_.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) return std::unexpected("cannot open " + path + ": " + std::strerror(errno));
    struct stat st{};
    ::fstat(fd, &st);
    Segment segment{base, path, fd, static_cast<std::uint64_t>(st.st_size), base, {}, 0, nullptr};
    const bool sealed = i + 1 < files.size();
    if (!options_.read_only && sealed && load_sidecar(segment, files[i + 1].first)) {
      next = segment.end;
      map_segment(segment, segment.size);
      segments_.push_back(std::move(segment));
      continue;
    }
    bool ok = true;
    std::string data = slurp(fd, segment.size, ok);
    if (!ok) {
      ::close(fd);
      return std::unexpected("cannot read " + path);
    }
    auto recovered = sf::recover(data, base);
    for (auto& b : recovered.batches) index_batch(segment, b.base, b.offset);
    segment.end = next = recovered.next_base;
    segment.size = recovered.valid_length;
    if (auto damage = recovered.damage) {
      const std::string where = " at byte " + std::to_string(damage->offset);
      if (options_.read_only && !damage->torn()) {
        damage_ = path + " holds " + std::string(damage->what()) + where + " (log position " + std::to_string(next) + ")";
      } else if (!options_.read_only) {
        note("recovery: " + path + " ends in " + std::string(damage->what()) + where + "; cut " +
             std::to_string(data.size() - damage->offset) + " bytes, the log now ends at position " +
             std::to_string(next));
        if (::ftruncate(fd, static_cast<off_t>(damage->offset)) != 0 || ::fsync(fd) != 0) {
          ::close(fd);
          return std::unexpected("cannot truncate " + path + ": " + std::strerror(errno));
        }
      }
      cut = true;  // a read-only open's torn tail is an in-flight write: not damage
    } else if (sealed && !options_.read_only) {
      write_sidecar(segment);
    }
    // The newest segment takes the appends: its mapping reaches past its end.
    const bool active = !options_.read_only && (i + 1 == files.size() || cut);
    map_segment(segment, active ? active_mapping_length(segment.size) : segment.size);
    segments_.push_back(std::move(segment));
  }
  end_.store(next, std::memory_order_release);
  if (options_.read_only) return {};
  if (cut) sync_directory(options_.directory + "/log");
  if (segments_.empty() && !open_new_segment(0)) return std::unexpected("cannot create the first segment");
  return {};
}

bool FileLog::open_new_segment(std::uint64_t base) {
  std::string path = options_.directory + "/log/" + base_name(base) + ".seg";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (!sync_directory(options_.directory + "/log")) {
    ::close(fd);
    return false;
  }
  Segment segment{base, path, fd, 0, base, {}, 0, nullptr};
  map_segment(segment, active_mapping_length(0));
  std::unique_lock lock(index_mutex_);
  segments_.push_back(std::move(segment));
  return true;
}

void FileLog::append(std::vector<AppendRecord> batch, AppendDone done) {
  if (options_.read_only) return done(std::unexpected(make_error_code(StoreErrc::log_unavailable)));
  if (batch.empty()) return done(LogPosition{0, end()});
  std::size_t body = sf::kBodyHeader;
  for (auto& r : batch) body += 4 + r.bytes.size();
  if (body > sf::kMaxBody) return done(std::unexpected(make_error_code(StoreErrc::log_unavailable)));
  queue_->submit(PendingBatch{std::move(batch), std::move(done), {}});
}

// Group commit's durable step: every batch of the group framed into one buffer, written
// with one pwrite and covered by one fdatasync; only then is any of it visible to readers.
std::expected<std::vector<LogPosition>, std::error_code> FileLog::write_group(std::span<PendingBatch> group) {
  Segment* segment = &segments_.back();
  if (segment->size >= options_.segment_bytes) {
    write_sidecar(*segment);  // sealed: the next start need not scan it
    if (!open_new_segment(end())) return std::unexpected(make_error_code(StoreErrc::log_unavailable));
    segment = &segments_.back();
  }
  write_buffer_.clear();
  std::vector<LogPosition> positions;
  std::vector<IndexEntry> batches;
  std::vector<std::string_view> views;
  std::uint64_t next = end();
  for (auto& b : group) {
    views.clear();
    for (auto& r : b.records) views.push_back(r.bytes);
    batches.push_back(IndexEntry{next, segment->size + write_buffer_.size()});
    sf::append_batch(write_buffer_, next, views);
    positions.push_back(LogPosition{0, next});
    next += b.records.size();
  }
  bool ok = write_all(segment->fd, write_buffer_.data(), write_buffer_.size(), static_cast<off_t>(segment->size)) &&
            ::fdatasync(segment->fd) == 0;
  if (!ok) {
    // Undo the partial write so the next group starts at a batch boundary; if even that
    // fails, the file's tail is unknown and only a restart (recovery) can sort it out.
    if (::ftruncate(segment->fd, static_cast<off_t>(segment->size)) != 0) {
      queue_->refuse(make_error_code(StoreErrc::log_unavailable));
    }
    return std::unexpected(make_error_code(StoreErrc::log_unavailable));
  }
  {
    std::unique_lock lock(index_mutex_);
    for (auto& b : batches) index_batch(*segment, b.offset, b.file_position);
    segment->size += write_buffer_.size();
    segment->end = next;
  }
  end_.store(next, std::memory_order_release);
  if (write_buffer_.capacity() > (4u << 20)) std::string().swap(write_buffer_);  // after a burst of large groups
  return positions;
}

bool FileLog::find(std::uint64_t offset, SegmentView& view) const {
  std::shared_lock lock(index_mutex_);
  auto segment = std::upper_bound(segments_.begin(), segments_.end(), offset,
                                  [](std::uint64_t o, const Segment& s) { return o < s.base; });
  if (segment == segments_.begin()) return false;
  --segment;
  if (offset >= segment->end || segment->index.empty()) return false;
  auto entry = std::upper_bound(segment->index.begin(), segment->index.end(), offset,
                                [](std::uint64_t o, const IndexEntry& e) { return o < e.offset; });
  --entry;  // the first entry is the segment's first batch, at or before `offset`
  auto next = segment + 1;
  view = SegmentView{segment->fd, segment->size, segment->end, entry->file_position,
                     next == segments_.end() ? segment->end : next->base, segment->mapping};
  return true;
}

std::error_code FileLog::read(std::uint32_t partition, std::uint64_t from, std::uint64_t to,
                              const RecordVisitor& visit) {
  if (partition != 0) return {};
  to = std::min(to, end());
  std::string buffer;
  while (from < to) {
    SegmentView view{};
    if (!find(from, view)) return {};
    // The bytes from `window_start` on: a sealed segment's mapping, whole; otherwise frames
    // from the index entry on, read in chunks: 8 KiB first (the index entry is at most 4 KiB
    // before `from`: one record costs one small read), doubling up to 1 MiB for scans.
    const bool mapped = view.mapping && view.mapping->size >= view.size;
    std::string_view window = mapped ? std::string_view(view.mapping->data, view.size) : std::string_view();
    std::uint64_t chunk = 8u << 10;
    std::uint64_t position = view.start_position;
    std::size_t used = 0;  // bytes of `buffer` already parsed
    std::uint64_t window_start = mapped ? 0 : position;
    buffer.clear();
    auto ensure = [&](std::uint64_t bytes_from_position) -> bool {
      const std::uint64_t want_end = position + bytes_from_position;
      if (want_end <= window_start + window.size()) return true;
      if (want_end > view.size || mapped) return false;
      buffer.erase(0, used);
      window_start += used;
      used = 0;
      const std::uint64_t read_end = std::min<std::uint64_t>(view.size, std::max(want_end, position + chunk));
      chunk = std::min<std::uint64_t>(chunk * 2, 1u << 20);
      const std::size_t old = buffer.size();
      buffer.resize(read_end - window_start);
      window = buffer;
      return read_all(view.fd, buffer.data() + old, buffer.size() - old, static_cast<off_t>(window_start + old));
    };
    bool stop = false;
    while (position < view.size && from < to && !stop) {
      if (!ensure(sf::kFrameHeader)) return make_error_code(StoreErrc::log_corrupt);
      const std::uint32_t length = sf::load32(window.data() + (position - window_start));
      if (length < sf::kBodyHeader || length > sf::kMaxBody || !ensure(sf::kFrameHeader + length)) {
        return make_error_code(StoreErrc::log_corrupt);
      }
      const std::string_view frame(window.data() + (position - window_start), sf::kFrameHeader + length);
      const std::string_view body = frame.substr(sf::kFrameHeader);
      const std::uint64_t base = sf::load64(body.data());
      const std::uint32_t count = sf::load32(body.data() + 8);
      if (base + count > from) {
        // A batch read back after start-up is checked again: a sealed segment is trusted by
        // its sidecar, so a bit flipped there since is found here.
        if (!sf::frame_is_intact(frame)) return make_error_code(StoreErrc::log_corrupt);
        bool whole = sf::for_each_record(body, [&](std::uint32_t i, std::string_view bytes) {
          const std::uint64_t offset = base + i;
          if (offset < from) return true;
          if (offset >= to) {
            stop = true;
            return false;
          }
          if (!visit(StoredRecord{LogPosition{0, offset}, bytes})) {
            stop = true;
            to = 0;
            return false;
          }
          return true;
        });
        if (!whole) return make_error_code(StoreErrc::log_corrupt);
        if (!stop) from = base + count;
      }
      position += frame.size();
      if (!mapped) used = position - window_start;
    }
    if (stop || to == 0) return {};
    from = std::max(from, view.next_base);
  }
  return {};
}

FileLog::Hold FileLog::hold() {
  if (!queue_) return Hold(nullptr);  // read-only: nothing is ever written
  queue_->hold();
  return Hold(queue_.get());
}

std::vector<FileLog::SegmentExtent> FileLog::extents() const {
  std::shared_lock lock(index_mutex_);
  std::vector<SegmentExtent> out;
  out.reserve(segments_.size());
  for (const auto& s : segments_) out.push_back(SegmentExtent{s.path, s.base, s.end, s.size});
  return out;
}

LogStats FileLog::stats() const { return queue_ ? queue_->stats() : LogStats{}; }

}  // namespace keyledger::eventstore
