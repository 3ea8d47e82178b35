#include "snapshot_store.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "crc32c.hpp"
#include "durable_file.hpp"

namespace keyledger::eventstore {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "KLSNAP";
constexpr std::string_view kEndMagic = "KLEND!";
constexpr std::size_t kHeader = 8, kTrailer = 10;

std::vector<SnapshotInfo> list_snapshots(const std::string& directory) {
  std::vector<SnapshotInfo> found;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(fs::path(directory) / "snapshots", ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() == 25 && name.ends_with(".snap") && std::all_of(name.begin(), name.begin() + 20, ::isdigit)) {
      found.push_back(SnapshotInfo{std::stoull(name.substr(0, 20)), entry.path().string()});
    }
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.events > b.events; });
  return found;
}

// A read-only mapping of a whole file (snapshots can be hundreds of MiB: no copy).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st{};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      size_ = static_cast<std::size_t>(st.st_size);
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      data_ = p == MAP_FAILED ? nullptr : static_cast<const char*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view bytes() const { return data_ ? std::string_view(data_, size_) : std::string_view(); }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

std::optional<SnapshotInfo> write_snapshot(const std::string& directory, const CommandPipeline& pipeline, int keep) {
  std::error_code ec;
  fs::create_directories(fs::path(directory) / "snapshots", ec);
  const std::string tmp_name = directory + "/snapshots/writing.snap";
  AtomicFile file(tmp_name);
  std::string header(kMagic);
  header.push_back(static_cast<char>(kSnapshotVersion & 0xff));
  header.push_back(static_cast<char>(kSnapshotVersion >> 8));
  std::uint32_t crc = crc32c(header);
  bool ok = file.write(header);
  // The events count names the file: read once the body is written, it counts at least every
  // event the snapshot holds, and the newest snapshot sorts first.
  ok = ok && pipeline.write_snapshot([&](std::string_view chunk) {
    crc = crc32c(chunk, crc);
    return file.write(chunk);
  });
  std::string trailer;
  for (int i = 0; i < 4; ++i) trailer.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  trailer += kEndMagic;
  if (!ok || !file.write(trailer) || !file.commit()) return std::nullopt;
  const std::uint64_t events = pipeline.events();
  std::string digits = std::to_string(events);
  SnapshotInfo info{events, directory + "/snapshots/" + std::string(20 - digits.size(), '0') + digits + ".snap"};
  if (std::rename(tmp_name.c_str(), info.path.c_str()) != 0 || !sync_directory(directory + "/snapshots")) {
    return std::nullopt;
  }
  auto all = list_snapshots(directory);
  for (std::size_t i = static_cast<std::size_t>(keep); i < all.size(); ++i) fs::remove(all[i].path, ec);
  for (auto& old : fs::directory_iterator(fs::path(directory) / "snapshots", ec)) {
    if (old.path().extension() == ".json") fs::remove(old.path(), ec);  // version 1 (JSON) snapshots
  }
  return info;
}

std::optional<SnapshotInfo> restore_latest_snapshot(const std::string& directory, CommandPipeline& pipeline,
                                                    const std::function<void(const std::string&)>& report) {
  auto note = [&](const SnapshotInfo& s, const std::string& why) {
    if (report) report("ignored snapshot " + s.path + ": " + why);
  };
  for (auto& candidate : list_snapshots(directory)) {
    MappedFile file(candidate.path);
    std::string_view bytes = file.bytes();
    if (bytes.size() < kHeader + kTrailer || !bytes.starts_with(kMagic) || !bytes.ends_with(kEndMagic)) {
      note(candidate, "not a whole keyledger snapshot");
      continue;
    }
    const std::uint16_t version = static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[6]) |
                                                             static_cast<unsigned char>(bytes[7]) << 8);
    if (version != kSnapshotVersion) {
      note(candidate, "its format version " + std::to_string(version) + " is not this keyledger's (" +
                          std::to_string(kSnapshotVersion) + ")");
      continue;
    }
    const std::string_view checked = bytes.substr(0, bytes.size() - kTrailer);
    std::uint32_t stored = 0;
    for (int i = 0; i < 4; ++i) stored |= std::uint32_t(static_cast<unsigned char>(checked.end()[i])) << (8 * i);
    if (crc32c(checked) != stored) {
      note(candidate, "it fails its CRC32C");
      continue;
    }
    std::string problem;
    if (pipeline.restore_snapshot(checked.substr(kHeader), &problem)) {
      note(candidate, problem);  // the pipeline forgot what it restored of it
      continue;
    }
    candidate.events = pipeline.events();
    return candidate;
  }
  return std::nullopt;
}

}  // namespace keyledger::eventstore
