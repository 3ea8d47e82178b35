#include <catch2/catch.hpp>

#include "domain/key_format.hpp"

namespace kd = keyledger::domain;

namespace {
std::array<std::uint8_t, kd::kKeyRandomLength> digits(std::uint8_t seed) {
  std::array<std::uint8_t, kd::kKeyRandomLength> d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>((seed + i * 7) % 62);
  return d;
}
}  // namespace

TEST_CASE("a key is its channel prefix, 30 base62 characters and a 6-character checksum") {
  for (auto channel : {kd::Channel::email, kd::Channel::whatsapp, kd::Channel::sms, kd::Channel::rcs}) {
    std::string key = kd::format_key(channel, digits(3));
    REQUIRE(key.size() == 40);
    REQUIRE(key.substr(0, 4) == kd::key_prefix(channel));
    REQUIRE(kd::parse_key(key) == channel);
  }
}

TEST_CASE("the checksum tells a real key from noise offline") {
  std::string key = kd::format_key(kd::Channel::email, digits(9));
  for (std::size_t i = 4; i < key.size(); ++i) {
    std::string typo = key;
    typo[i] = typo[i] == 'a' ? 'b' : 'a';
    INFO(typo);
    REQUIRE_FALSE(kd::parse_key(typo).has_value());
  }
  REQUIRE_FALSE(kd::parse_key("kle_short").has_value());
  REQUIRE_FALSE(kd::parse_key("klx_" + key.substr(4)).has_value());
  REQUIRE_FALSE(kd::parse_key(key.substr(0, 39) + "!").has_value());
}

TEST_CASE("a masked key shows the prefix and the last four characters") {
  std::string key = kd::format_key(kd::Channel::sms, digits(1));
  REQUIRE(kd::mask_key(key) == "kls_…" + key.substr(36));
  // Arbitrary text (a leak report's token) is masked to printable ASCII, never half a
  // UTF-8 sequence.
  REQUIRE(kd::mask_key("ab\xc3\xa9" "cdefgh\xe2\x82\xac") == "ab??…h???");
  REQUIRE(kd::mask_key("\x01\x02\x7f\x80xyz\n1234") == "????…1234");
}

TEST_CASE("crc32 is the IEEE polynomial") { REQUIRE(kd::crc32("123456789") == 0xCBF43926u); }
