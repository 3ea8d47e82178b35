// IPv4/IPv6 addresses and CIDR ranges, parsed once when a key's allowlist is set so that
// verification only compares bytes.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace keyledger::domain {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  // IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes the IPv4 address, so one rule covers both.
  IpAddress unmapped() const;
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpRange {
  IpAddress base;
  int prefix_length = 0;  // 0..32 for IPv4, 0..128 for IPv6

  bool contains(const IpAddress& address) const;
  // Canonical text: "203.0.113.0/24", "2001:db8::/32", or the bare address for a host.
  std::string to_string() const;
  friend bool operator==(const IpRange&, const IpRange&) = default;
};

// Why a text is not an address or range; a sentence for a person.
using IpParseError = std::string;

std::expected<IpAddress, IpParseError> parse_ip_address(std::string_view text);
// An address (a host range) or a CIDR range. Host bits set below the prefix are an error,
// so "10.0.0.1/24" is refused rather than silently widened. A range inside ::ffff:0:0/96 is
// the IPv4 range it maps ("::ffff:192.0.2.0/120" is "192.0.2.0/24"); other IPv6 ranges see
// IPv4 clients in their mapped form.
std::expected<IpRange, IpParseError> parse_ip_range(std::string_view text);

}  // namespace keyledger::domain
