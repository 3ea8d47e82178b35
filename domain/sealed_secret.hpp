// What the domain and the log may know about a key's secret. The plaintext is generated,
// fingerprinted and encrypted outside the domain; only these derived values come in, as
// fixed-size bytes (the event codec writes them as hex, base64 and the masked text).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "key_format.hpp"

namespace keyledger::domain {

// HMAC-SHA256(pepper, secret): the verification lookup key.
using Fingerprint = std::array<std::uint8_t, 32>;
// AES-256-GCM of the key's text under the dashboard's data key: 12-byte nonce, the
// ciphertext of the kKeyLength characters, 16-byte tag.
inline constexpr std::size_t kSealedKeyLength = 12 + kKeyLength + 16;
using Ciphertext = std::array<std::uint8_t, kSealedKeyLength>;

struct SealedSecret {
  Fingerprint fingerprint{};
  Ciphertext ciphertext{};
  // The two ends a listing shows: the channel prefix and the last four characters.
  std::array<char, 8> mask{};

  // The form shown in listings: prefix + "…" + the last 4 characters (mask_key's form).
  std::string masked() const;
  // The mask of a masked text; false when the text is not of mask_key's form.
  static bool parse_masked(std::string_view text, std::array<char, 8>& mask);

  friend bool operator==(const SealedSecret&, const SealedSecret&) = default;
};

}  // namespace keyledger::domain
