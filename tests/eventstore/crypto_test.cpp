// The keyed HMAC of the verify path against OpenSSL's one-shot HMAC and RFC 4231; SHA-256 against FIPS 180-4.
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

TEST_CASE("crypto: SHA-256, one-shot and incremental, matches FIPS 180-4's examples") {
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(crypto::to_hex(crypto::sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::to_hex(crypto::sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::to_hex(crypto::sha256(two_blocks)) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(crypto::to_hex(crypto::sha256(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const auto digest = crypto::sha256_digest("abc");
  CHECK(std::string(digest.begin(), digest.end()) == crypto::sha256("abc"));
  crypto::Sha256 hasher;
  for (std::size_t i = 0; i < two_blocks.size(); i += 5) hasher.update(std::string_view(two_blocks).substr(i, 5));
  CHECK(hasher.finish() == crypto::sha256(two_blocks));
  CHECK(hasher.finish() == crypto::sha256(""));  // finish() starts the hasher again
}
