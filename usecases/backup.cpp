#include "usecases/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "crypto/crypto.hpp"
#include "eventstore/crc32c.hpp"
#include "eventstore/durable_file.hpp"
#include "eventstore/envelope.hpp"
#include "eventstore/rfc3339.hpp"
#include "usecases/hash_chains.hpp"
#include "usecases/tar_format.hpp"

namespace keyledger::usecases {

namespace es = eventstore;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kCrcBlock = 1 << 20;  // the manifest's CRC32C covers each MiB
constexpr auto kSettle = std::chrono::seconds(5);
constexpr auto kYield = std::chrono::milliseconds(15);  // per piece, while commands are appended

std::string hex32(std::uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 15];
  return out;
}

// SHA-256 of a file's bytes and the CRC32C of each MiB, fed in pieces of any size; at each
// whole MiB, what it has hashed so far can be kept (DigestCache) and resumed from later.
class FileDigest {
 public:
  FileDigest() = default;
  explicit FileDigest(const DigestCache::Entry& resumed)
      : sha_(resumed.sha), crcs_(resumed.crcs), bytes_(resumed.bytes), at_boundary_(resumed) {}

  std::uint64_t bytes() const { return bytes_; }
  void update(std::string_view data) {
    while (!data.empty()) {  // MiB by MiB, so that the state at each whole MiB can be kept
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), kCrcBlock - in_block_));
      sha_.update(data.substr(0, n));
      crc_ = es::crc32c(data.substr(0, n), crc_);
      bytes_ += n;
      in_block_ += n;
      data.remove_prefix(n);
      if (in_block_ == kCrcBlock) {
        close_block();
        at_boundary_ = DigestCache::Entry{bytes_, sha_, crcs_};
      }
    }
  }
  // The state at the last whole MiB, to resume from.
  const DigestCache::Entry& at_boundary() const { return at_boundary_; }
  json finish(const std::string& name) {
    if (in_block_ > 0) close_block();
    json crcs = json::array();
    for (auto c : crcs_) crcs.push_back(hex32(c));
    return json{{"name", name}, {"bytes", bytes_}, {"sha256", crypto::to_hex(sha_.finish())}, {"crc32c_per_mib", crcs}};
  }

 private:
  void close_block() {
    crcs_.push_back(crc_);
    crc_ = 0;
    in_block_ = 0;
  }
  crypto::Sha256 sha_;
  std::vector<std::uint32_t> crcs_;
  std::uint64_t bytes_ = 0, in_block_ = 0;
  std::uint32_t crc_ = 0;
  DigestCache::Entry at_boundary_;
};

json heads_json(const std::map<std::string, ChainHead>& heads) {
  json out = json::object();
  for (const auto& [id, h] : heads) out[id] = {{"sequence", h.sequence}, {"head_hash", h.head_hash}, {"closed", h.closed}};
  return out;
}

std::string file_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

// One member of the archive: a file read through a descriptor opened during the cut, or
// bytes taken then (the keyring).
struct BackupStream::File {
  std::string name;
  std::uint64_t size = 0;
  int fd = -1;
  std::string bytes;  // when fd < 0
  DigestCache::Identity identity;  // when fd >= 0
};

namespace {

DigestCache::Identity identity_of(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

}  // namespace

struct BackupStream::Digests {
  FileDigest current;
  json files = json::array();
};

std::optional<DigestCache::Entry> DigestCache::find(const Identity& file, std::uint64_t at_most) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(file);
  if (it == entries_.end() || it->second.bytes > at_most) return std::nullopt;
  return it->second;
}

void DigestCache::keep(const Identity& file, const Entry& entry) {
  if (entry.bytes == 0 || file.inode == 0) return;
  std::lock_guard lock(mutex_);
  auto& kept = entries_[file];
  if (entry.bytes >= kept.bytes) kept = entry;
}

void DigestCache::retain(const std::set<Identity>& files) {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [&](const auto& entry) { return !files.contains(entry.first); });
}

