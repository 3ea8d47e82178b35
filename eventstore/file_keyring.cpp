#include "file_keyring.hpp"

#include <nlohmann/json.hpp>

#include "durable_file.hpp"

namespace keyledger::eventstore {

std::expected<KeyringStorage::Records, std::string> FileKeyringStorage::load() {
  std::lock_guard lock(mutex_);
  records_.clear();
  const auto text = read_file(path_);
  if (!text) return records_;  // no keyring yet
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  const char* field = doc.is_object() && doc.contains("records") ? "records" : "keys";
  if (doc.is_discarded() || !doc.is_object() || !doc.contains(field) || !doc[field].is_object()) {
    return std::unexpected("keyring " + path_ + " is not valid");
  }
  for (auto& [name, record] : doc[field].items()) {
    if (!record.is_null() && !record.is_string()) return std::unexpected("keyring " + path_ + " is not valid");
    records_[name] = record.is_null() ? std::nullopt : std::optional<std::string>(record.get<std::string>());
  }
  return records_;
}

bool FileKeyringStorage::write(const Records& records) {
  std::lock_guard lock(mutex_);
  Records next = records_;
  for (const auto& [name, record] : records) next[name] = record;
  nlohmann::json all = nlohmann::json::object();
  for (const auto& [name, record] : next) all[name] = record ? nlohmann::json(*record) : nlohmann::json(nullptr);
  if (!write_file_atomically(path_, nlohmann::json{{"version", 2}, {"records", all}}.dump(1) + "\n")) return false;
  records_ = std::move(next);
  return true;
}

}  // namespace keyledger::eventstore
