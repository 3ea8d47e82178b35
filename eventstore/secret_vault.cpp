#include "secret_vault.hpp"

#include "crypto/crypto.hpp"
#include "domain/key_format.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace {
std::string seal_aad(const std::string& dashboard_id, const std::string& key_id) {
  return "keyledger secret v1/" + dashboard_id + "/" + key_id;
}

std::array<std::uint8_t, domain::kKeyRandomLength> random_base62_digits() {
  std::array<std::uint8_t, domain::kKeyRandomLength> digits{};
  std::size_t filled = 0;
  while (filled < digits.size()) {
    for (unsigned char b : crypto::random_bytes(48)) {
      // 248 = 4 × 62: rejecting larger bytes keeps every digit exactly uniform.
      if (b < 248 && filled < digits.size()) digits[filled++] = static_cast<std::uint8_t>(b % 62);
    }
  }
  return digits;
}
}  // namespace

SecretVault::SecretVault(Keyring& keyring, std::string fingerprint_pepper)
    : keyring_(keyring), pepper_(std::move(fingerprint_pepper)) {}

std::expected<IssuedSecret, std::error_code> SecretVault::issue(domain::Channel channel,
                                                                const std::string& dashboard_id,
                                                                const std::string& key_id,
                                                                bool create_data_key) {
  auto data_key = keyring_.data_key(dashboard_id, create_data_key);
  if (!data_key) return std::unexpected(data_key.error());
  IssuedSecret issued;
  issued.plaintext = domain::format_key(channel, random_base62_digits());
  issued.sealed.fingerprint = fingerprint(issued.plaintext);
  issued.sealed.ciphertext =
      crypto::base64_encode(crypto::aes256gcm_seal(*data_key, issued.plaintext, seal_aad(dashboard_id, key_id)));
  issued.sealed.masked = domain::mask_key(issued.plaintext);
  return issued;
}

std::expected<std::string, std::error_code> SecretVault::open(const std::string& dashboard_id,
                                                              const std::string& key_id,
                                                              const domain::SealedSecret& sealed) {
  auto data_key = keyring_.data_key(dashboard_id, false);
  if (!data_key) return std::unexpected(data_key.error());
  auto bytes = crypto::base64_decode(sealed.ciphertext);
  auto plain = bytes ? crypto::aes256gcm_open(*data_key, *bytes, seal_aad(dashboard_id, key_id)) : std::nullopt;
  if (!plain) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  return *plain;
}

std::string SecretVault::fingerprint(std::string_view secret) const {
  return crypto::to_hex(crypto::hmac_sha256(pepper_, secret));
}

}  // namespace keyledger::eventstore