BackupStream::~BackupStream() {
  for (auto& f : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

std::expected<std::unique_ptr<BackupStream>, std::string> BackupStream::begin(es::FileLog& log,
                                                                             const es::CommandPipeline& pipeline,
                                                                             const std::string& directory,
                                                                             const std::string& master_key_id,
                                                                             DigestCache* cache) {
  std::unique_ptr<BackupStream> backup(new BackupStream());
  backup->cache_ = cache;
  backup->log_ = &log;
  backup->batches_seen_ = log.stats().batches;
  backup->digests_ = std::make_unique<Digests>();
  backup->master_key_id_ = master_key_id;
  backup->created_at_ = es::format_rfc3339(es::system_now());

  // The newest snapshot, opened before the cut: it was complete before it, so everything it
  // holds is in the log up to the cut. Opened, it stays readable if a newer one replaces it.
  std::vector<std::string> snapshots;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory + "/snapshots", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 25 && name.ends_with(".snap")) snapshots.push_back(name);
  }
  std::sort(snapshots.begin(), snapshots.end());
  std::optional<File> snapshot;
  if (!snapshots.empty()) {
    const std::string path = directory + "/snapshots/" + snapshots.back();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st{};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      if (fd >= 0) ::close(fd);
      return std::unexpected(file_error("cannot open the snapshot", path));
    }
    snapshot = File{"snapshots/" + snapshots.back(), static_cast<std::uint64_t>(st.st_size), fd, {}, identity_of(fd)};
  }

  {
    // The cut: nothing becomes durable meanwhile, and every durable batch is folded first,
    // so the states read here are exactly the log's up to its end.
    const auto started = std::chrono::steady_clock::now();
    auto hold = log.hold();
    if (!pipeline.wait_folded(std::chrono::duration_cast<std::chrono::milliseconds>(kSettle))) {
      if (snapshot) ::close(snapshot->fd);
      return std::unexpected("the commands in flight were not folded within 5 s; try again");
    }
    backup->position_ = es::LogPosition{0, log.end(0)};
    for (const auto& extent : log.extents()) {
      if (extent.bytes == 0) continue;
      int fd = ::open(extent.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (snapshot) ::close(snapshot->fd);
        return std::unexpected(file_error("cannot open the segment", extent.path));
      }
      backup->files_.push_back(File{"log/" + fs::path(extent.path).filename().string(), extent.bytes, fd, {},
                                    identity_of(fd)});
    }
    for (const auto& id : pipeline.dashboard_ids()) {
      pipeline.with_dashboard(id, [&](const es::DashboardView& v) {
        backup->heads_[id] = ChainHead{v.sequence, v.head_hash, v.state.closed};
      });
    }
    // The keyring as stored now: every data key of a dashboard in the log up to the cut is in
    // it (a key is stored before its dashboard's first event).
    const std::string keyring_path = directory + "/keyring.json";
    int fd = ::open(keyring_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (snapshot) ::close(snapshot->fd);
      return std::unexpected(file_error("cannot read the keyring", keyring_path));
    }
    File keyring{"keyring.json", 0, -1, {}, {}};
    char buffer[1 << 16];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
      if (n < 0) {
        ::close(fd);
        if (snapshot) ::close(snapshot->fd);
        return std::unexpected(file_error("cannot read the keyring", keyring_path));
      }
      keyring.bytes.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    keyring.size = keyring.bytes.size();
    backup->files_.push_back(std::move(keyring));
    hold.release();
    backup->held_ = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  }
  if (snapshot) backup->files_.push_back(std::move(*snapshot));
  if (cache) {
    std::set<DigestCache::Identity> files;
    for (const auto& f : backup->files_) {
      if (f.fd >= 0) files.insert(f.identity);
    }
    cache->retain(files);
  }
  return backup;
}

