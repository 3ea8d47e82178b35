#include "record_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "binary_codec.hpp"
#include "crc32c.hpp"
#include "durable_file.hpp"

namespace keyledger::eventstore {

namespace {
constexpr std::size_t kFrameHeader = 16;  // offset (8) + size (4) + CRC32C (4)
constexpr std::size_t kChecked = 12;  // the header's bytes the CRC covers, with the record's
constexpr std::size_t kReadAtLeast = 64 * 1024;

std::uint32_t frame_crc(std::string_view header, std::string_view bytes) {
  return crc32c(bytes, crc32c(header.substr(0, kChecked)));
}

// The part of a file a scan of its frames is at, read `chunk` bytes or more at a time.
class FileWindow {
 public:
  FileWindow(int fd, std::uint64_t end, std::uint64_t chunk) : fd_(fd), end_(end), chunk_(chunk) {}
  // Makes [place, place + need) readable; false past `end` or when it cannot be read.
  bool hold(std::uint64_t place, std::uint64_t need) {
    if (place >= at_ && place + need <= at_ + buffer_.size()) return true;
    if (place + need > end_) return false;
    const std::uint64_t length = std::min(std::max(need, chunk_), end_ - place);
    buffer_.resize(length);
    at_ = place;
    return read_all(fd_, buffer_.data(), length, static_cast<off_t>(place));
  }
  // Bytes hold() made readable.
  std::string_view view(std::uint64_t place, std::uint64_t size) const {
    return std::string_view(buffer_.data() + (place - at_), size);
  }

 private:
  int fd_;
  std::uint64_t end_, chunk_;
  std::string buffer_;
  std::uint64_t at_ = 0;  // the file place of buffer_[0]
};

}  // namespace

std::expected<std::unique_ptr<RecordCache>, std::string> RecordCache::create(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string path = directory + "/keyledger-records-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) {
    return std::unexpected("cannot create the record cache in " + directory + ": " + std::strerror(errno));
  }
  return std::unique_ptr<RecordCache>(new RecordCache(fd));
}

std::expected<std::unique_ptr<RecordCache>, std::string> RecordCache::open(const std::string& path,
                                                                           std::uint64_t* dropped) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot open the record cache " + path + ": " + std::strerror(errno));
  std::unique_ptr<RecordCache> cache(new RecordCache(fd));
  if (auto loaded = cache->load(path, dropped); !loaded) return std::unexpected(loaded.error());
  return cache;
}

std::expected<void, std::string> RecordCache::load(const std::string& path, std::uint64_t* dropped) {
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return std::unexpected("cannot read the record cache " + path + ": " + std::strerror(errno));
  const std::uint64_t file_size = static_cast<std::uint64_t>(st.st_size);
  FileWindow window(fd_, file_size, 1 << 20);
  std::uint64_t place = 0;
  while (window.hold(place, kFrameHeader)) {
    binary::Reader in(window.view(place, kFrameHeader));
    const std::uint64_t offset = in.u64();
    const std::uint64_t size = in.u32();
    const std::uint32_t crc = in.u32();
    if ((records_ > 0 && offset <= last_offset_) || !window.hold(place, kFrameHeader + size)) break;
    const std::string_view framed = window.view(place, kFrameHeader + size);
    if (frame_crc(framed, framed.substr(kFrameHeader)) != crc) break;
    if (records_ % kIndexEvery == 0) index_.emplace_back(offset, place);
    place += kFrameHeader + size;
    ++records_;
    last_offset_ = offset;
  }
  size_ = place;
  if (dropped) *dropped = file_size - place;
  if (place < file_size && ::ftruncate(fd_, static_cast<off_t>(place)) != 0) {
    return std::unexpected("cannot cut the damaged tail off the record cache " + path + ": " + std::strerror(errno));
  }
  return {};
}

RecordCache::~RecordCache() { ::close(fd_); }

std::expected<void, std::string> RecordCache::append(std::span<const Record> records) {
  std::string& frames = frames_;  // reused: appends are one at a time
  frames.clear();
  binary::Writer out(frames);
  for (const Record& r : records) {
    if (r.bytes.size() > std::numeric_limits<std::uint32_t>::max()) return std::unexpected("a record of over 4 GiB");
    const std::size_t header = frames.size();
    out.u64(r.offset);
    out.u32(static_cast<std::uint32_t>(r.bytes.size()));
    out.u32(frame_crc(std::string_view(frames).substr(header), r.bytes));
    out.raw(r.bytes);
  }
  // A failed or partial write leaves bytes past size_, which no read reaches and the next
  // append overwrites.
  if (!write_all(fd_, frames.data(), frames.size(), static_cast<off_t>(size_))) {
    return std::unexpected(std::string("cannot write the record cache: ") + std::strerror(errno));
  }
  for (const Record& r : records) {
    if (records_ % kIndexEvery == 0) index_.emplace_back(r.offset, size_);
    size_ += kFrameHeader + r.bytes.size();
    ++records_;
    last_offset_ = r.offset;
  }
  return {};
}

bool RecordCache::read(std::uint64_t from, std::uint64_t to, const Visitor& visit) const {
  if (from >= to || index_.empty()) return true;
  // The last indexed frame at or before `from` (or the first frame).
  auto after = std::upper_bound(index_.begin(), index_.end(), from,
                                [](std::uint64_t offset, const auto& entry) { return offset < entry.first; });
  std::uint64_t place = after == index_.begin() ? 0 : std::prev(after)->second;
  FileWindow window(fd_, size_, kReadAtLeast);
  while (place < size_) {
    if (!window.hold(place, kFrameHeader)) return false;
    binary::Reader header(window.view(place, kFrameHeader));
    const std::uint64_t offset = header.u64();
    const std::uint64_t size = header.u32();
    if (offset >= to) break;
    if (offset >= from) {
      if (!window.hold(place, kFrameHeader + size)) return false;
      if (!visit(offset, window.view(place + kFrameHeader, size))) break;
    }
    place += kFrameHeader + size;
  }
  return true;
}

}  // namespace keyledger::eventstore
