#include "file_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crc32c.hpp"
#include "durable_file.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kFrameHeader = 8;   // body_length + crc
constexpr std::size_t kBodyHeader = 12;   // base_position + record_count
constexpr std::uint32_t kMaxBody = 64u << 20;

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t get32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
std::uint64_t get64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string segment_name(std::uint64_t base) {
  std::string digits = std::to_string(base);
  return std::string(20 - digits.size(), '0') + digits + ".seg";
}

bool write_all(int fd, const char* data, std::size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

bool read_all(int fd, char* data, std::size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = ::pread(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

// Splits a body into its records; false when the counts and lengths do not add up.
bool for_each_record(std::string_view body, const std::function<void(std::uint32_t, std::string_view)>& visit) {
  if (body.size() < kBodyHeader) return false;
  std::uint32_t count = get32(body.data() + 8);
  std::size_t at = kBodyHeader;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (body.size() - at < 4) return false;
    std::uint32_t len = get32(body.data() + at);
    at += 4;
    if (body.size() - at < len) return false;
    if (visit) visit(i, body.substr(at, len));
    at += len;
  }
  return at == body.size() && count > 0;
}

}  // namespace

FileLog::FileLog(FileLogOptions options) : options_(std::move(options)) {}

std::expected<std::unique_ptr<FileLog>, std::string> FileLog::open(FileLogOptions options) {
  std::error_code ec;
  fs::create_directories(fs::path(options.directory) / "log", ec);
  if (ec) return std::unexpected("cannot create " + options.directory + ": " + ec.message());
  std::unique_ptr<FileLog> log(new FileLog(std::move(options)));
  if (log->options_.read_only) {
    if (auto recovered = log->recover(); !recovered) return std::unexpected(recovered.error());
    return log;
  }
  std::string lock_path = log->options_.directory + "/LOCK";
  log->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (log->lock_fd_ < 0) return std::unexpected("cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return std::unexpected("the data directory " + log->options_.directory +
                           " is in use by another keyledger process (its LOCK is held)");
  }
  if (auto recovered = log->recover(); !recovered) return std::unexpected(recovered.error());
  log->writer_ = std::thread([raw = log.get()] { raw->writer_loop(); });
  return log;
}

FileLog::~FileLog() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  for (auto& s : segments_) ::close(s.fd);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

// Validates batch by batch and stops at the first bad one, keeping everything before it:
// a short or failing batch at the end is a torn write; anything after it is unreachable.
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
  for (auto& [base, path] : files) {
    if (options_.read_only && (cut || base != next)) {
      if (!cut && damage_.empty()) damage_ = "segment " + path + " does not start where the log ends";
      cut = true;
      continue;
    }
    if (cut || base != next) {
      if (!cut) note("segment " + path + " does not start where the log ends (" + std::to_string(next) + "); removed it and every later segment");
      cut = true;
      ::unlink(path.c_str());
      continue;
    }
    int fd = ::open(path.c_str(), (options_.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) return std::unexpected("cannot open " + path + ": " + std::strerror(errno));
    struct stat st{};
    fstat(fd, &st);
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    if (!data.empty() && !read_all(fd, data.data(), data.size(), 0)) {
      ::close(fd);
      return std::unexpected("cannot read " + path);
    }
    auto segment_index = static_cast<std::uint32_t>(segments_.size());
    std::size_t at = 0;
    std::string problem;
    while (at < data.size()) {
      if (data.size() - at < kFrameHeader) { problem = "a torn batch header"; break; }
      std::uint32_t length = get32(data.data() + at);
      std::uint32_t crc = get32(data.data() + at + 4);
      if (length < kBodyHeader || length > kMaxBody) { problem = "an impossible batch length"; break; }
      if (data.size() - at - kFrameHeader < length) { problem = "a torn batch"; break; }
      std::string_view body(data.data() + at + kFrameHeader, length);
      if (crc32c(body) != crc) { problem = "a batch failing its CRC32C"; break; }
      if (get64(body.data()) != next) { problem = "a batch out of sequence"; break; }
      if (!for_each_record(body, nullptr)) { problem = "a batch whose records do not add up"; break; }
      std::uint32_t count = get32(body.data() + 8);
      index_.push_back(BatchIndex{next, count, segment_index, at, length});
      next += count;
      at += kFrameHeader + length;
    }
    bool torn = problem.starts_with("a torn");
    if (!problem.empty() && options_.read_only && torn) {
      cut = true;  // a crash's (or an in-flight write's) tail: not damage
    } else if (!problem.empty() && options_.read_only) {
      damage_ = path + " holds " + problem + " at byte " + std::to_string(at) + " (log position " +
                std::to_string(next) + ")";
      cut = true;
    } else if (!problem.empty()) {
      note("recovery: " + path + " ends in " + problem + " at byte " + std::to_string(at) + "; cut " +
           std::to_string(data.size() - at) + " bytes, the log now ends at position " + std::to_string(next));
      if (::ftruncate(fd, static_cast<off_t>(at)) != 0 || ::fsync(fd) != 0) {
        ::close(fd);
        return std::unexpected("cannot truncate " + path + ": " + std::strerror(errno));
      }
      cut = true;
    }
    segments_.push_back(Segment{base, path, fd, at});
  }
  end_.store(next, std::memory_order_release);
  if (options_.read_only) return {};
  if (cut) sync_directory(options_.directory + "/log");
  if (segments_.empty() && !open_new_segment(0)) return std::unexpected("cannot create the first segment");
  return {};
}

