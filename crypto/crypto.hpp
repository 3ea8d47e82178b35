// Thin, checked wrappers over OpenSSL 3 for what keyledger needs: randomness, hashes, HMAC,
// AES-256-GCM, base64 and constant-time comparison. Every function is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace keyledger::crypto {

// Bytes from OpenSSL's CSPRNG; throws if the generator fails (nothing sensible to do then).
std::string random_bytes(std::size_t count);

std::string sha256(std::string_view data);  // raw 32 bytes
std::array<std::uint8_t, 32> sha256_digest(std::string_view data);  // the same, without an allocation
std::string hmac_sha256(std::string_view key, std::string_view data);

// SHA-256 of data given piece by piece (a file streamed into a backup). A copy carries the
// state so far: hashing may go on later from where the copy was taken.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  void update(std::string_view data);
  std::string finish();  // raw 32 bytes; the hasher starts over afterwards

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// HMAC-SHA256 under one fixed key with the key's inner and outer pads absorbed once, so a
// MAC costs two SHA-256 finalisations and no allocation: the verify path fingerprints every
// presented key with it. mac() is const and safe from any number of threads.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();
  HmacSha256Key(HmacSha256Key&&) noexcept;
  HmacSha256Key& operator=(HmacSha256Key&&) noexcept;
  std::array<unsigned char, 32> mac(std::string_view data) const;

 private:
  struct Pads;
  std::unique_ptr<Pads> pads_;
};

// HKDF-SHA256 (RFC 5869) of `length` bytes.
std::string hkdf_sha256(std::string_view key, std::string_view salt, std::string_view info,
                        std::size_t length);

// AES-256-GCM with a fresh 12-byte nonce: returns nonce || ciphertext || 16-byte tag.
// `aad` binds the ciphertext to its context (e.g. dashboard and key id).
std::string aes256gcm_seal(std::string_view key, std::string_view plaintext, std::string_view aad);
// nullopt when the tag does not verify (wrong key, wrong context, or tampered bytes).
std::optional<std::string> aes256gcm_open(std::string_view key, std::string_view sealed,
                                          std::string_view aad);

std::string to_hex(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// Ed25519 from a 32-byte seed: the public key (32 bytes) and signatures (64 bytes).
std::string ed25519_public_key(std::string_view seed);
std::string ed25519_sign(std::string_view seed, std::string_view message);
bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature);
std::optional<std::string> from_hex(std::string_view hex);

// Compares in time that depends only on the lengths, never on where the bytes differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Unpredictable bytes for identifiers (key and dashboard ids; uuid_v7 uses them too), from
// the CSPRNG but drawn 4 KiB at a time per thread: RAND_bytes' fixed cost per call is many
// times that of copying 10 or 16 bytes. Bytes are wiped from the pool as they are handed out.
// Never for keys, secrets, salts or nonces: those take random_bytes, straight from the
// generator. At most 64 bytes a call.
std::string random_id_bytes(std::size_t count);

// A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness; sortable by time.
std::string uuid_v7(std::int64_t unix_ms);

}  // namespace keyledger::crypto
