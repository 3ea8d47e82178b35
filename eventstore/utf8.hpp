// UTF-8 validation shared by the envelope's JSON reader and writer, so that what one accepts
// the other writes. Internal to eventstore/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keyledger::eventstore {

// Length of the UTF-8 sequence starting at p (at most n bytes), 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF are not).
inline std::size_t utf8_sequence(const unsigned char* p, std::size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  std::size_t len;
  std::uint32_t cp;
  if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace keyledger::eventstore
