// What the domain and the log may know about a key's secret. The plaintext is generated,
// fingerprinted and encrypted outside the domain; only these three derived values come in.
#pragma once

#include <string>

namespace keyledger::domain {

struct SealedSecret {
  std::string fingerprint;  // HMAC-SHA256(pepper, secret), hex: the verification lookup key
  std::string ciphertext;   // AES-256-GCM under the dashboard's data key, base64
  std::string masked;       // prefix + "…" + last 4, safe to list

  friend bool operator==(const SealedSecret&, const SealedSecret&) = default;
};

}  // namespace keyledger::domain
