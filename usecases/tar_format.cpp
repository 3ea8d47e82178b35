#include "usecases/tar_format.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace keyledger::usecases::tar {

namespace {

constexpr std::size_t kName = 0, kMode = 100, kUid = 108, kGid = 116, kSize = 124, kMtime = 136, kChecksum = 148,
                      kType = 156, kMagic = 257, kVersion = 263;
const std::string kZeros(2 * kBlock, '\0');

// `value` in octal, zero-padded to `width - 1` digits and a NUL (tar's numeric fields).
void put_octal(std::string& header, std::size_t at, std::size_t width, std::uint64_t value) {
  for (std::size_t i = width - 1; i-- > 0; value >>= 3) header[at + i] = static_cast<char>('0' + (value & 7));
  header[at + width - 1] = '\0';
}

std::optional<std::uint64_t> get_octal(std::string_view field) {
  std::uint64_t value = 0;
  bool digits = false;
  for (char c : field) {
    if (c == '\0' || c == ' ') {
      if (digits) break;
      continue;
    }
    if (c < '0' || c > '7' || value > (UINT64_MAX >> 3)) return std::nullopt;
    value = value * 8 + static_cast<std::uint64_t>(c - '0');
    digits = true;
  }
  if (!digits) return std::nullopt;
  return value;
}

// The sum of the header's bytes with its checksum field read as spaces.
std::uint64_t checksum(std::string_view header) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    sum += (i >= kChecksum && i < kChecksum + 8) ? static_cast<unsigned char>(' ') : static_cast<unsigned char>(header[i]);
  }
  return sum;
}

bool safe_name(std::string_view name) {
  if (name.empty() || name.front() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = std::min(name.find('/', start), name.size());
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string at(std::uint64_t offset) { return "archive offset " + std::to_string(offset); }

}  // namespace

std::string file_header(std::string_view name, std::uint64_t size, std::int64_t mtime) {
  std::string header(kBlock, '\0');
  std::copy_n(name.data(), std::min<std::size_t>(name.size(), 100), header.begin() + kName);
  put_octal(header, kMode, 8, 0600);
  put_octal(header, kUid, 8, 0);
  put_octal(header, kGid, 8, 0);
  put_octal(header, kSize, 12, size);
  put_octal(header, kMtime, 12, static_cast<std::uint64_t>(std::max<std::int64_t>(mtime, 0)));
  header[kType] = '0';
  std::memcpy(header.data() + kMagic, "ustar", 6);  // with its NUL
  std::memcpy(header.data() + kVersion, "00", 2);
  put_octal(header, kChecksum, 7, checksum(header));  // six digits, a NUL, then the space
  header[kChecksum + 7] = ' ';
  return header;
}

std::string_view padding(std::uint64_t size) {
  const std::size_t rest = size % kBlock;
  return std::string_view(kZeros).substr(0, rest == 0 ? 0 : kBlock - rest);
}

std::string_view end_of_archive() { return kZeros; }

std::expected<void, std::string> Reader::read_exactly(char* into, std::size_t n, const char* what) {
  in_.read(into, static_cast<std::streamsize>(n));
  const auto got = static_cast<std::size_t>(in_.gcount());
  if (got != n) {
    return std::unexpected("the archive ends at " + at(offset_ + got) + ", inside " + what +
                           ": it was cut short");
  }
  offset_ += n;
  return {};
}

std::expected<std::optional<Member>, std::string> Reader::next() {
  if (current_) return std::unexpected(std::string("a member's data was not read"));
  std::string header(kBlock, '\0');
  const std::uint64_t start = offset_;
  if (auto r = read_exactly(header.data(), kBlock, "a member's header"); !r) return std::unexpected(r.error());
  if (header == std::string_view(kZeros).substr(0, kBlock)) {
    // The end: a second zero block, then nothing but zeros (tar pads to its record size).
    if (auto r = read_exactly(header.data(), kBlock, "the end-of-archive blocks"); !r) return std::unexpected(r.error());
    std::array<char, 4096> rest;
    std::uint64_t where = start;
    for (char c : header) {
      if (c != '\0') return std::unexpected("a non-zero byte at " + at(where) + ", in the end-of-archive blocks");
      ++where;
    }
    where = offset_;
    while (in_.read(rest.data(), rest.size()) || in_.gcount() > 0) {
      const auto n = static_cast<std::size_t>(in_.gcount());
      for (std::size_t i = 0; i < n; ++i) {
        if (rest[i] != '\0') return std::unexpected("a non-zero byte at " + at(where + i) + ", after the archive's end");
      }
      where += n;
    }
    return std::nullopt;
  }
  const auto stored = get_octal(std::string_view(header).substr(kChecksum, 8));
  if (!stored || *stored != checksum(header)) {
    return std::unexpected("the member header at " + at(start) + " fails its checksum");
  }
  if (std::string_view(header).substr(kMagic, 5) != "ustar") {
    return std::unexpected("the member header at " + at(start) + " is not a ustar header");
  }
  if (header[kType] != '0' && header[kType] != '\0') {
    return std::unexpected("the member at " + at(start) + " is not a regular file");
  }
  Member member;
  member.name.assign(header.data() + kName, strnlen(header.data() + kName, 100));
  if (!safe_name(member.name)) {
    return std::unexpected("the member at " + at(start) + " has a name outside the archive: " + member.name);
  }
  const auto size = get_octal(std::string_view(header).substr(kSize, 12));
  if (!size) return std::unexpected("the member header at " + at(start) + " has no size");
  member.size = *size;
  member.data_offset = offset_;
  current_ = member;
  return member;
}

std::expected<void, std::string> Reader::read_data(const std::function<void(std::string_view)>& sink) {
  if (!current_) return std::unexpected(std::string("no member to read"));
  std::vector<char> buffer(1 << 20);
  std::uint64_t left = current_->size;
  while (left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    const std::string what = current_->name + "'s data";
    if (auto r = read_exactly(buffer.data(), n, what.c_str()); !r) return r;
    sink(std::string_view(buffer.data(), n));
    left -= n;
  }
  const std::size_t pad = padding(current_->size).size();
  const std::uint64_t pad_start = offset_;
  if (auto r = read_exactly(buffer.data(), pad, "a member's padding"); !r) return r;
  for (std::size_t i = 0; i < pad; ++i) {
    if (buffer[i] != '\0') {
      return std::unexpected("a non-zero byte at " + at(pad_start + i) + ", in the padding after " + current_->name);
    }
  }
  current_.reset();
  return {};
}

}  // namespace keyledger::usecases::tar