bool BackupStream::next(std::string& out, std::size_t max) {
  if (done_ || !error_.empty()) return false;
  if (const std::uint64_t batches = log_->stats().batches; batches != batches_seen_) {
    batches_seen_ = batches;
    std::this_thread::sleep_for(kYield);
  }
  const std::int64_t mtime = std::chrono::duration_cast<std::chrono::seconds>(
                                 es::system_now().time_since_epoch()).count();
  const std::size_t start = out.size();
  while (out.size() - start < max) {
    if (current_ == files_.size()) {
      json manifest{{"format", "keyledger-backup"},
                    {"version", 1},
                    {"created_at", created_at_},
                    {"store", "file"},
                    {"position", {{"partition", position_.partition}, {"offset", position_.offset}}},
                    {"master_key_id", master_key_id_},
                    {"files", digests_->files},
                    {"dashboards", heads_json(heads_)}};
      const std::string text = manifest.dump(2) + "\n";
      const std::string sum = crypto::to_hex(crypto::sha256(text)) + "  manifest.json\n";
      for (const auto* member : {&text, &sum}) {
        out += tar::file_header(member == &text ? "manifest.json" : "manifest.sha256", member->size(), mtime);
        out += *member;
        out += tar::padding(member->size());
      }
      out += tar::end_of_archive();
      done_ = true;
      return true;
    }
    File& f = files_[current_];
    if (!header_written_) {
      out += tar::file_header(f.name, f.size, mtime);
      header_written_ = true;
      written_ = 0;
      hashed_from_ = 0;
      digests_->current = FileDigest();
      if (cache_ && f.fd >= 0) {
        if (auto known = cache_->find(f.identity, f.size)) {
          digests_->current = FileDigest(*known);
          hashed_from_ = known->bytes;
        }
      }
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(f.size - written_, std::max<std::size_t>(max - (out.size() - start), 1 << 16)));
    const std::size_t at = out.size();
    if (f.fd >= 0) {
      out.resize(at + n);
      std::size_t got = 0;
      while (got < n) {
        ssize_t r = ::pread(f.fd, out.data() + at + got, n - got, static_cast<off_t>(written_ + got));
        if (r <= 0) {
          error_ = "cannot read " + f.name + (r < 0 ? std::string(": ") + std::strerror(errno) : ": it is shorter than at the cut");
          out.resize(start);
          return false;
        }
        got += static_cast<std::size_t>(r);
      }
    } else {
      out.append(f.bytes, static_cast<std::size_t>(written_), n);
    }
    if (written_ + n > hashed_from_) {
      const std::uint64_t skip = hashed_from_ > written_ ? hashed_from_ - written_ : 0;
      digests_->current.update(std::string_view(out).substr(at + skip, n - skip));
    }
    written_ += n;
    if (written_ == f.size) finish_file(out);
  }
  return true;
}

void BackupStream::finish_file(std::string& out) {
  File& f = files_[current_];
  out += tar::padding(f.size);
  if (cache_ && f.fd >= 0) cache_->keep(f.identity, digests_->current.at_boundary());
  digests_->files.push_back(digests_->current.finish(f.name));
  if (f.fd >= 0) {
    ::close(f.fd);
    f.fd = -1;
  }
  f.bytes.clear();
  header_written_ = false;
  ++current_;
}

bool ends_with_manifest(std::istream& archive) {
  archive.seekg(0, std::ios::end);
  const auto size = static_cast<long long>(archive.tellg());
  const long long header = size - static_cast<long long>(tar::end_of_archive().size() + 2 * tar::kBlock);
  if (!archive || header < 0) return false;
  std::string block(tar::kBlock, '\0');
  archive.seekg(header);
  archive.read(block.data(), static_cast<std::streamsize>(block.size()));
  return archive && block.compare(0, 16, std::string("manifest.sha256\0", 16)) == 0;
}

namespace {

// Where a member goes in the store's directory, or nothing for one a backup never holds.
bool store_file(const std::string& name) {
  static const std::regex pattern(R"(keyring\.json|log/[0-9]{20}\.seg|snapshots/[0-9]{20}\.snap)");
  return std::regex_match(name, pattern);
}

// The first MiB whose CRC32C differs from the manifest's, as a byte range of the file.
std::string damaged_range(const json& expected, const json& actual) {
  const auto& want = expected.at("crc32c_per_mib");
  const auto& got = actual.at("crc32c_per_mib");
  const std::uint64_t bytes = actual.at("bytes");
  for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    if (i >= want.size() || i >= got.size() || want[i] != got[i]) {
      const std::uint64_t from = i * kCrcBlock;
      const std::uint64_t to = std::min<std::uint64_t>(bytes, from + kCrcBlock);
      return "bytes " + std::to_string(from) + " to " + std::to_string(to == 0 ? 0 : to - 1);
    }
  }
  return "somewhere";
}

}  // namespace

