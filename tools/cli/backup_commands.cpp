// `keyledger backup`, `backup verify`, `restore` and `migrate` (SPEC §13), over
// usecases/backup.hpp and usecases/migration.hpp.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "eventstore/durable_file.hpp"
#include "api/http_client.hpp"
#include "store_access.hpp"
#include "usecases/backup.hpp"
#include "usecases/migration.hpp"
#include "usecases/tar_format.hpp"

namespace keyledger::cli {

namespace uc = keyledger::usecases;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string the_file(const Invocation& invocation, const char* usage) {
  if (invocation.positional().size() != 1) throw std::runtime_error(std::string("usage: ") + usage);
  return invocation.positional()[0];
}

std::ifstream open_archive(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return in;
}

int report_problems(const std::vector<std::string>& problems) {
  std::cout << json{{"ok", false}, {"problems", problems}}.dump() << "\n";
  return 1;
}

// The archive as it arrives, written through to the disk as it goes: each 8 MiB is handed
// to writeback at once and the one before it waited for, so the final fsync is short and the
// disk never takes a burst of a whole archive's dirty pages at once (the server's own
// fdatasyncs share it).
class ArchiveFile {
 public:
  explicit ArchiveFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
  }
  ~ArchiveFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool write(std::string_view piece) {
    while (ok_ && !piece.empty()) {
      const ssize_t n = ::write(fd_, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ok_ = false;
      piece.remove_prefix(static_cast<std::size_t>(n));
      bytes_ += static_cast<std::uint64_t>(n);
    }
    if (ok_ && bytes_ - flushed_ >= kWriteBehind) {
      ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(bytes_ - flushed_), SYNC_FILE_RANGE_WRITE);
      if (flushed_ > 0) {
        ::sync_file_range(fd_, static_cast<off_t>(previous_), static_cast<off_t>(flushed_ - previous_),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      }
      previous_ = flushed_;
      flushed_ = bytes_;
    }
    return ok_;
  }
  bool ok() const { return ok_; }
  std::uint64_t bytes() const { return bytes_; }
  bool sync() { return ok_ && ::fsync(fd_) == 0; }
  void discard() {
    ::close(std::exchange(fd_, -1));
    std::error_code ignored;
    fs::remove(path_, ignored);
  }

 private:
  static constexpr std::uint64_t kWriteBehind = 8 << 20;
  std::string path_;
  int fd_ = -1;
  bool ok_ = true;
  std::uint64_t bytes_ = 0, flushed_ = 0, previous_ = 0;
};

}  // namespace

OptionSet backup_options() {
  OptionSet options("backup");
  options.text("url", "URL", "the server's address, e.g. http://127.0.0.1:8080")
      .text("to", "FILE", "where to save the archive (never overwritten)")
      .text("operator-token", "TOKEN", "the platform operator's token")
      .text("ca-file", "FILE", "for https: the CA certificate(s) to trust instead of the system's")
      .number("timeout", "SECONDS",
              "give up when the server takes longer than this to take the request, or to send each megabyte "
              "of the archive",
              60);
  return options;
}

int backup(const Invocation& invocation) {
  const std::string url = invocation.text("url"), to = invocation.text("to");
  if (url.empty() || to.empty()) throw std::runtime_error("usage: keyledger backup --url URL --to FILE");
  if (invocation.text("operator-token").empty()) {
    throw std::runtime_error("the operator token is required: --operator-token or KEYLEDGER_OPERATOR_TOKEN");
  }
  if (fs::exists(to)) throw std::runtime_error(to + " exists already; a backup never overwrites a file");
  const std::string partial = to + ".partial";
  ArchiveFile out(partial);
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  api::HttpCall call;
  call.url = base + "/v1/backup";
  call.headers = {{"Authorization", "Bearer " + invocation.text("operator-token")}};
  call.ca_file = invocation.text("ca-file");
  if (invocation.number("timeout") < 1) throw std::runtime_error("--timeout must be at least 1 second");
  call.timeout = std::chrono::seconds(invocation.number("timeout"));
  auto download = api::http_request(call, [&](std::string_view piece) { return out.write(piece); });
  auto give_up = [&](const std::string& why) {
    out.discard();
    throw std::runtime_error(why);
  };
  if (!download) give_up("backup from " + url + " failed: " + download.error().sentence);
  if (download->status != 200) {
    give_up("the server refused the backup (" + std::to_string(download->status) + "): " + download->body);
  }
  if (!out.ok()) give_up("cannot write " + partial + ": " + std::strerror(errno));
  if (std::ifstream saved(partial, std::ios::binary); !uc::ends_with_manifest(saved)) {
    give_up("the archive from " + url + " ends before its manifest: the server stopped midway (see its log)");
  }
  // Durable before it gets its name.
  if (!out.sync() || std::rename(partial.c_str(), to.c_str()) != 0) give_up("cannot save " + to);
  eventstore::sync_directory(fs::absolute(to).parent_path().string());
  const std::uint64_t bytes = out.bytes();
  std::string position, held;
  for (const auto& [name, value] : download->headers) {
    if (name == "Keyledger-Backup-Position") position = value;
    if (name == "Keyledger-Backup-Held-Us") held = value;
  }
  json answer{{"ok", true}, {"file", to}, {"bytes", bytes}, {"position", position}};
  if (!held.empty()) answer["commands_held_us"] = std::stoll(held);
  std::cout << answer.dump() << "\n";
  return 0;
}

