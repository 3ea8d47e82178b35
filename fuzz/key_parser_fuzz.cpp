// The key checksum parser (domain/key_format.hpp). The first input byte picks the mode:
// even, the rest as text; odd, a well-formed key built from the next 31 bytes (channel and
// random digits) with one character then replaced as the next two bytes say.
//
// Properties: parse_key accepts only 40-character texts with a channel's prefix; every
// formatted key parses to its channel; changing any single character of a key to another
// is always detected; the mask shows only the prefix and the last four characters, and only
// printable text.
#include <array>
#include <cstdint>
#include <string>

#include "domain/key_format.hpp"
#include "fuzz_support.hpp"

namespace kd = keyledger::domain;
using keyledger::fuzz::fail;

namespace {

void check_mask(std::string_view text) {
  std::string masked = kd::mask_key(text);
  std::string_view ellipsis = "…";
  auto at = masked.find(ellipsis);
  if (at == std::string::npos) fail("the mask of '" + std::string(text) + "' has no ellipsis");
  std::string shown = masked.substr(0, at) + masked.substr(at + ellipsis.size());
  for (char c : shown) {
    if (c < 0x20 || c > 0x7e) fail("the mask of a text shows a byte that is not printable ASCII");
  }
  if (text.size() >= 8 && shown.size() != 8) fail("the mask of '" + std::string(text) + "' shows more than prefix and last four");
}

void check_text(std::string_view text) {
  auto channel = kd::parse_key(text);
  check_mask(text);
  if (!channel) return;
  if (text.size() != kd::kKeyLength) fail("a key of the wrong length parsed: " + std::string(text));
  if (kd::mask_key(text) != std::string(text.substr(0, 4)) + "…" + std::string(text.substr(36))) {
    fail("the mask of a key is not prefix … last four");
  }
}

void check_typo(const std::uint8_t* data, std::size_t size) {
  if (size < 34) return;
  auto channel = static_cast<kd::Channel>(data[0] % 4);
  std::array<std::uint8_t, kd::kKeyRandomLength> digits{};
  for (std::size_t i = 0; i < digits.size(); ++i) digits[i] = data[1 + i] % 62;
  std::string key = kd::format_key(channel, digits);
  if (kd::parse_key(key) != channel) fail("a formatted key does not parse to its channel: " + key);
  check_text(key);
  std::string typo = key;
  typo[data[31] % typo.size()] = static_cast<char>(data[32]);
  if (typo != key && kd::parse_key(typo)) fail("a one-character typo was not detected: " + key + " -> " + typo);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2) {
    check_typo(data + 1, size - 1);
  } else {
    check_text(keyledger::fuzz::as_text(data + 1, size - 1));
  }
  return 0;
}