bool FileLog::open_new_segment(std::uint64_t base) {
  std::string path = options_.directory + "/log/" + segment_name(base);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (!sync_directory(options_.directory + "/log")) {
    ::close(fd);
    return false;
  }
  std::unique_lock lock(index_mutex_);
  segments_.push_back(Segment{base, path, fd, 0});
  return true;
}

std::expected<std::uint64_t, std::error_code> FileLog::append(std::span<const AppendRecord> batch) {
  if (options_.read_only) return std::unexpected(make_error_code(StoreErrc::log_unavailable));
  if (batch.empty()) return end();
  auto pending = std::make_unique<Pending>();
  std::string body(kBodyHeader, '\0');  // base position is filled in by the writer
  for (auto& r : batch) {
    put32(body, static_cast<std::uint32_t>(r.bytes.size()));
    body += r.bytes;
  }
  if (body.size() > kMaxBody) return std::unexpected(make_error_code(StoreErrc::log_unavailable));
  std::string count;
  put32(count, static_cast<std::uint32_t>(batch.size()));
  body.replace(8, 4, count);
  pending->count = static_cast<std::uint32_t>(batch.size());
  pending->body_length = static_cast<std::uint32_t>(body.size());
  pending->frame.reserve(kFrameHeader + body.size());
  put32(pending->frame, pending->body_length);
  put32(pending->frame, 0);  // crc, once the base position is known
  pending->frame += body;
  auto result = pending->done.get_future();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ || broken_) return std::unexpected(make_error_code(StoreErrc::log_unavailable));
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return result.get();
}

// Group commit: every batch queued while the previous sync ran is written and covered by
// one fdatasync. A batch is acknowledged only after that sync returned.
void FileLog::writer_loop() {
  while (true) {
    std::deque<std::unique_ptr<Pending>> group;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      group.swap(queue_);
    }
    auto fail_all = [&](std::size_t from) {
      for (std::size_t i = from; i < group.size(); ++i) {
        group[i]->done.set_value(std::unexpected(make_error_code(StoreErrc::log_unavailable)));
      }
    };
    Segment* segment = &segments_.back();
    if (segment->size >= options_.segment_bytes) {
      if (!open_new_segment(end())) {
        fail_all(0);
        continue;
      }
      segment = &segments_.back();
    }
    std::string buffer;
    std::vector<BatchIndex> added;
    std::uint64_t next = end();
    std::uint64_t offset = segment->size;
    for (auto& p : group) {
      std::string& f = p->frame;
      for (int i = 0; i < 8; ++i) f[kFrameHeader + i] = static_cast<char>((next >> (8 * i)) & 0xff);
      std::uint32_t crc = crc32c(std::string_view(f).substr(kFrameHeader));
      for (int i = 0; i < 4; ++i) f[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
      added.push_back(BatchIndex{next, p->count, static_cast<std::uint32_t>(segments_.size() - 1),
                                 offset + buffer.size(), p->body_length});
      buffer += f;
      next += p->count;
    }
    bool ok = write_all(segment->fd, buffer.data(), buffer.size(), static_cast<off_t>(segment->size)) &&
              ::fdatasync(segment->fd) == 0;
    if (!ok) {
      // Undo the partial write so the next group starts at a batch boundary; if even that
      // fails, the file's tail is unknown and only a restart (recovery) can sort it out.
      if (::ftruncate(segment->fd, static_cast<off_t>(segment->size)) != 0) {
        std::lock_guard lock(queue_mutex_);
        broken_ = true;
      }
      fail_all(0);
      continue;
    }
    syncs_.fetch_add(1, std::memory_order_relaxed);
    batches_.fetch_add(group.size(), std::memory_order_relaxed);
    {
      std::unique_lock lock(index_mutex_);
      segment->size += buffer.size();
      index_.insert(index_.end(), added.begin(), added.end());
    }
    end_.store(next, std::memory_order_release);
    for (std::size_t i = 0; i < group.size(); ++i) group[i]->done.set_value(added[i].base);
  }
}

std::error_code FileLog::read(std::uint64_t from, const std::function<bool(const StoredRecord&)>& visit) {
  std::vector<BatchIndex> batches;
  std::vector<int> fds;
  {
    std::shared_lock lock(index_mutex_);
    auto first = std::upper_bound(index_.begin(), index_.end(), from,
                                  [](std::uint64_t pos, const BatchIndex& b) { return pos < b.base; });
    if (first != index_.begin()) --first;
    batches.assign(first, index_.end());
    for (auto& s : segments_) fds.push_back(s.fd);
  }
  std::string body;
  for (auto& b : batches) {
    if (b.base + b.count <= from) continue;
    body.resize(b.length);
    if (!read_all(fds[b.segment], body.data(), b.length, static_cast<off_t>(b.offset + kFrameHeader))) {
      return make_error_code(StoreErrc::log_unavailable);
    }
    bool keep_going = true;
    for_each_record(body, [&](std::uint32_t i, std::string_view bytes) {
      if (!keep_going || b.base + i < from) return;
      keep_going = visit(StoredRecord{b.base + i, std::string(bytes)});
    });
    if (!keep_going) break;
  }
  return {};
}

LogStats FileLog::stats() const {
  return LogStats{batches_.load(std::memory_order_relaxed), syncs_.load(std::memory_order_relaxed)};
}

}  // namespace keyledger::eventstore
