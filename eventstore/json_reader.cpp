#include "json_reader.hpp"
#include "utf8.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace keyledger::eventstore::json_reader {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Where the run of plain ASCII (no quote, backslash, control character or byte >= 0x80)
// starting at `at` ends: 16 bytes at a time with SSE2, which every x86-64 has.
std::size_t plain_ascii_run(std::string_view in, std::size_t at) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), top3 = _mm_set1_epi8(static_cast<char>(0xe0));
  while (in.size() - at >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.data() + at));
    const __m128i control = _mm_cmpeq_epi8(_mm_and_si128(v, top3), _mm_setzero_si128());  // < 0x20
    const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
    const int stop = _mm_movemask_epi8(special) | _mm_movemask_epi8(v);  // the latter: bytes >= 0x80
    if (stop != 0) return at + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(stop)));
    at += 16;
  }
#endif
  while (at < in.size()) {
    const auto c = static_cast<unsigned char>(in[at]);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
    ++at;
  }
  return at;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr int kMaxDepth = 64;
constexpr std::string_view kNotAnInteger = "a number that is not an integer of at most 64 bits";

}  // namespace

void Reader::whitespace() {
  while (at_ < in_.size() && (in_[at_] == ' ' || in_[at_] == '\n' || in_[at_] == '\r' || in_[at_] == '\t')) ++at_;
}

bool Reader::consume(char c) {
  whitespace();
  if (ok_ && at_ < in_.size() && in_[at_] == c) {
    ++at_;
    return true;
  }
  return false;
}

bool Reader::literal(std::string_view word) {
  whitespace();
  if (ok_ && in_.substr(at_, word.size()) == word) {
    at_ += word.size();
    return true;
  }
  return false;
}

bool Reader::open(char bracket) {
  if (!consume(bracket) || ++depth_ > kMaxDepth) {
    fail("not valid JSON");
    return false;
  }
  first_ = true;
  return true;
}

// True when another member or element follows (its separator consumed), false at the end of
// the container (its closing bracket consumed) or on a failure.
bool Reader::more(char closing) {
  if (!ok_) return false;
  if (consume(closing)) {
    --depth_;
    first_ = false;
    return false;
  }
  if (!first_ && !consume(',')) {
    fail("not valid JSON");
    return false;
  }
  first_ = false;
  return true;
}

bool Reader::begin_object() { return open('{'); }

bool Reader::next_key(std::string& key) {
  if (!more('}')) return false;
  key = string();
  if (!consume(':')) fail("not valid JSON");
  return ok_;
}

bool Reader::begin_array() { return open('['); }

bool Reader::next_element() { return more(']'); }

std::string Reader::string() {
  std::string out;
  if (!consume('"')) {
    fail("not valid JSON");
    return out;
  }
  while (ok_) {
    // The run of bytes up to the next quote, backslash or control character, copied whole.
    std::size_t start = at_;
    while (at_ < in_.size()) {
      at_ = plain_ascii_run(in_, at_);
      if (at_ >= in_.size()) break;
      const auto c = static_cast<unsigned char>(in_[at_]);
      if (c == '"' || c == '\\' || c < 0x20) break;
      if (c < 0x80) {
        ++at_;
        continue;
      }
      std::size_t len = utf8_sequence(reinterpret_cast<const unsigned char*>(in_.data()) + at_, in_.size() - at_);
      if (len == 0) {
        fail("a string that is not valid UTF-8");
        return {};
      }
      at_ += len;
    }
    out.append(in_.data() + start, at_ - start);
    if (at_ >= in_.size() || static_cast<unsigned char>(in_[at_]) < 0x20) {
      fail("not valid JSON");
      return {};
    }
    if (in_[at_++] == '"') return out;
    // An escape.
    if (at_ >= in_.size()) {
      fail("not valid JSON");
      return {};
    }
    const char e = in_[at_++];
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        auto unit = [&]() -> int {
          if (in_.size() - at_ < 4) return -1;
          int v = 0;
          for (int i = 0; i < 4; ++i) {
            int d = hex_digit(in_[at_ + i]);
            if (d < 0) return -1;
            v = v * 16 + d;
          }
          at_ += 4;
          return v;
        };
        int cp = unit();
        if (cp < 0) {
          fail("not valid JSON");
          return {};
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {  // a high surrogate: a low one must follow
          if (in_.substr(at_, 2) != "\\u") {
            fail("not valid JSON");
            return {};
          }
          at_ += 2;
          int low = unit();
          if (low < 0xdc00 || low > 0xdfff) {
            fail("not valid JSON");
            return {};
          }
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          fail("not valid JSON");
          return {};
        }
        append_utf8(out, static_cast<std::uint32_t>(cp));
        break;
      }
      default:
        fail("not valid JSON");
        return {};
    }
  }
  return {};
}

