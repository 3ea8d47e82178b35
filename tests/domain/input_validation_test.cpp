#include <catch2/catch.hpp>

#include "domain/ip_range.hpp"
#include "domain/validation.hpp"

namespace kd = keyledger::domain;

TEST_CASE("IPv4 addresses parse strictly") {
  REQUIRE(kd::parse_ip_address("203.0.113.7")->to_string() == "203.0.113.7");
  for (auto bad : {"203.0.113", "203.0.113.7.1", "256.0.0.1", "01.2.3.4", "1..2.3", "a.b.c.d", "", "1.2.3.4 "}) {
    INFO(bad);
    REQUIRE_FALSE(kd::parse_ip_address(bad).has_value());
  }
}

TEST_CASE("IPv6 addresses parse in full, compressed and IPv4-tailed forms") {
  REQUIRE(kd::parse_ip_address("2001:0db8:0000:0000:0000:0000:0000:0001")->to_string() == "2001:db8::1");
  REQUIRE(kd::parse_ip_address("::1")->to_string() == "::1");
  REQUIRE(kd::parse_ip_address("::")->to_string() == "::");
  REQUIRE(kd::parse_ip_address("fe80::1:2")->to_string() == "fe80::1:2");
  REQUIRE(kd::parse_ip_address("::ffff:192.0.2.1")->unmapped().to_string() == "192.0.2.1");
  for (auto bad : {"1::2::3", "2001:db8:::1", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", ":1", "1:2:3:4:5:6:7"}) {
    INFO(bad);
    REQUIRE_FALSE(kd::parse_ip_address(bad).has_value());
  }
}

TEST_CASE("CIDR ranges contain exactly their addresses, IPv4-mapped IPv6 included") {
  auto range = kd::parse_ip_range("198.51.100.0/22");
  REQUIRE(range.has_value());
  REQUIRE(range->contains(*kd::parse_ip_address("198.51.103.255")));
  REQUIRE_FALSE(range->contains(*kd::parse_ip_address("198.51.104.0")));
  REQUIRE(range->contains(*kd::parse_ip_address("::ffff:198.51.100.9")));
  REQUIRE_FALSE(range->contains(*kd::parse_ip_address("2001:db8::1")));
  auto v6 = kd::parse_ip_range("2001:db8::/32");
  REQUIRE(v6->contains(*kd::parse_ip_address("2001:db8:ffff::1")));
  REQUIRE_FALSE(v6->contains(*kd::parse_ip_address("2001:db9::1")));
  REQUIRE(kd::parse_ip_range("0.0.0.0/0")->contains(*kd::parse_ip_address("8.8.8.8")));
  REQUIRE(kd::parse_ip_range("10.0.0.1")->contains(*kd::parse_ip_address("10.0.0.1")));
  REQUIRE_FALSE(kd::parse_ip_range("10.0.0.1")->contains(*kd::parse_ip_address("10.0.0.2")));
}

// Found by fuzz/input_parsers_fuzz: "::ffff:c000:201" was kept as an IPv6 range, which no
// client address ever matched, since clients' mapped addresses are compared as IPv4.
TEST_CASE("an allowlist entry written as IPv4-mapped IPv6 is the IPv4 range and matches its clients") {
  for (auto [text, canonical] : {std::pair{"::ffff:192.0.2.1", "192.0.2.1"}, std::pair{"::ffff:c000:201", "192.0.2.1"},
                                 std::pair{"::ffff:192.0.2.0/120", "192.0.2.0/24"}, std::pair{"::ffff:0:0/96", "0.0.0.0/0"}}) {
    INFO(text);
    auto range = kd::parse_ip_range(text);
    REQUIRE(range.has_value());
    REQUIRE(range->to_string() == canonical);
    REQUIRE(range->contains(*kd::parse_ip_address("192.0.2.1")));
    REQUIRE(range->contains(*kd::parse_ip_address("::ffff:192.0.2.1")));
    REQUIRE(range->contains(range->base));
  }
  REQUIRE_FALSE(kd::parse_ip_range("::ffff:192.0.2.0/120")->contains(*kd::parse_ip_address("192.0.3.1")));
  // An IPv6 range that covers the mapped block covers the IPv4 clients in it as well.
  auto wide = kd::parse_ip_range("::/64");
  REQUIRE(wide->contains(*kd::parse_ip_address("192.0.2.1")));
  REQUIRE(wide->contains(*kd::parse_ip_address("::1")));
  REQUIRE_FALSE(kd::parse_ip_range("2001:db8::/32")->contains(*kd::parse_ip_address("192.0.2.1")));
}

TEST_CASE("CIDR ranges with host bits set or prefixes out of range are refused with the reason") {
  auto host_bits = kd::parse_ip_range("10.0.0.1/24");
  REQUIRE_FALSE(host_bits.has_value());
  REQUIRE(host_bits.error().find("10.0.0.0/24") != std::string::npos);
  for (auto bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "2001:db8::/129", "10.0.0.0/2a"}) {
    INFO(bad);
    REQUIRE_FALSE(kd::parse_ip_range(bad).has_value());
  }
}

TEST_CASE("names are 1 to 64 characters, counted as characters, without control characters") {
  REQUIRE(kd::validate_name("name", std::string(64, 'a')).has_value());
  REQUIRE_FALSE(kd::validate_name("name", std::string(65, 'a')).has_value());
  std::string accents;
  for (int i = 0; i < 64; ++i) accents += "\xc3\xa9";  // 64 × é, 128 bytes
  REQUIRE(kd::validate_name("name", accents).has_value());
  REQUIRE_FALSE(kd::validate_name("name", "").has_value());
  REQUIRE_FALSE(kd::validate_name("name", "   ").has_value());
  REQUIRE_FALSE(kd::validate_name("name", "tab\there").has_value());
  REQUIRE_FALSE(kd::validate_name("name", "\xff\xfe").has_value());
  REQUIRE(kd::validate_name("name", "").error().field == "name");
}

TEST_CASE("E.164 numbers are a plus and 8 to 15 digits") {
  REQUIRE(kd::validate_e164("number", "+14155550100").has_value());
  REQUIRE(kd::validate_e164("number", "+12345678").has_value());
  REQUIRE(kd::validate_e164("number", "+123456789012345").has_value());
  REQUIRE_FALSE(kd::validate_e164("number", "+1234567").has_value());
  REQUIRE_FALSE(kd::validate_e164("number", "+1234567890123456").has_value());
  REQUIRE_FALSE(kd::validate_e164("number", "+1 415 555 0100").has_value());
}

TEST_CASE("passwords are checked for length only, and the error never repeats the password") {
  auto short_one = kd::validate_password("password", "hunter2");
  REQUIRE_FALSE(short_one.has_value());
  REQUIRE(short_one.error().field == "password");
  REQUIRE(short_one.error().detail.find("hunter2") == std::string::npos);
  REQUIRE(kd::validate_password("password", "correct horse battery").has_value());
}

TEST_CASE("the Email permission catalogue is the one the spec lists") {
  REQUIRE(kd::email_permission_catalogue().size() == 9);
  std::vector<std::string> every(kd::email_permission_catalogue().begin(), kd::email_permission_catalogue().end());
  REQUIRE(kd::validate_permissions(every).has_value());
}