OptionSet backup_verify_options() {
  OptionSet options("backup verify");
  options.positional("file", 1);
  options.text("master-key-file", "FILE", "the master key the backed-up store was served with");
  return options;
}

int backup_verify(const Invocation& invocation) {
  const std::string file = the_file(invocation, "keyledger backup verify FILE --master-key-file F");
  if (invocation.text("master-key-file").empty()) throw std::runtime_error("--master-key-file is required");
  auto archive = open_archive(file);
  // Checked in a scratch directory that goes away afterwards.
  std::string scratch = (fs::temp_directory_path() / "keyledger-verify-XXXXXX").string();
  if (::mkdtemp(scratch.data()) == nullptr) throw std::runtime_error("cannot create a scratch directory");
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{scratch};
  auto verified = uc::verify_backup(archive, scratch, invocation.text("master-key-file"));
  if (!verified) return report_problems(verified.error());
  std::cout << json{{"ok", true},
                    {"position", verified->position.to_string()},
                    {"dashboards", verified->dashboards.size()},
                    {"files", verified->files},
                    {"bytes", verified->bytes},
                    {"snapshot_events", verified->snapshot_events}}
                   .dump()
            << "\n";
  return 0;
}

OptionSet restore_options() {
  OptionSet options("restore");
  options.positional("file", 1);
  options.text("store", "file:DIR", "the new store: a directory that does not exist or is empty")
      .text("master-key-file", "FILE", "the master key the backed-up store was served with")
      .text("shreds-from", "file:DIR", "a newer log whose closed dashboards lose their data keys again");
  return options;
}

int restore(const Invocation& invocation) {
  const std::string file = the_file(invocation, "keyledger restore FILE --store file:DIR --master-key-file F");
  if (invocation.text("store").empty() || invocation.text("master-key-file").empty()) {
    throw std::runtime_error("--store and --master-key-file are required");
  }
  const std::string target = file_store_directory(invocation.text("store"));
  std::set<std::string> shreds;
  if (invocation.has("shreds-from")) {
    auto closed = uc::closed_dashboards(file_store_directory(invocation.text("shreds-from")));
    if (!closed) throw std::runtime_error("--shreds-from: " + closed.error());
    shreds = std::move(*closed);
  }
  auto archive = open_archive(file);
  auto restored = uc::restore_backup(archive, target, invocation.text("master-key-file"), shreds);
  if (!restored) return report_problems(restored.error());
  std::cout << json{{"ok", true},
                    {"store", "file:" + target},
                    {"position", restored->position.to_string()},
                    {"dashboards", restored->dashboards},
                    {"shredded", restored->shredded}}
                   .dump()
            << "\n";
  return 0;
}

OptionSet migrate_options() {
  OptionSet options("migrate");
  options.text("from", "STORE", "the stopped store to copy: file:DIR or kafka://HOST:PORT[,HOST:PORT]/TOPIC")
      .text("to", "STORE", "the empty store to copy it to (or the one an interrupted run left)")
      .text("master-key-file", "FILE", "the master key the source is served with")
      .number("kafka-partitions", "N", "partitions of a Kafka target's topic when keyledger creates it", 3)
      .number("kafka-replication", "N", "replication factor of a Kafka target's topic when keyledger creates it", 1);
  return options;
}

int migrate(const Invocation& invocation) {
  const std::string from = invocation.text("from"), to = invocation.text("to");
  if (from.empty() || to.empty() || invocation.text("master-key-file").empty()) {
    throw std::runtime_error("usage: keyledger migrate --from STORE --to STORE --master-key-file F");
  }
  eventstore::StoreOptions options = kafka_aware_options();
  options.kafka_partitions = static_cast<int>(invocation.number("kafka-partitions"));
  options.kafka_replication = static_cast<int>(invocation.number("kafka-replication"));
  ProgressReport progress("copying the events");
  auto report = uc::migrate_store(from, to, invocation.text("master-key-file"), options, std::ref(progress));
  if (!report) {
    std::cout << json{{"ok", false}, {"problem", report.error()}}.dump() << "\n";
    return 1;
  }
  std::cout << json{{"ok", true},
                    {"from", from},
                    {"to", to},
                    {"events", report->events},
                    {"copied", report->copied},
                    {"resumed_after", report->resumed_after},
                    {"dashboards", report->dashboards},
                    {"keyring_records", report->keyring_records}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace keyledger::cli
