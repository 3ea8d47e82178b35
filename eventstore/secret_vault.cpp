#include "secret_vault.hpp"

#include <algorithm>

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
    : keyring_(keyring), pepper_(fingerprint_pepper) {}

std::expected<IssuedSecret, std::error_code> SecretVault::issue(domain::Channel channel,
                                                                const std::string& dashboard_id,
                                                                const std::string& key_id,
                                                                bool create_data_key) {
  auto data_key = keyring_.data_key(dashboard_id, create_data_key);
  if (!data_key) return std::unexpected(data_key.error());
  IssuedSecret issued;
  issued.plaintext = domain::format_key(channel, random_base62_digits());
  issued.sealed.fingerprint = fingerprint(issued.plaintext);
  const std::string sealed = crypto::aes256gcm_seal(*data_key, issued.plaintext, seal_aad(dashboard_id, key_id));
  if (sealed.size() != issued.sealed.ciphertext.size()) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  std::copy(sealed.begin(), sealed.end(), issued.sealed.ciphertext.begin());
  domain::SealedSecret::parse_masked(domain::mask_key(issued.plaintext), issued.sealed.mask);
  return issued;
}

std::expected<std::string, std::error_code> SecretVault::open(const std::string& dashboard_id,
                                                              const std::string& key_id,
                                                              const domain::SealedSecret& sealed) {
  auto data_key = keyring_.data_key(dashboard_id, false);
  if (!data_key) return std::unexpected(data_key.error());
  const std::string_view bytes(reinterpret_cast<const char*>(sealed.ciphertext.data()), sealed.ciphertext.size());
  auto plain = crypto::aes256gcm_open(*data_key, bytes, seal_aad(dashboard_id, key_id));
  if (!plain) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  return *plain;
}

domain::Fingerprint SecretVault::fingerprint(std::string_view secret) const {
  const auto mac = pepper_.mac(secret);
  domain::Fingerprint out{};
  std::copy(mac.begin(), mac.end(), out.begin());
  return out;
}

}  // namespace keyledger::eventstore
