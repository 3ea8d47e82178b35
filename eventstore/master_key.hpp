// The master key: 32 random bytes in a file named by configuration. Everything secret at
// rest descends from it: the keyring's key-encryption key and the fingerprint pepper.
#pragma once

#include <expected>
#include <string>

namespace keyledger::eventstore {

struct MasterKey {
  std::string bytes;  // exactly 32

  // Separate keys derived with HKDF, so no single key is used for two purposes.
  std::string key_encryption_key() const;
  std::string fingerprint_pepper() const;
  std::string checkpoint_signing_seed() const;  // Ed25519 seed for audit checkpoints
};

// Reads the file; the error text says exactly what is wrong (missing, wrong size, readable
// by group or others) without ever printing key material.
std::expected<MasterKey, std::string> load_master_key(const std::string& path);

// Writes 32 fresh random bytes with mode 0600; refuses to overwrite an existing file.
std::expected<void, std::string> write_new_master_key(const std::string& path);

}  // namespace keyledger::eventstore
