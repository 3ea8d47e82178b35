#include "durable_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace keyledger::eventstore {

namespace {
template <class Data, class Call>
bool transfer_all(Call call, int fd, Data* data, std::size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = call(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}
}  // namespace

bool write_all(int fd, const char* data, std::size_t size, off_t offset) {
  return transfer_all(::pwrite, fd, data, size, offset);
}

bool read_all(int fd, char* data, std::size_t size, off_t offset) { return transfer_all(::pread, fd, data, size, offset); }

std::expected<int, std::string> lock_directory(const std::string& dir, const std::string& what) {
  const std::string path = dir + "/LOCK";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return std::unexpected(what + " is in use by another keyledger process (its LOCK is held)");
  }
  return fd;
}

bool sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ok_ = fd_ >= 0;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());  // never committed
  }
}

bool AtomicFile::write(std::string_view bytes) {
  while (ok_ && !bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok_ = false;
    else bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_;
}

bool AtomicFile::commit() {
  if (fd_ < 0) return false;
  bool ok = ok_ && ::fsync(fd_) == 0;
  ok = ::close(fd_) == 0 && ok;
  fd_ = -1;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp_.c_str());
    return false;
  }
  auto dir = std::filesystem::path(path_).parent_path().string();
  return sync_directory(dir.empty() ? "." : dir);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool write_file_atomically(const std::string& path, std::string_view contents) {
  AtomicFile file(path);
  return file.write(contents) && file.commit();
}

}  // namespace keyledger::eventstore
