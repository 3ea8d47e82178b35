#include "ip_range.hpp"

#include <charconv>
#include <cstdio>
#include <optional>
#include <vector>

namespace keyledger::domain {

namespace {

std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view text) {
  std::array<std::uint8_t, 4> out{};
  std::size_t part = 0;
  std::size_t pos = 0;
  std::size_t end = 0;
  while (part < 4) {
    end = text.find('.', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view octet = text.substr(pos, end - pos);
    if (octet.empty() || octet.size() > 3) return std::nullopt;
    if (octet.size() > 1 && octet[0] == '0') return std::nullopt;  // no octal-looking octets
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(octet.data(), octet.data() + octet.size(), value);
    if (ec != std::errc{} || ptr != octet.data() + octet.size() || value > 255) return std::nullopt;
    out[part++] = static_cast<std::uint8_t>(value);
    if (end == text.size()) break;
    pos = end + 1;
  }
  if (part != 4 || end != text.size()) return std::nullopt;  // exactly four octets, nothing after
  return out;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::optional<std::array<std::uint8_t, 16>> parse_v6(std::string_view text) {
  // Split around "::" (at most one), parse groups on each side, fill zeros between.
  std::size_t gap = text.find("::");
  if (gap != std::string_view::npos && text.find("::", gap + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto parse_groups = [](std::string_view side, bool allow_v4_tail,
                         std::vector<std::uint16_t>& groups) -> bool {
    if (side.empty()) return true;
    std::size_t pos = 0;
    while (true) {
      std::size_t end = side.find(':', pos);
      std::string_view group =
          side.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      if (end == std::string_view::npos && allow_v4_tail &&
          group.find('.') != std::string_view::npos) {
        auto v4 = parse_v4(group);
        if (!v4) return false;
        groups.push_back(static_cast<std::uint16_t>((*v4)[0] << 8 | (*v4)[1]));
        groups.push_back(static_cast<std::uint16_t>((*v4)[2] << 8 | (*v4)[3]));
        return true;
      }
      if (group.empty() || group.size() > 4) return false;
      for (char c : group) {
        if (!is_hex(c)) return false;
      }
      unsigned value = 0;
      std::from_chars(group.data(), group.data() + group.size(), value, 16);
      groups.push_back(static_cast<std::uint16_t>(value));
      if (end == std::string_view::npos) return true;
      pos = end + 1;
    }
  };
  std::vector<std::uint16_t> head, tail;
  if (gap == std::string_view::npos) {
    if (!parse_groups(text, true, head) || head.size() != 8) return std::nullopt;
  } else {
    if (!parse_groups(text.substr(0, gap), false, head)) return std::nullopt;
    if (!parse_groups(text.substr(gap + 2), true, tail)) return std::nullopt;
    if (head.size() + tail.size() > 7) return std::nullopt;
  }
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < head.size(); ++i) {
    out[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(head[i] & 0xff);
  }
  for (std::size_t i = 0; i < tail.size(); ++i) {
    std::size_t at = 16 - 2 * (tail.size() - i);
    out[at] = static_cast<std::uint8_t>(tail[i] >> 8);
    out[at + 1] = static_cast<std::uint8_t>(tail[i] & 0xff);
  }
  return out;
}

bool prefix_matches(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                    int prefix_length) {
  int full = prefix_length / 8;
  for (int i = 0; i < full; ++i) {
    if (a[i] != b[i]) return false;
  }
  int rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

namespace {

IpAddress mapped(const IpAddress& v4) {
  IpAddress v6{true, {}};
  v6.bytes[10] = v6.bytes[11] = 0xff;
  for (int i = 0; i < 4; ++i) v6.bytes[12 + i] = v4.bytes[i];
  return v6;
}

}  // namespace

IpAddress IpAddress::unmapped() const {
  if (!v6) return *this;
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return *this;
  }
  if (bytes[10] != 0xff || bytes[11] != 0xff) return *this;
  IpAddress v4;
  for (int i = 0; i < 4; ++i) v4.bytes[i] = bytes[12 + i];
  return v4;
}

std::string IpAddress::to_string() const {
  char buf[64];
  if (!v6) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    return buf;
  }
  // RFC 5952: lower case, the longest run (>= 2) of zero groups compressed.
  std::array<unsigned, 8> g{};
  for (int i = 0; i < 8; ++i) g[i] = static_cast<unsigned>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) { ++i; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    out += buf;
  }
  return out;
}

bool IpRange::contains(const IpAddress& address) const {
  IpAddress candidate = address.unmapped();
  if (!base.v6) return !candidate.v6 && prefix_matches(candidate.bytes, base.bytes, prefix_length);
  // An IPv6 range sees an IPv4 client as a dual-stack socket does: ::ffff:a.b.c.d.
  if (!candidate.v6) candidate = mapped(candidate);
  return prefix_matches(candidate.bytes, base.bytes, prefix_length);
}

std::string IpRange::to_string() const {
  int host = base.v6 ? 128 : 32;
  if (prefix_length == host) return base.to_string();
  return base.to_string() + "/" + std::to_string(prefix_length);
}

std::expected<IpAddress, IpParseError> parse_ip_address(std::string_view text) {
  IpAddress address;
  if (text.find(':') != std::string_view::npos) {
    auto v6 = parse_v6(text);
    if (!v6) return std::unexpected("is not a valid IPv6 address");
    address.v6 = true;
    address.bytes = *v6;
    return address;
  }
  auto v4 = parse_v4(text);
  if (!v4) return std::unexpected("is not a valid IPv4 or IPv6 address");
  for (int i = 0; i < 4; ++i) address.bytes[i] = (*v4)[i];
  return address;
}

std::expected<IpRange, IpParseError> parse_ip_range(std::string_view text) {
  std::size_t slash = text.find('/');
  auto address = parse_ip_address(text.substr(0, slash));
  if (!address) return std::unexpected(address.error());
  int host = address->v6 ? 128 : 32;
  IpRange range{*address, host};
  if (slash == std::string_view::npos) {
    return address->unmapped().v6 ? range : IpRange{address->unmapped(), 32};
  }
  std::string_view prefix = text.substr(slash + 1);
  int length = -1;
  auto [ptr, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), length);
  if (prefix.empty() || prefix.size() > 3 || ec != std::errc{} ||
      ptr != prefix.data() + prefix.size() || length < 0 || length > host) {
    return std::unexpected("has a prefix length outside 0.." + std::to_string(host));
  }
  range.prefix_length = length;
  IpRange network = range;
  for (int bit = length; bit < host; ++bit) {
    network.base.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (network.base != range.base) {
    return std::unexpected("has host bits set below the prefix; the network is " +
                           network.to_string());
  }
  // An IPv4-mapped range (inside ::ffff:0:0/96) is the IPv4 range it maps, so that it prints
  // and matches as one.
  if (range.base.v6 && range.prefix_length >= 96 && !range.base.unmapped().v6) {
    return IpRange{range.base.unmapped(), range.prefix_length - 96};
  }
  return range;
}

}  // namespace keyledger::domain
