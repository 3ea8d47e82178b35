// The snapshot format's primitives: little-endian fixed-width integers, LEB128 varints and
// length-prefixed bytes. A Reader never reads past its input: a failure is sticky (every
// later read returns zero or empty), so a decoder reads on and asks ok() once at the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace keyledger::eventstore::binary {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  // Signed values (times before 1970 stay small), zigzag-encoded.
  void i64(std::int64_t v) { varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void bytes(std::string_view v) {
    varint(v.size());
    out_.append(v);
  }
  void raw(std::string_view v) { out_.append(v); }

  std::string& buffer() { return out_; }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(in_[at_++]);
  }
  bool boolean() {
    std::uint8_t v = u8();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<unsigned char>(in_[at_ + i])) << (8 * i);
    at_ += 4;
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<unsigned char>(in_[at_ + i])) << (8 * i);
    at_ += 8;
    return v;
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!need(1)) return 0;
      const auto byte = static_cast<unsigned char>(in_[at_++]);
      v |= std::uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    ok_ = false;  // longer than any 64-bit value
    return 0;
  }
  std::int64_t i64() {
    const std::uint64_t z = varint();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::string_view bytes() {
    const std::uint64_t n = varint();
    if (!need(n)) return {};
    std::string_view v = in_.substr(at_, n);
    at_ += n;
    return v;
  }
  std::string string() { return std::string(bytes()); }
  std::string_view raw(std::size_t n) {
    if (!need(n)) return {};
    std::string_view v = in_.substr(at_, n);
    at_ += n;
    return v;
  }
  // A count of things that take at least `min_bytes` each: a damaged count can never make a
  // decoder reserve more than the input could hold.
  std::uint64_t count(std::size_t min_bytes = 1) {
    const std::uint64_t n = varint();
    if (min_bytes > 0 && n > remaining() / min_bytes) {
      ok_ = false;
      return 0;
    }
    return n;
  }

  bool ok() const { return ok_; }
  bool at_end() const { return at_ == in_.size(); }
  std::size_t remaining() const { return in_.size() - at_; }
  void fail() { ok_ = false; }

 private:
  bool need(std::uint64_t n) {
    if (!ok_ || n > in_.size() - at_) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::string_view in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace keyledger::eventstore::binary
