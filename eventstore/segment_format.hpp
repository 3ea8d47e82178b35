// The embedded log's on-disk format, apart from any I/O (as LevelDB keeps log_format.h apart
// from its writer and reader): how a batch is framed, how a body splits into records, and
// recovery as a pure function of a segment's bytes. The file log, the recovery fuzzer and
// the tests all use this one unit.
//
// A segment holds batches back to back; all integers little-endian:
//   frame = u32 body_length | u32 crc32c(body) | body
//   body  = u64 base_position | u32 record_count | record_count × (u32 length | record bytes)
// `base_position` is the log offset of the batch's first record; the records that follow
// have the next offsets.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyledger::eventstore::segment_format {

inline constexpr std::size_t kFrameHeader = 8;       // body_length + crc
inline constexpr std::size_t kBodyHeader = 12;       // base_position + record_count
inline constexpr std::uint32_t kMaxBody = 64u << 20;  // larger lengths are damage, not data

std::uint32_t load32(const char* p);
std::uint64_t load64(const char* p);
void append32(std::string& out, std::uint32_t v);
void append64(std::string& out, std::uint64_t v);

// Appends the frame of one batch of `records` whose first record has offset `base`.
void append_batch(std::string& out, std::uint64_t base, std::span<const std::string_view> records);
// A frame around an arbitrary body (its length and checksum): for tests and fuzzers that
// build bodies by hand.
std::string frame(std::string_view body);

// Calls visit(offset_in_batch, record) for each record of a body, stopping when it returns
// false. False when the body's counts and lengths do not add up (then nothing is visited
// past the point where they stop adding up).
template <class Visit>
bool for_each_record(std::string_view body, Visit&& visit) {
  if (body.size() < kBodyHeader) return false;
  const std::uint32_t count = load32(body.data() + 8);
  std::size_t at = kBodyHeader;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (body.size() - at < 4) return false;
    const std::uint32_t length = load32(body.data() + at);
    at += 4;
    if (body.size() - at < length) return false;
    if (!visit(i, body.substr(at, length))) return true;
    at += length;
  }
  return at == body.size() && count > 0;
}
// True when the body's records add up exactly (a structural check, visiting nothing).
bool records_add_up(std::string_view body);

// Where one batch sits in its segment.
struct BatchLocation {
  std::uint64_t base = 0;     // offset of its first record
  std::uint32_t count = 0;    // records
  std::uint64_t offset = 0;   // of the frame header in the segment
  std::uint32_t length = 0;   // of the body
  std::uint64_t frame_end() const { return offset + kFrameHeader + length; }
};

// What stopped recovery at `offset`. A torn tail (a short header or a short body at the
// end) is what a crash during a write leaves; the other kinds are damage.
struct SegmentDamage {
  enum class Kind { torn_header, impossible_length, torn_batch, bad_checksum, out_of_sequence, bad_records };
  Kind kind;
  std::uint64_t offset = 0;  // of the frame where reading stopped

  bool torn() const { return kind == Kind::torn_header || kind == Kind::torn_batch; }
  // "a batch failing its CRC32C", ...: what an operator reads in a recovery note.
  std::string_view what() const;
};

struct RecoveredSegment {
  std::uint64_t valid_length = 0;      // bytes of whole, valid batches from the start
  std::uint64_t next_base = 0;         // the offset the next batch must start at
  std::vector<BatchLocation> batches;  // every valid batch, in order
  std::optional<SegmentDamage> damage; // why reading stopped before the end, if it did
};

// Validates batch by batch from the start of `segment`, whose first batch must start at
// offset `base`, and stops at the first bad one (Kafka's LogSegment.recover): everything
// before it is kept, nothing after it is trusted. A pure function of its arguments.
RecoveredSegment recover(std::string_view segment, std::uint64_t base);

// Checks one frame read back from a segment: its length and checksum match. For reads of
// single batches after start-up (a bit flipped in a sealed segment since).
bool frame_is_intact(std::string_view frame_bytes);

}  // namespace keyledger::eventstore::segment_format
