#include "snapshot_store.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "durable_file.hpp"

namespace keyledger::eventstore {

namespace fs = std::filesystem;

namespace {
std::vector<SnapshotInfo> list_snapshots(const std::string& directory) {
  std::vector<SnapshotInfo> found;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(fs::path(directory) / "snapshots", ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() == 25 && name.ends_with(".json") && std::all_of(name.begin(), name.begin() + 20, ::isdigit)) {
      found.push_back(SnapshotInfo{std::stoull(name.substr(0, 20)), 0, entry.path().string()});
    }
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.position > b.position; });
  return found;
}
}  // namespace

std::optional<SnapshotInfo> write_snapshot(const std::string& directory, const CommandPipeline& pipeline, int keep) {
  std::string contents = pipeline.snapshot();
  auto at = contents.find("\"positions\":[");
  std::uint64_t position = std::stoull(contents.substr(at + 13));
  std::uint64_t events = std::stoull(contents.substr(contents.find("\"events\":") + 9));
  std::error_code ec;
  fs::create_directories(fs::path(directory) / "snapshots", ec);
  std::string digits = std::to_string(position);
  SnapshotInfo info{position, events, directory + "/snapshots/" + std::string(20 - digits.size(), '0') + digits + ".json"};
  if (!write_file_atomically(info.path, contents)) return std::nullopt;
  auto all = list_snapshots(directory);
  for (std::size_t i = static_cast<std::size_t>(keep); i < all.size(); ++i) fs::remove(all[i].path, ec);
  return info;
}

std::optional<SnapshotInfo> restore_latest_snapshot(const std::string& directory, CommandPipeline& pipeline,
                                                    std::uint64_t log_end, std::string* problem) {
  for (auto& candidate : list_snapshots(directory)) {
    if (candidate.position > log_end) continue;  // the log was cut below it: unusable
    std::ifstream in(candidate.path);
    std::stringstream text;
    text << in.rdbuf();
    if (!pipeline.restore(text.str(), problem)) {
      candidate.events = pipeline.events();
      return candidate;
    }
    return std::nullopt;  // the pipeline may hold part of it: the caller starts afresh
  }
  return std::nullopt;
}

}  // namespace keyledger::eventstore
