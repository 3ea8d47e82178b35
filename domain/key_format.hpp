// The text form of a secret (SPEC §4): channel prefix + 30 random base62 characters + 6 base62
// characters of CRC32 over everything before them. The checksum lets a scanner tell a real
// key from noise offline; it is no protection (anyone can compute it).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "channel.hpp"

namespace keyledger::domain {

inline constexpr std::size_t kKeyRandomLength = 30;
inline constexpr std::size_t kKeyChecksumLength = 6;
inline constexpr std::size_t kKeyLength = 4 + kKeyRandomLength + kKeyChecksumLength;

// Builds a key from 30 random bytes; each byte must already be uniform in [0, 62).
std::string format_key(Channel channel, const std::array<std::uint8_t, kKeyRandomLength>& digits);

// The channel of a well-formed key (right prefix, length, alphabet and checksum).
std::optional<Channel> parse_key(std::string_view text);

// The form shown in listings: prefix + "…" + the last 4 characters.
std::string mask_key(std::string_view key);

std::uint32_t crc32(std::string_view bytes);

}  // namespace keyledger::domain
