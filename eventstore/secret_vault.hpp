// Issues, fingerprints, seals and opens key secrets (SPEC §4). The plaintext of a secret
// exists only in memory, on its way to the one caller entitled to see it.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <system_error>

#include "crypto/crypto.hpp"
#include "domain/channel.hpp"
#include "domain/sealed_secret.hpp"
#include "keyring.hpp"

namespace keyledger::eventstore {

struct IssuedSecret {
  std::string plaintext;              // returned to the caller at most once, never stored
  domain::SealedSecret sealed;        // what the command and the log carry
};

class SecretVault {
 public:
  SecretVault(Keyring& keyring, std::string fingerprint_pepper);

  // A fresh key of `channel` (30 CSPRNG base62 characters and its checksum), sealed under the
  // dashboard's data key and bound to `key_id`. The data key is created only when
  // `create_data_key` is set (dashboard creation); otherwise it must exist.
  std::expected<IssuedSecret, std::error_code> issue(domain::Channel channel,
                                                     const std::string& dashboard_id,
                                                     const std::string& key_id,
                                                     bool create_data_key = false);
  // The plaintext of a sealed secret; data_key_destroyed after the dashboard was closed.
  std::expected<std::string, std::error_code> open(const std::string& dashboard_id,
                                                   const std::string& key_id,
                                                   const domain::SealedSecret& sealed);
  // HMAC-SHA256(pepper, secret): the lookup key of the verify index.
  domain::Fingerprint fingerprint(std::string_view secret) const;

  Keyring& keyring() { return keyring_; }

 private:
  Keyring& keyring_;
  crypto::HmacSha256Key pepper_;  // its pads absorbed once: a fingerprint is two SHA-256 blocks
};

}  // namespace keyledger::eventstore
