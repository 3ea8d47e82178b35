#include "json_writer.hpp"
#include "utf8.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace keyledger::eventstore::json_writer {

namespace {

// Whether none of the 8 bytes at p needs more than copying: each is printable ASCII (0x20 to
// 0x7f) and neither '"' nor '\\'. Word-at-a-time tests (a byte below n, a zero byte) in the
// manner of "Bit Twiddling Hacks"; they are exact once no byte has its high bit set, and a
// word with one goes the byte-by-byte way anyway.
bool plain_word(const unsigned char* p) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  auto has_zero = [&](std::uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  const std::uint64_t below_space = (v - kOnes * 0x20) & ~v & kHighs;
  return ((v & kHighs) | below_space | has_zero(v ^ (kOnes * '"')) | has_zero(v ^ (kOnes * '\\'))) == 0;
}

}  // namespace

void Writer::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_) out_.push_back(',');
  first_ = false;
}

void Writer::open(char bracket) {
  separate();
  out_.push_back(bracket);
  first_ = true;
}

void Writer::close(char bracket) {
  out_.push_back(bracket);
  first_ = false;  // the enclosing container has a value now
}

void Writer::key(std::string_view name) {
  separate();
  quoted(name);
  out_.push_back(':');
  after_key_ = true;
  first_ = false;
}

void Writer::string(std::string_view text) {
  separate();
  quoted(text);
}

void Writer::quoted(std::string_view text) {
  out_.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t run = i;  // plain characters are copied in runs, found 8 at a time where they can be
    while (run + 8 <= text.size() && plain_word(p + run)) run += 8;
    while (run < text.size() && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') ++run;
    out_.append(text.data() + i, run - i);
    i = run;
    if (i >= text.size()) break;
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const std::size_t len = utf8_sequence(p + i, text.size() - i);
      if (len == 0) throw std::invalid_argument("text that is not valid UTF-8 cannot be written as JSON");
      out_.append(text.data() + i, len);
      i += len;
      continue;
    }
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out_ += "\\u00";
        out_.push_back(kHex[c >> 4]);
        out_.push_back(kHex[c & 0xf]);
      }
    }
    ++i;
  }
  out_.push_back('"');
}

void Writer::unsigned_integer(std::uint64_t v) {
  separate();
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out_.append(digits, end);
}

void Writer::boolean(bool v) {
  separate();
  out_ += v ? "true" : "false";
}

void Writer::null() {
  separate();
  out_ += "null";
}

void Writer::integer(std::int64_t v) {
  separate();
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out_.append(digits, end);
}

void Writer::number(double v) {
  separate();
  if (!std::isfinite(v)) {
    out_.append("null");  // as dump() writes NaN and the infinities
    return;
  }
  char digits[32];
  auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out_.append(digits, end);
}

}  // namespace keyledger::eventstore::json_writer