std::string_view Reader::plain_string() {
  if (!consume('"')) {
    fail("not valid JSON");
    return {};
  }
  const std::size_t start = at_;
  at_ = plain_ascii_run(in_, at_);
  if (at_ >= in_.size() || in_[at_] != '"') {
    fail("a string that is not plain ASCII");
    return {};
  }
  return in_.substr(start, at_++ - start);
}

std::uint64_t Reader::unsigned_integer() {
  whitespace();
  if (!ok_) return 0;
  const bool negative = at_ < in_.size() && in_[at_] == '-';
  const std::size_t start = at_ + (negative ? 1 : 0);
  std::size_t i = start;
  std::uint64_t v = 0;
  while (i < in_.size() && in_[i] >= '0' && in_[i] <= '9') {
    const std::uint64_t d = static_cast<std::uint64_t>(in_[i] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      fail(kNotAnInteger);
      return 0;
    }
    v = v * 10 + d;
    ++i;
  }
  const bool leading_zero = i - start > 1 && in_[start] == '0';
  const bool fraction = i < in_.size() && (in_[i] == '.' || in_[i] == 'e' || in_[i] == 'E');
  if (i == start || leading_zero || fraction || (negative && v != 0)) {
    fail(kNotAnInteger);
    return 0;
  }
  at_ = i;
  return v;
}

std::int64_t Reader::integer() {
  whitespace();
  const bool negative = ok_ && at_ < in_.size() && in_[at_] == '-';
  if (negative) {
    ++at_;
    if (at_ >= in_.size() || in_[at_] < '0' || in_[at_] > '9') {
      fail(kNotAnInteger);
      return 0;
    }
  }
  const std::uint64_t magnitude = unsigned_integer();
  if (magnitude > static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1 : 0)) {
    fail(kNotAnInteger);
    return 0;
  }
  return negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
}

bool Reader::boolean() {
  if (literal("true")) return true;
  if (!literal("false")) fail("not valid JSON");
  return false;
}

bool Reader::null() { return literal("null"); }

void Reader::skip_string() { string(); }

// Every number in an envelope is an integer of at most 64 bits: a fraction, an exponent or a
// longer one is refused even where it would be skipped.
void Reader::skip_number() {
  whitespace();
  if (at_ < in_.size() && in_[at_] == '-') {
    integer();
  } else {
    unsigned_integer();
  }
}

std::string_view Reader::skip() {
  whitespace();
  const std::size_t start = at_;
  if (!ok_ || at_ >= in_.size()) {
    fail("not valid JSON");
    return {};
  }
  std::string key;
  switch (in_[at_]) {
    case '{':
      begin_object();
      while (next_key(key)) skip();
      break;
    case '[':
      begin_array();
      while (next_element()) skip();
      break;
    case '"': skip_string(); break;
    case 't':
    case 'f': boolean(); break;
    case 'n':
      if (!null()) fail("not valid JSON");
      break;
    default: skip_number(); break;
  }
  return ok_ ? in_.substr(start, at_ - start) : std::string_view();
}

bool Reader::at_end() {
  whitespace();
  return ok_ && at_ == in_.size();
}

}  // namespace keyledger::eventstore::json_reader
