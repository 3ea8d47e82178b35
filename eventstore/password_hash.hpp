// Memory-hard password hashes (scrypt, SPEC §2). The stored form names its parameters, so
// they can be raised later without invalidating existing hashes:
//   scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>
#pragma once

#include <string>
#include <string_view>

namespace keyledger::eventstore {

// N = 2^15, r = 8, p = 1: 32 MiB and roughly 0.1 s per hash on one core.
std::string hash_password(std::string_view password);

// Recomputes with the stored parameters and compares in constant time. A malformed stored
// hash never matches.
bool verify_password(std::string_view password, std::string_view stored_hash);

}  // namespace keyledger::eventstore
