#include "key_format.hpp"

namespace keyledger::domain {

namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<std::int8_t, 256> make_base62_values() {
  std::array<std::int8_t, 256> values{};
  values.fill(-1);
  for (std::size_t i = 0; i < kBase62.size(); ++i) values[static_cast<unsigned char>(kBase62[i])] = static_cast<std::int8_t>(i);
  return values;
}
constexpr auto kBase62Values = make_base62_values();

// 62^6 > 2^32, so six base62 digits hold any CRC32 value.
std::array<char, kKeyChecksumLength> checksum_digits(std::string_view body) {
  std::uint32_t crc = crc32(body);
  std::array<char, kKeyChecksumLength> out;
  for (std::size_t i = kKeyChecksumLength; i-- > 0;) {
    out[i] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) {
  static constexpr auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string format_key(Channel channel, const std::array<std::uint8_t, kKeyRandomLength>& digits) {
  std::string key(key_prefix(channel));
  for (std::uint8_t d : digits) key += kBase62[d % 62];
  auto checksum = checksum_digits(key);
  key.append(checksum.data(), checksum.size());
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
    if (kBase62Values[static_cast<unsigned char>(ch)] < 0) return std::nullopt;
  }
  std::string_view body = text.substr(0, text.size() - kKeyChecksumLength);
  auto checksum = checksum_digits(body);
  if (std::string_view(checksum.data(), checksum.size()) != text.substr(body.size())) return std::nullopt;
  return channel;
}

std::string mask_key(std::string_view key) {
  if (key.size() < 8) return "…";
  // Shown to callers as text: anything but printable ASCII (say, half of a UTF-8 sequence of
  // an arbitrary token) becomes '?'.
  auto shown = [](std::string_view part) {
    std::string out(part);
    for (char& c : out) {
      if (c < 0x20 || c > 0x7e) c = '?';
    }
    return out;
  };
  return shown(key.substr(0, 4)) + "…" + shown(key.substr(key.size() - 4));
}

}  // namespace keyledger::domain
