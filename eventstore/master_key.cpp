#include "master_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/crypto.hpp"

namespace keyledger::eventstore {

std::string MasterKey::key_encryption_key() const {
  return crypto::hkdf_sha256(bytes, "keyledger", "keyring key-encryption key v1", 32);
}

std::string MasterKey::id() const { return crypto::to_hex(crypto::hkdf_sha256(bytes, "keyledger", "master key id v1", 8)); }

StoreKeys MasterKey::derived_store_keys() const {
  return StoreKeys{crypto::hkdf_sha256(bytes, "keyledger", "secret fingerprint pepper v1", 32),
                   crypto::hkdf_sha256(bytes, "keyledger", "audit checkpoint signing key v1", 32),
                   crypto::hkdf_sha256(bytes, "keyledger", "session token signing key v1", 32),
                   crypto::hkdf_sha256(bytes, "keyledger", "idempotency request digest v1", 32)};
}

std::expected<MasterKey, std::string> load_master_key(const std::string& path) {
  if (path.empty()) {
    return std::unexpected(
        "no master key configured: set KEYLEDGER_MASTER_KEY_FILE (create one with `keyledger keygen FILE`)");
  }
  // Non-blocking, so that a FIFO named by mistake is refused rather than waited on.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::unexpected("cannot open master key file " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::unexpected("master key file " + path + " is not a regular file");
  }
  if (st.st_mode & 077) {
    ::close(fd);
    return std::unexpected("master key file " + path + " is readable by group or others; chmod 600 it");
  }
  std::string bytes(33, '\0');
  ssize_t n = ::read(fd, bytes.data(), bytes.size());
  ::close(fd);
  if (n != 32) {
    return std::unexpected("master key file " + path + " must hold exactly 32 bytes; create one with `keyledger keygen FILE`");
  }
  bytes.resize(32);
  return MasterKey{std::move(bytes)};
}

std::expected<void, std::string> write_new_master_key(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot create " + path + ": " + std::strerror(errno));
  std::string key = crypto::random_bytes(32);
  bool ok = ::write(fd, key.data(), key.size()) == 32 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return std::unexpected("cannot write " + path);
  }
  return {};
}

}  // namespace keyledger::eventstore
