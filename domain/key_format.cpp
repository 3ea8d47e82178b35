#include "key_format.hpp"

namespace keyledger::domain {

namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

// 62^6 > 2^32, so six base62 digits hold any CRC32 value.
std::string checksum_digits(std::string_view body) {
  std::uint32_t crc = crc32(body);
  std::string out(kKeyChecksumLength, '0');
  for (std::size_t i = kKeyChecksumLength; i-- > 0;) {
    out[i] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) {
  static const auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string format_key(Channel channel, const std::array<std::uint8_t, kKeyRandomLength>& digits) {
  std::string key(key_prefix(channel));
  for (std::uint8_t d : digits) key += kBase62[d % 62];
  key += checksum_digits(key);
  return key;
}

std::optional<Channel> parse_key(std::string_view text) {
  if (text.size() != kKeyLength) return std::nullopt;
  std::optional<Channel> channel;
  for (Channel c : {Channel::email, Channel::whatsapp, Channel::sms, Channel::rcs}) {
    if (text.substr(0, 4) == key_prefix(c)) channel = c;
  }
  if (!channel) return std::nullopt;
  for (char ch : text.substr(4)) {
    if (kBase62.find(ch) == std::string_view::npos) return std::nullopt;
  }
  std::string_view body = text.substr(0, text.size() - kKeyChecksumLength);
  if (checksum_digits(body) != text.substr(body.size())) return std::nullopt;
  return channel;
}

std::string mask_key(std::string_view key) {
  if (key.size() < 8) return "…";
  return std::string(key.substr(0, 4)) + "…" + std::string(key.substr(key.size() - 4));
}

}  // namespace keyledger::domain
