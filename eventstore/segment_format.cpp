#include "segment_format.hpp"

#include "crc32c.hpp"

namespace keyledger::eventstore::segment_format {

std::uint32_t load32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::uint64_t load64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void append32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append_batch(std::string& out, std::uint64_t base, std::span<const std::string_view> records) {
  std::size_t body_length = kBodyHeader;
  for (auto r : records) body_length += 4 + r.size();
  const std::size_t start = out.size();
  out.reserve(start + kFrameHeader + body_length);
  append32(out, static_cast<std::uint32_t>(body_length));
  append32(out, 0);  // the checksum, once the body is in place
  append64(out, base);
  append32(out, static_cast<std::uint32_t>(records.size()));
  for (auto r : records) {
    append32(out, static_cast<std::uint32_t>(r.size()));
    out.append(r);
  }
  const std::uint32_t crc = crc32c(std::string_view(out).substr(start + kFrameHeader));
  for (int i = 0; i < 4; ++i) out[start + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

std::string frame(std::string_view body) {
  std::string out;
  append32(out, static_cast<std::uint32_t>(body.size()));
  append32(out, crc32c(body));
  out.append(body);
  return out;
}

bool records_add_up(std::string_view body) {
  return for_each_record(body, [](std::uint32_t, std::string_view) { return true; });
}

std::string_view SegmentDamage::what() const {
  switch (kind) {
    case Kind::torn_header: return "a torn batch header";
    case Kind::impossible_length: return "an impossible batch length";
    case Kind::torn_batch: return "a torn batch";
    case Kind::bad_checksum: return "a batch failing its CRC32C";
    case Kind::out_of_sequence: return "a batch out of sequence";
    case Kind::bad_records: return "a batch whose records do not add up";
  }
  return "damage";
}

RecoveredSegment recover(std::string_view segment, std::uint64_t base) {
  RecoveredSegment out;
  out.next_base = base;
  std::size_t at = 0;
  auto stop = [&](SegmentDamage::Kind kind) {
    out.damage = SegmentDamage{kind, at};
    return out;
  };
  while (at < segment.size()) {
    if (segment.size() - at < kFrameHeader) return stop(SegmentDamage::Kind::torn_header);
    const std::uint32_t length = load32(segment.data() + at);
    const std::uint32_t crc = load32(segment.data() + at + 4);
    if (length < kBodyHeader || length > kMaxBody) return stop(SegmentDamage::Kind::impossible_length);
    if (segment.size() - at - kFrameHeader < length) return stop(SegmentDamage::Kind::torn_batch);
    const std::string_view body = segment.substr(at + kFrameHeader, length);
    if (crc32c(body) != crc) return stop(SegmentDamage::Kind::bad_checksum);
    if (load64(body.data()) != out.next_base) return stop(SegmentDamage::Kind::out_of_sequence);
    if (!records_add_up(body)) return stop(SegmentDamage::Kind::bad_records);
    const std::uint32_t count = load32(body.data() + 8);
    out.batches.push_back(BatchLocation{out.next_base, count, at, length});
    out.next_base += count;
    at += kFrameHeader + length;
    out.valid_length = at;
  }
  return out;
}

bool frame_is_intact(std::string_view f) {
  if (f.size() < kFrameHeader + kBodyHeader) return false;
  const std::uint32_t length = load32(f.data());
  if (length != f.size() - kFrameHeader) return false;
  return crc32c(f.substr(kFrameHeader)) == load32(f.data() + 4);
}

}  // namespace keyledger::eventstore::segment_format
