// Files that must survive a crash whole or not at all (keyring, snapshots, sidecar indexes).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace keyledger::eventstore {

// A file written piece by piece beside its final name and put in place only by commit():
// the temporary file is fsynced, renamed over `path`, and the directory fsynced. Until then,
// and if anything fails (or the object goes away uncommitted), `path` stays as it was.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  bool write(std::string_view bytes);
  bool commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool ok_ = true;
};

// The whole of the file at `path`; nothing when it cannot be opened (it does not exist, say).
std::optional<std::string> read_file(const std::string& path);

// Writes `contents` to `path` as one AtomicFile. Returns false on any failure, leaving
// `path` as it was.
bool write_file_atomically(const std::string& path, std::string_view contents);

// Holds DIR/LOCK (made when missing) with an exclusive flock, so that one process at a time
// uses the directory: the lock's descriptor (closing it lets go), or a sentence naming
// `what` (e.g. "the data directory DIR") when another process holds it.
std::expected<int, std::string> lock_directory(const std::string& dir, const std::string& what);

// fsync of a directory, so that a create, rename or unlink inside it is durable.
bool sync_directory(const std::string& dir);

// pwrite or pread of all `size` bytes at `offset`, however many calls that takes; false on
// an error or (reading) the end of the file.
bool write_all(int fd, const char* data, std::size_t size, off_t offset);
bool read_all(int fd, char* data, std::size_t size, off_t offset);

}  // namespace keyledger::eventstore