std::expected<VerifiedBackup, std::vector<std::string>> verify_backup(std::istream& archive,
                                                                      const std::string& directory,
                                                                      const std::string& master_key_file) {
  std::vector<std::string> problems;
  auto fail = [&](std::string problem) {
    problems.push_back(std::move(problem));
    return std::unexpected(problems);
  };

  // 1. Every member, extracted and digested as it is read.
  tar::Reader reader(archive);
  std::map<std::string, json> digests;
  std::string manifest_text, manifest_sum;
  VerifiedBackup verified;
  while (true) {
    auto member = reader.next();
    if (!member) return fail(member.error());
    if (!*member) break;
    const std::string name = (*member)->name;
    if (name == "manifest.json" || name == "manifest.sha256") {
      if ((*member)->size > (64u << 20)) return fail(name + " is larger than any manifest");
      std::string& into = name == "manifest.json" ? manifest_text : manifest_sum;
      if (auto r = reader.read_data([&](std::string_view d) { into.append(d); }); !r) return fail(r.error());
      continue;
    }
    if (!store_file(name) || digests.contains(name)) {
      return fail("the archive holds " + name + (digests.contains(name) ? " twice" : ", which no backup holds"));
    }
    fs::create_directories(fs::path(directory) / fs::path(name).parent_path());
    es::AtomicFile file(directory + "/" + name);
    FileDigest digest;
    bool written = true;
    if (auto r = reader.read_data([&](std::string_view d) {
          digest.update(d);
          written = written && file.write(d);
        });
        !r) {
      return fail(r.error());
    }
    if (!written || !file.commit()) return fail(file_error("cannot write", directory + "/" + name));
    digests[name] = digest.finish(name);
    verified.files += 1;
    verified.bytes += (*member)->size;
  }

  // 2. The manifest, whole, and each file against it.
  if (manifest_text.empty()) return fail("the archive has no manifest.json: it was cut short, or is not a keyledger backup");
  if (manifest_sum != crypto::to_hex(crypto::sha256(manifest_text)) + "  manifest.json\n") {
    return fail("manifest.json does not match manifest.sha256: one of them is damaged");
  }
  json manifest = json::parse(manifest_text, nullptr, false);
  try {
    if (manifest.at("format") != "keyledger-backup" || manifest.at("version") != 1) {
      return fail("manifest.json is not a version 1 keyledger backup's");
    }
    verified.position = es::LogPosition{0, manifest.at("position").at("offset").get<std::uint64_t>()};
    for (const auto& [id, h] : manifest.at("dashboards").items()) {
      verified.dashboards[id] = ChainHead{h.at("sequence"), h.at("head_hash"), h.at("closed")};
    }
    std::set<std::string> listed;
    for (const auto& expected : manifest.at("files")) {
      const std::string name = expected.at("name");
      listed.insert(name);
      auto it = digests.find(name);
      if (it == digests.end()) {
        problems.push_back(name + " is missing from the archive");
      } else if (it->second.at("bytes") != expected.at("bytes")) {
        problems.push_back(name + " has " + it->second.at("bytes").dump() + " bytes; the manifest says " +
                           expected.at("bytes").dump());
      } else if (it->second.at("sha256") != expected.at("sha256")) {
        problems.push_back(name + " is damaged: " + damaged_range(expected, it->second) +
                           " differ from the backup's (its SHA-256 does not match the manifest's)");
      }
    }
    for (const auto& [name, d] : digests) {
      if (!listed.contains(name)) problems.push_back(name + " is in the archive but not in its manifest");
    }
  } catch (const json::exception&) {
    return fail("manifest.json is damaged: it lacks a member or has one of another type");
  }
  if (!problems.empty()) {
    // The log's own batch checksums say more precisely where a segment is damaged.
    if (auto log = es::FileLog::open({directory, 64ull << 20, nullptr, /*read_only=*/true});
        log && !(*log)->damage().empty()) {
      problems.push_back("the log: " + (*log)->damage());
    }
    return std::unexpected(problems);
  }

  // 3. The store it makes: the keyring opens with the master key, the snapshot restores,
  // the log folds, and every chain leads to the manifest's head.
  std::vector<std::string> notes;
  es::StoreOptions options;
  options.report = [&](const std::string& note) { notes.push_back(note); };
  auto store = es::Store::open("file:" + directory, master_key_file, std::move(options));
  if (!store) return fail(store.error());
  verified.read_models = std::make_unique<projections::Projector>((*store)->keyring->store_keys().fingerprint_pepper);
  verified.read_models->attach(*(*store)->pipeline);
  if (auto r = (*store)->recover(); !r) return fail(r.error());
  const bool has_snapshot = std::any_of(digests.begin(), digests.end(),
                                        [](const auto& d) { return d.first.starts_with("snapshots/"); });
  if (has_snapshot && (*store)->snapshot_events == 0) {
    std::string why;
    for (auto& n : notes) why += " " + n;
    return fail("the snapshot did not restore:" + why);
  }
  verified.snapshot_events = (*store)->snapshot_events;
  if ((*store)->log->end(0) != verified.position.offset) {
    return fail("the log ends at " + std::to_string((*store)->log->end(0)) + "; the manifest says " +
                std::to_string(verified.position.offset));
  }
  const LogChains chains = verify_log_chains(*(*store)->log);
  if (chains.broken) {
    return fail("dashboard " + chains.broken->dashboard_id + "'s chain breaks at log position " +
                (chains.broken->position ? std::to_string(chains.broken->position->offset) : "?") + ": " +
                chains.broken->reason);
  }
  for (const auto& [id, head] : verified.dashboards) {
    auto chain = chains.dashboards.find(id);
    std::optional<ChainHead> served;
    (*store)->pipeline->with_dashboard(id, [&](const es::DashboardView& v) {
      served = ChainHead{v.sequence, v.head_hash, v.state.closed};
    });
    if (chain == chains.dashboards.end() || chain->second.events() != head.sequence ||
        chain->second.head() != head.head_hash || !served || *served != head) {
      problems.push_back("dashboard " + id + " does not end where the manifest says (sequence " +
                         std::to_string(head.sequence) + ", hash " + head.head_hash + ")");
    }
  }
  for (const auto& [id, chain] : chains.dashboards) {
    if (!verified.dashboards.contains(id)) problems.push_back("dashboard " + id + " is in the log but not in the manifest");
  }
  if (!problems.empty()) return std::unexpected(problems);
  verified.store = std::move(*store);
  return verified;
}

