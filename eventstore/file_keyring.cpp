#include "file_keyring.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "crypto/crypto.hpp"
#include "durable_file.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace {
std::string wrap_aad(const std::string& dashboard_id) { return "keyledger data key v1/" + dashboard_id; }
}  // namespace

FileKeyring::FileKeyring(std::string path, const MasterKey& master_key)
    : path_(std::move(path)), kek_(master_key.key_encryption_key()) {
  std::ifstream in(path_);
  if (!in) return;  // no keyring yet
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.contains("keys")) throw std::runtime_error("keyring " + path_ + " is not valid");
  for (auto& [dashboard, entry] : doc["keys"].items()) {
    if (entry.is_null()) {
      entries_[dashboard] = Entry{std::nullopt};
      continue;
    }
    auto sealed = crypto::base64_decode(entry.get<std::string>());
    auto key = sealed ? crypto::aes256gcm_open(kek_, *sealed, wrap_aad(dashboard)) : std::nullopt;
    if (!key) {
      throw std::runtime_error("keyring " + path_ + ": the data key of dashboard " + dashboard +
                               " does not unwrap; is this the right master key?");
    }
    entries_[dashboard] = Entry{entry.get<std::string>()};
    unwrapped_[dashboard] = *key;
  }
}

bool FileKeyring::save_locked() {
  nlohmann::json keys = nlohmann::json::object();
  for (auto& [dashboard, entry] : entries_) {
    keys[dashboard] = entry.wrapped ? nlohmann::json(*entry.wrapped) : nlohmann::json(nullptr);
  }
  nlohmann::json doc{{"version", 1}, {"keys", keys}};
  return write_file_atomically(path_, doc.dump(1) + "\n");
}

std::expected<std::string, std::error_code> FileKeyring::data_key(const std::string& dashboard_id, bool create) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(dashboard_id); it != entries_.end()) {
    if (!it->second.wrapped) return std::unexpected(make_error_code(StoreErrc::data_key_destroyed));
    return unwrapped_.at(dashboard_id);
  }
  if (!create) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  std::string key = crypto::random_bytes(32);
  entries_[dashboard_id] = Entry{crypto::base64_encode(crypto::aes256gcm_seal(kek_, key, wrap_aad(dashboard_id)))};
  if (!save_locked()) {
    entries_.erase(dashboard_id);
    return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  }
  unwrapped_[dashboard_id] = key;
  return key;
}

std::error_code FileKeyring::destroy(const std::string& dashboard_id) {
  std::lock_guard lock(mutex_);
  auto previous = entries_[dashboard_id];
  entries_[dashboard_id] = Entry{std::nullopt};
  if (!save_locked()) {
    entries_[dashboard_id] = previous;
    return make_error_code(StoreErrc::keyring_unavailable);
  }
  unwrapped_.erase(dashboard_id);
  return {};
}

}  // namespace keyledger::eventstore
