#include "replica_directory.hpp"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "durable_file.hpp"

namespace keyledger::eventstore {

namespace fs = std::filesystem;

namespace {

bool has_records(const std::string& directory) {
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(fs::path(directory) / "records", ec)) {
    if (entry.is_regular_file(ec) && entry.file_size(ec) > 0) return true;
  }
  return false;
}

}  // namespace

std::expected<std::unique_ptr<ReplicaDirectory>, std::string> ReplicaDirectory::open(
    const std::string& path, const std::string& topic, std::uint32_t partitions,
    const std::function<void(const std::string&)>& note) {
  std::error_code ec;
  fs::create_directories(fs::path(path) / "records", ec);
  if (ec) return std::unexpected("cannot create the replica directory " + path + ": " + ec.message());
  fs::permissions(path, fs::perms::owner_all, ec);
  auto lock = lock_directory(path, "the replica directory " + path);
  if (!lock) return std::unexpected(lock.error());
  std::unique_ptr<ReplicaDirectory> directory(new ReplicaDirectory(path, *lock, note));

  const nlohmann::json identity{{"topic", topic}, {"partitions", partitions}};
  const auto kept = read_file(path + "/replica.json");
  const auto kept_identity = kept ? nlohmann::json::parse(*kept, nullptr, false) : nlohmann::json();
  std::string stale;
  if (kept && kept_identity != identity) {
    stale = "it was kept for " + (kept_identity.is_discarded() ? std::string("something unreadable") : kept_identity.dump()) +
            ", not " + identity.dump();
  } else if (!kept && has_records(path)) {
    stale = "its replica.json is missing";
  }
  if (const auto placed = read_file(path + "/placed.json")) {
    auto parsed = nlohmann::json::parse(*placed, nullptr, false);
    if (parsed.is_object()) {
      for (auto& [id, partition] : parsed.items()) {
        if (partition.is_number_unsigned() && partition.get<std::uint64_t>() < partitions) {
          directory->placed_.emplace(id, partition.get<std::uint32_t>());
        } else {
          stale = "its placed.json names a partition the topic does not have";
        }
      }
    } else {
      stale = "its placed.json does not parse";
    }
  } else if (stale.empty() && has_records(path)) {
    stale = "its placed.json is missing (a start was cut short while reading the topic)";
  }
  if (!stale.empty()) {
    if (auto cleared = directory->clear(stale); !cleared) return std::unexpected(cleared.error());
  }
  if (!kept || !stale.empty()) {
    if (!write_file_atomically(path + "/replica.json", identity.dump() + "\n")) {
      return std::unexpected("cannot write " + path + "/replica.json");
    }
  }
  return directory;
}

ReplicaDirectory::~ReplicaDirectory() { ::close(lock_fd_); }

std::string ReplicaDirectory::records_path(std::uint32_t partition) const {
  return path_ + "/records/" + std::to_string(partition) + ".records";
}

std::expected<void, std::string> ReplicaDirectory::unsettle_placed() {
  std::error_code ec;
  fs::remove(path_ + "/placed.json", ec);
  if (ec || !sync_directory(path_)) return std::unexpected("cannot remove " + path_ + "/placed.json");
  return {};
}

std::expected<void, std::string> ReplicaDirectory::save_placed(const Placed& placed) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [id, partition] : placed) out[id] = partition;
  if (!write_file_atomically(path_ + "/placed.json", out.dump() + "\n")) {
    return std::unexpected("cannot write " + path_ + "/placed.json");
  }
  placed_ = placed;
  return {};
}

std::expected<void, std::string> ReplicaDirectory::clear(const std::string& why) {
  if (note_) note_("the replica directory " + path_ + " starts afresh: " + why);
  std::error_code ec;
  for (const char* part : {"records", "snapshots"}) {
    fs::remove_all(fs::path(path_) / part, ec);
    if (ec) return std::unexpected("cannot empty " + path_ + "/" + part + ": " + ec.message());
  }
  fs::remove(path_ + "/placed.json", ec);
  fs::create_directories(fs::path(path_) / "records", ec);
  if (ec || !sync_directory(path_)) return std::unexpected("cannot empty the replica directory " + path_);
  placed_.clear();
  return {};
}

}  // namespace keyledger::eventstore