std::expected<std::set<std::string>, std::string> closed_dashboards(const std::string& directory) {
  auto log = es::FileLog::open({directory, 64ull << 20, nullptr, /*read_only=*/true});
  if (!log) return std::unexpected(log.error());
  std::set<std::string> closed;
  std::string problem;
  auto ec = (*log)->read(0, 0, (*log)->end(0), [&](const es::StoredRecord& r) {
    if (r.bytes.find("\"DashboardClosed\"") == std::string_view::npos) return true;
    auto e = es::decode_envelope(r.bytes);
    if (!e) {
      problem = "the event at log position " + std::to_string(r.position.offset) + " does not decode: " + e.error();
      return false;
    }
    if (e->type() == "DashboardClosed") closed.insert(e->dashboard_id);
    return true;
  });
  if (!problem.empty()) return std::unexpected(problem);
  if (ec) return std::unexpected("cannot read the log in " + directory + ": " + ec.message());
  return closed;
}

std::expected<RestoreReport, std::vector<std::string>> restore_backup(std::istream& archive, const std::string& target,
                                                                     const std::string& master_key_file,
                                                                     const std::set<std::string>& shreds_from) {
  auto fail = [](std::string problem) { return std::unexpected(std::vector<std::string>{std::move(problem)}); };
  std::error_code ec;
  const fs::path to = fs::absolute(target, ec);
  if (ec || to.filename().empty()) return fail("cannot restore into '" + target + "': not a directory name");
  if (fs::exists(to, ec)) {
    if (!fs::is_directory(to, ec) || !fs::is_empty(to, ec)) {
      return fail(target + " is not empty: restore only into a new or an empty directory");
    }
  }
  if (!fs::is_directory(to.parent_path(), ec)) return fail("cannot restore into " + target + ": " + to.parent_path().string() + " is not a directory");

  // Everything happens beside the target first; only a verified store is moved into place.
  std::string staging = (to.parent_path() / ("." + to.filename().string() + ".restoring-XXXXXX")).string();
  if (::mkdtemp(staging.data()) == nullptr) return fail(file_error("cannot create a directory beside", target));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ignored;
      if (!path.empty()) fs::remove_all(path, ignored);
    }
  } cleanup{staging};

  auto verified = verify_backup(archive, staging, master_key_file);
  if (!verified) return std::unexpected(verified.error());
  RestoreReport report{verified->position, verified->dashboards.size(), {}};
  // Crypto-shredding survives a restore: a dashboard closed at the backup's position or in
  // the newer log loses its data key again.
  for (const auto& [id, head] : verified->dashboards) {
    if (!head.closed && !shreds_from.contains(id)) continue;
    if (!verified->store->keyring->data_key(id, false)) continue;  // destroyed already
    if (verified->store->keyring->destroy(id)) return fail("cannot destroy the data key of dashboard " + id);
    report.shredded.push_back(id);
  }
  verified->store.reset();  // closes the log and releases its lock
  verified->read_models.reset();
  if (fs::exists(to, ec)) fs::remove(to, ec);
  if (ec || std::rename(staging.c_str(), to.c_str()) != 0 || !es::sync_directory(to.parent_path().string())) {
    return fail(file_error("cannot move the restored store into place at", target));
  }
  cleanup.path.clear();
  return report;
}

}  // namespace keyledger::usecases
