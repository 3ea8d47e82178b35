// IP addresses, CIDR ranges and E.164 numbers (domain/ip_range.hpp, domain/validation.hpp)
// on arbitrary text. Properties: what parses prints in a canonical form that parses back to
// the same value; a range contains its own base address; a validated allowlist validates
// again to itself; an E.164 number is accepted exactly when it is '+' and 8 to 15 digits
// not starting with 0, and is kept as sent.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "domain/ip_range.hpp"
#include "domain/validation.hpp"
#include "fuzz_support.hpp"

namespace kd = keyledger::domain;
using keyledger::fuzz::fail;

namespace {

void check_address(std::string_view text) {
  auto address = kd::parse_ip_address(text);
  if (!address) return;
  std::string canonical = address->to_string();
  auto again = kd::parse_ip_address(canonical);
  if (!again || *again != *address) fail("address '" + std::string(text) + "' prints as '" + canonical + "', which does not parse back");
}

void check_range(std::string_view text) {
  auto range = kd::parse_ip_range(text);
  if (!range) return;
  std::string canonical = range->to_string();
  auto again = kd::parse_ip_range(canonical);
  if (!again || *again != *range) fail("range '" + std::string(text) + "' prints as '" + canonical + "', which does not parse back");
  if (!range->contains(range->base)) fail("range '" + canonical + "' does not contain its own base address");
}

void check_allowlist(std::string_view text) {
  std::vector<std::string> entries;
  for (std::size_t start = 0; start <= text.size();) {
    auto end = std::min(text.find('\n', start), text.size());
    entries.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto valid = kd::validate_ip_allowlist(entries);
  if (!valid) return;
  auto again = kd::validate_ip_allowlist(*valid);
  if (!again || *again != *valid) fail("a canonical allowlist does not validate to itself");
}

void check_e164(std::string_view text) {
  bool expected = text.size() >= 9 && text.size() <= 16 && text[0] == '+' && text[1] != '0' &&
                  std::all_of(text.begin() + 1, text.end(), [](char c) { return c >= '0' && c <= '9'; });
  auto number = kd::validate_e164("number", text);
  if (number.has_value() != expected) fail("E.164 '" + std::string(text) + "' was " + (expected ? "refused" : "accepted"));
  if (number && *number != text) fail("E.164 '" + std::string(text) + "' was changed to '" + *number + "'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = keyledger::fuzz::as_text(data, size);
  check_address(text);
  check_range(text);
  check_allowlist(text);
  check_e164(text);
  return 0;
}
