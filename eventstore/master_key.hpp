// The master key: 32 random bytes in a file named by configuration. It wraps everything the
// keyring keeps (keyring.hpp); it can be replaced by a rotation while the store serves.
#pragma once

#include <expected>
#include <string>

namespace keyledger::eventstore {

// The store's keys that are not data keys. Stores from before they were kept in the keyring
// derived them from the master key (MasterKey::derived_store_keys()); such a store's keyring
// is given them, so fingerprints, checkpoints, sessions and idempotency records stay valid.
struct StoreKeys {
  std::string fingerprint_pepper;       // HMAC key of the verify index's fingerprints
  std::string checkpoint_signing_seed;  // Ed25519 seed of audit checkpoints
  std::string session_signing_key;      // HMAC key of session tokens
  std::string idempotency_key;          // HMAC key of idempotency request digests
};

struct MasterKey {
  std::string bytes;  // exactly 32

  // Keys derived with HKDF, so no single key is used for two purposes.
  std::string key_encryption_key() const;  // wraps the keyring's records
  // Names this key in the keyring's records without revealing it (16 hex digits).
  std::string id() const;
  // The store keys as stores derived them before the keyring kept them (see StoreKeys).
  StoreKeys derived_store_keys() const;
};

// Reads the file; the error text says exactly what is wrong (missing, wrong size, readable
// by group or others) without ever printing key material.
std::expected<MasterKey, std::string> load_master_key(const std::string& path);

// Writes 32 fresh random bytes with mode 0600; refuses to overwrite an existing file.
std::expected<void, std::string> write_new_master_key(const std::string& path);

}  // namespace keyledger::eventstore
