// The keyed HMAC of the verify path against OpenSSL's one-shot HMAC and RFC 4231.
#include <catch2/catch.hpp>

#include "crypto/crypto.hpp"

namespace crypto = keyledger::crypto;

namespace {
std::string as_string(const std::array<unsigned char, 32>& mac) { return {mac.begin(), mac.end()}; }
}  // namespace

TEST_CASE("crypto: the keyed HMAC-SHA256 matches RFC 4231 test cases 1, 2 and 6") {
  CHECK(crypto::to_hex(as_string(crypto::HmacSha256Key(std::string(20, '\x0b')).mac("Hi There"))) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(crypto::to_hex(as_string(crypto::HmacSha256Key("Jefe").mac("what do ya want for nothing?"))) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the block is hashed first.
  CHECK(crypto::to_hex(as_string(crypto::HmacSha256Key(std::string(131, '\xaa'))
                                     .mac("Test Using Larger Than Block-Size Key - Hash Key First"))) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("crypto: the keyed HMAC-SHA256 equals one-shot HMAC for every key and message length") {
  for (std::size_t key_length : {0, 1, 31, 32, 63, 64, 65, 200}) {
    std::string key = crypto::random_bytes(key_length);
    crypto::HmacSha256Key keyed(key);
    for (std::size_t length = 0; length < 300; length += 7) {
      std::string message = crypto::random_bytes(length);
      INFO("key " << key_length << " bytes, message " << length << " bytes");
      REQUIRE(as_string(keyed.mac(message)) == crypto::hmac_sha256(key, message));
      // The precomputed state is not consumed by a MAC.
      REQUIRE(as_string(keyed.mac(message)) == crypto::hmac_sha256(key, message));
    }
  }
}
