// eventstore/json_writer's strings: written byte for byte as nlohmann::json's dump() writes
// them (the stored hash chain is over those bytes), wherever in a string — and so wherever in
// an 8-byte word the writer scans — a character that needs escaping, a multi-byte character
// or an invalid byte stands.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "eventstore/json_writer.hpp"

namespace jw = keyledger::eventstore::json_writer;

namespace {
std::string written(const std::string& text) {
  std::string out;
  jw::Writer(out).string(text);
  return out;
}
}  // namespace

TEST_CASE("json_writer: every special character, at every position of a string up to 24 bytes, is escaped as dump() does") {
  const std::vector<std::string> specials = {"\"", "\\", "\b", "\f", "\n", "\r", "\t", std::string(1, '\0'), "\x01",
                                             "\x1f", " ", "\x7f", "/", "é", "漢", "😀"};
  for (const auto& special : specials) {
    for (std::size_t length = 0; length <= 24; ++length) {
      for (std::size_t at = 0; at <= length; ++at) {
        std::string text(length, 'a');
        text.insert(at, special);
        INFO("special " << nlohmann::json(special).dump() << " at " << at << " of " << length);
        REQUIRE(written(text) == nlohmann::json(text).dump());
      }
    }
  }
}

TEST_CASE("json_writer: random printable and non-ASCII text is written as dump() writes it") {
  std::mt19937 random(20261201);
  const std::vector<std::string> pieces = {"a", "Z", "0", " ", "~", "\"", "\\", "\n", "\x02", "é", "漢字", "😀", "\x7f"};
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    const int count = static_cast<int>(random() % 40);
    for (int i = 0; i < count; ++i) text += pieces[random() % pieces.size()];
    REQUIRE(written(text) == nlohmann::json(text).dump());
  }
}

TEST_CASE("json_writer: a byte that is not UTF-8 is refused wherever it stands") {
  for (std::size_t length = 0; length <= 20; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      for (std::string bad : {std::string("\xff"), std::string("\xc3"), std::string("\xed\xa0\x80")}) {
        std::string text(length, 'b');
        text.insert(at, bad);
        REQUIRE_THROWS_AS(written(text), std::invalid_argument);
      }
    }
  }
}
