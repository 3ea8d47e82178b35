#include "password_hash.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "crypto/crypto.hpp"

namespace keyledger::eventstore {

namespace {

constexpr unsigned kLog2N = 15;
constexpr unsigned kR = 8;
constexpr unsigned kP = 1;
constexpr std::size_t kHashBytes = 32;

std::optional<std::string> scrypt(std::string_view password, std::string_view salt, unsigned log2_n, unsigned r,
                                  unsigned p) {
  if (log2_n < 10 || log2_n > 20 || r < 1 || r > 32 || p < 1 || p > 16) return std::nullopt;
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr), EVP_KDF_free);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
  if (!ctx) throw std::runtime_error("scrypt unavailable in OpenSSL");
  std::uint64_t n = std::uint64_t{1} << log2_n;
  std::uint32_t rr = r, pp = p;
  std::uint64_t maxmem = 256ull * n * r * p;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()), password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &rr),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &pp),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  std::string out(kHashBytes, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) != 1) {
    throw std::runtime_error("scrypt failed");
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (true) {
    auto next = s.find(sep, pos);
    parts.push_back(s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) return parts;
    pos = next + 1;
  }
}

}  // namespace

std::string hash_password(std::string_view password) {
  std::string salt = crypto::random_bytes(16);
  std::string hash = *scrypt(password, salt, kLog2N, kR, kP);
  return "scrypt$" + std::to_string(kLog2N) + "$" + std::to_string(kR) + "$" + std::to_string(kP) + "$" +
         crypto::base64_encode(salt) + "$" + crypto::base64_encode(hash);
}

bool verify_password(std::string_view password, std::string_view stored_hash) {
  auto parts = split(stored_hash, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  try {
    unsigned log2_n = static_cast<unsigned>(std::stoul(std::string(parts[1])));
    unsigned r = static_cast<unsigned>(std::stoul(std::string(parts[2])));
    unsigned p = static_cast<unsigned>(std::stoul(std::string(parts[3])));
    auto salt = crypto::base64_decode(parts[4]);
    auto expected = crypto::base64_decode(parts[5]);
    if (!salt || !expected) return false;
    auto actual = scrypt(password, *salt, log2_n, r, p);
    return actual && crypto::constant_time_equal(*actual, *expected);
  } catch (const std::invalid_argument&) {
    return false;
  } catch (const std::out_of_range&) {
    return false;
  }
}

}  // namespace keyledger::eventstore
