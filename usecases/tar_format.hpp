// The byte format of backup archives: POSIX ustar (any `tar` reads them), regular files
// only. Writing is three pure functions; reading checks what tar itself would not: every
// header's checksum and magic, names that stay inside the archive, zero padding, and the
// two zero blocks that end it — and says where (the archive offset) it found otherwise.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

namespace keyledger::usecases::tar {

inline constexpr std::size_t kBlock = 512;

// The header of a regular file `name` (at most 100 bytes, no "..") of `size` bytes, mode
// 0600, modified at `mtime` (seconds since the epoch).
std::string file_header(std::string_view name, std::uint64_t size, std::int64_t mtime);
// The zeros after `size` bytes of data, up to the next block.
std::string_view padding(std::uint64_t size);
// Two zero blocks.
std::string_view end_of_archive();

struct Member {
  std::string name;
  std::uint64_t size = 0;
  std::uint64_t data_offset = 0;  // where its data starts in the archive
};

// Reads an archive from the start of `in`, member by member.
class Reader {
 public:
  explicit Reader(std::istream& in) : in_(in) {}
  // The next member's header; nullopt once the archive ended whole; a sentence naming the
  // archive offset when it is damaged or cut short.
  std::expected<std::optional<Member>, std::string> next();
  // The current member's data, given to `sink` in pieces, then its padding checked. Call
  // once after each next() that returned a member.
  std::expected<void, std::string> read_data(const std::function<void(std::string_view)>& sink);

 private:
  std::expected<void, std::string> read_exactly(char* into, std::size_t n, const char* what);

  std::istream& in_;
  std::uint64_t offset_ = 0;
  std::optional<Member> current_;
};

}  // namespace keyledger::usecases::tar
