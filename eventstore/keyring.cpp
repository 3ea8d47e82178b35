#include "keyring.hpp"

#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

namespace {

// Record names that are not dashboard ids (those start with "dsh_").
constexpr const char* kStoreKeysRecord = ".store-keys";
constexpr const char* kRotationRecord = ".rotation";

bool is_dashboard(const std::string& name) { return !name.starts_with('.'); }

// A record: {"master": <id of the wrapping master key>, "sealed": <base64>} (+ "from" for the
// rotation's). Records written before rotation existed are the bare base64 of a data key
// sealed with the associated data below, by the master key the store was opened with.
std::string legacy_aad(const std::string& dashboard_id) { return "keyledger data key v1/" + dashboard_id; }
std::string record_aad(const std::string& name) { return "keyledger keyring v2/" + name; }

std::string pack_store_keys(const StoreKeys& k) {
  return k.fingerprint_pepper + k.checkpoint_signing_seed + k.session_signing_key + k.idempotency_key;
}

std::optional<StoreKeys> unpack_store_keys(const std::string& bytes) {
  if (bytes.size() != 128) return std::nullopt;
  return StoreKeys{bytes.substr(0, 32), bytes.substr(32, 32), bytes.substr(64, 32), bytes.substr(96, 32)};
}

}  // namespace

// One record as read: which master key wraps it ("" for a legacy record) and the sealed bytes.
struct Keyring::Wrapped {
  std::string master, from, sealed;
  bool legacy = false;

  static std::optional<Wrapped> parse(const std::string& text) {
    if (!text.starts_with('{')) {
      auto sealed = crypto::base64_decode(text);
      if (!sealed) return std::nullopt;
      return Wrapped{"", "", std::move(*sealed), true};
    }
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("master") || !doc["master"].is_string() ||
        !doc.contains("sealed") || !doc["sealed"].is_string()) {
      return std::nullopt;
    }
    auto sealed = crypto::base64_decode(doc["sealed"].get<std::string>());
    if (!sealed) return std::nullopt;
    std::string from = doc.contains("from") && doc["from"].is_string() ? doc["from"].get<std::string>() : "";
    return Wrapped{doc["master"].get<std::string>(), std::move(from), std::move(*sealed), false};
  }
};

Keyring::Keyring(std::unique_ptr<KeyringStorage> storage, const MasterKey& master)
    : storage_(std::move(storage)), master_(master), master_id_(master.id()), kek_(master.key_encryption_key()) {}

std::string Keyring::seal(const std::string& name, const std::string& plaintext, const std::string& from) const {
  nlohmann::json record{{"master", master_id_},
                        {"sealed", crypto::base64_encode(crypto::aes256gcm_seal(kek_, plaintext, record_aad(name)))}};
  if (!from.empty()) record["from"] = from;
  return record.dump();
}

std::expected<std::unique_ptr<Keyring>, std::string> Keyring::open(std::unique_ptr<KeyringStorage> storage,
                                                                  const MasterKey& master, const Report& report) {
  auto records = storage->load();
  if (!records) return std::unexpected(records.error());
  std::unique_ptr<Keyring> keyring(new Keyring(std::move(storage), master));
  if (auto loaded = keyring->load(*records); !loaded) return std::unexpected(loaded.error());
  if (keyring->rotation_) {
    auto rewrapped = keyring->rewrap_remaining(256);
    if (!rewrapped) return std::unexpected(rewrapped.error());
    if (report && *rewrapped > 0) {
      report("resumed the rotation from master key " + keyring->rotation_->from + " to " + keyring->rotation_->to +
             ": rewrapped the " + std::to_string(*rewrapped) + " records it had not reached");
    }
  }
  return keyring;
}

std::expected<void, std::string> Keyring::load(const KeyringStorage::Records& records) {
  // The previous master key, when a rotation to this one is under way.
  std::string previous_kek;
  if (auto it = records.find(kRotationRecord); it != records.end() && it->second) {
    auto rotation = Wrapped::parse(*it->second);
    if (!rotation) return std::unexpected("the keyring's rotation record is not valid");
    if (rotation->master != master_id_) {
      return std::unexpected("a master key rotation from " + rotation->from + " to " + rotation->master +
                             " is under way; start with the new master key file (this one is " + master_id_ + ")");
    }
    auto previous = crypto::aes256gcm_open(kek_, rotation->sealed, record_aad(kRotationRecord));
    if (!previous || previous->size() != 32) return std::unexpected("the keyring's rotation record does not unwrap");
    previous_kek = MasterKey{*previous}.key_encryption_key();
    rotation_ = PendingRotation{rotation->from, rotation->master};
    wrapped_by_[kRotationRecord] = master_id_;
  }
  for (const auto& [name, text] : records) {
    if (name == kRotationRecord) continue;
    if (!text) {
      if (is_dashboard(name)) data_keys_[name] = std::nullopt;  // a tombstone: destroyed
      continue;
    }
    auto record = Wrapped::parse(*text);
    if (!record) return std::unexpected("the keyring's record " + name + " is not valid");
    std::optional<std::string> plain;
    std::string by;
    if (record->legacy) {
      // Wrapped by whichever master key the store had; before any rotation, this one.
      if ((plain = crypto::aes256gcm_open(kek_, record->sealed, legacy_aad(name)))) {
        by = master_id_;
      } else if (rotation_ && (plain = crypto::aes256gcm_open(previous_kek, record->sealed, legacy_aad(name)))) {
        by = rotation_->from;
      }
    } else if (record->master == master_id_) {
      plain = crypto::aes256gcm_open(kek_, record->sealed, record_aad(name));
      by = master_id_;
    } else if (rotation_ && record->master == rotation_->from) {
      plain = crypto::aes256gcm_open(previous_kek, record->sealed, record_aad(name));
      by = rotation_->from;
    } else {
      return std::unexpected("the keyring is wrapped by master key " + record->master + ", not by this one (" +
                             master_id_ + "); is this the right master key?");
    }
    if (!plain) {
      return std::unexpected("the keyring's record " + name + " does not unwrap; is this the right master key?");
    }
    wrapped_by_[name] = by;
    if (is_dashboard(name)) {
      data_keys_[name] = std::move(*plain);
    } else if (name == kStoreKeysRecord) {
      auto keys = unpack_store_keys(*plain);
      if (!keys) return std::unexpected("the keyring's store keys are not valid");
      store_keys_ = std::move(*keys);
    }
  }
  if (!wrapped_by_.contains(kStoreKeysRecord)) {
    // A store from before the keyring kept its own keys: keep the ones it derived.
    store_keys_ = master_.derived_store_keys();
    if (!storage_->write({{kStoreKeysRecord, seal(kStoreKeysRecord, pack_store_keys(store_keys_))}})) {
      return std::unexpected("cannot write the store keys into the keyring");
    }
    wrapped_by_[kStoreKeysRecord] = master_id_;
  }
  return {};
}

std::string Keyring::master_key_id() const {
  std::lock_guard lock(mutex_);
  return master_id_;
}

std::expected<std::string, std::error_code> Keyring::data_key(const std::string& dashboard_id, bool create) {
  std::lock_guard lock(mutex_);
  if (auto it = data_keys_.find(dashboard_id); it != data_keys_.end()) {
    if (!it->second) return std::unexpected(make_error_code(StoreErrc::data_key_destroyed));
    return *it->second;
  }
  if (!is_dashboard(dashboard_id)) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  if (create && !superseded_by_.empty()) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  if (!create) {
    // Another process of a cluster may have stored it since this keyring was loaded.
    if (!learn(dashboard_id)) return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
    const auto& learnt = data_keys_.at(dashboard_id);
    if (!learnt) return std::unexpected(make_error_code(StoreErrc::data_key_destroyed));
    return *learnt;
  }
  std::string key = crypto::random_bytes(32);
  if (!storage_->write({{dashboard_id, seal(dashboard_id, key)}})) {
    return std::unexpected(make_error_code(StoreErrc::keyring_unavailable));
  }
  data_keys_[dashboard_id] = key;
  wrapped_by_[dashboard_id] = master_id_;
  return key;
}

bool Keyring::learn(const std::string& name) {
  auto records = storage_->load();
  if (!records) return false;
  auto it = records->find(name);
  if (it == records->end()) return false;
  if (!it->second) {
    data_keys_[name] = std::nullopt;  // a tombstone: destroyed
    return true;
  }
  // Written by a process of this master key (one that is rotating writes the next key's).
  auto record = Wrapped::parse(*it->second);
  if (!record || record->legacy || record->master != master_id_) return false;
  auto plain = crypto::aes256gcm_open(kek_, record->sealed, record_aad(name));
  if (!plain) return false;
  data_keys_[name] = std::move(*plain);
  wrapped_by_[name] = master_id_;
  return true;
}

std::error_code Keyring::destroy(const std::string& dashboard_id) {
  std::lock_guard lock(mutex_);
  if (!storage_->write({{dashboard_id, std::nullopt}})) return make_error_code(StoreErrc::keyring_unavailable);
  data_keys_[dashboard_id] = std::nullopt;
  wrapped_by_.erase(dashboard_id);
  return {};
}

std::expected<void, std::string> Keyring::reload(const MasterKey& master, const KeyringStorage::Records& records) {
  MasterKey kept_master = master_;
  std::string kept_id = master_id_, kept_kek = kek_;
  auto kept_rotation = rotation_;
  auto kept_keys = std::move(data_keys_);
  auto kept_wrapped = std::move(wrapped_by_);
  master_ = master;
  master_id_ = master.id();
  kek_ = master.key_encryption_key();
  rotation_.reset();
  data_keys_.clear();
  wrapped_by_.clear();
  auto loaded = load(records);
  if (!loaded) {
    master_ = std::move(kept_master);
    master_id_ = std::move(kept_id);
    kek_ = std::move(kept_kek);
    rotation_ = std::move(kept_rotation);
    data_keys_ = std::move(kept_keys);
    wrapped_by_ = std::move(kept_wrapped);
  }
  return loaded;
}

std::expected<std::size_t, std::string> Keyring::adopt(const MasterKey& next) {
  {
    std::lock_guard lock(mutex_);
    if (next.id() == master_id_) return 0;
    // What the rotating process wrote first: this keyring's key, wrapped by `next`.
    auto records = storage_->load();
    if (!records) return std::unexpected(records.error());
    auto it = records->find(kRotationRecord);
    auto rotation = it != records->end() && it->second ? Wrapped::parse(*it->second) : std::nullopt;
    if (!rotation || rotation->master != next.id() || rotation->from != master_id_) {
      return std::unexpected("no rotation from master key " + master_id_ + " to " + next.id() +
                             " is under way in the keyring");
    }
    if (auto reloaded = reload(next, *records); !reloaded) return std::unexpected(reloaded.error());
    superseded_by_.clear();
  }
  return rewrap_remaining(256);
}

void Keyring::superseded_by(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (id != master_id_) superseded_by_ = id;
}

std::expected<std::size_t, RotationRefusal> Keyring::rotate(const MasterKey& next, std::size_t batch) {
  {
    std::lock_guard lock(mutex_);
    // Records other processes of a cluster wrote since this keyring was loaded are rewrapped
    // too.
    auto records = storage_->load();
    if (!records) return std::unexpected(RotationRefusal{false, records.error()});
    if (auto reloaded = reload(master_, *records); !reloaded) {
      return std::unexpected(RotationRefusal{false, reloaded.error()});
    }
    const std::string next_id = next.id();
    if (next_id == master_id_) {
      return std::unexpected(RotationRefusal{true, "the keyring is already wrapped by master key " + next_id});
    }
    if (rotation_) {
      return std::unexpected(RotationRefusal{true, "the rotation from master key " + rotation_->from + " to " +
                                                       rotation_->to + " is not finished yet; finish it with that key first"});
    }
    const std::string previous = master_.bytes, previous_id = master_id_;
    master_ = next;
    master_id_ = next_id;
    kek_ = next.key_encryption_key();
    if (!storage_->write({{kRotationRecord, seal(kRotationRecord, previous, previous_id)}})) {
      master_ = MasterKey{previous};
      master_id_ = previous_id;
      kek_ = master_.key_encryption_key();
      return std::unexpected(RotationRefusal{false, "cannot write the rotation's record into the keyring"});
    }
    rotation_ = PendingRotation{previous_id, master_id_};
    wrapped_by_[kRotationRecord] = master_id_;
  }
  auto rewrapped = rewrap_remaining(batch);
  if (!rewrapped) return std::unexpected(RotationRefusal{false, rewrapped.error()});
  return *rewrapped;
}

std::expected<std::size_t, std::string> Keyring::rewrap_remaining(std::size_t batch) {
  std::size_t data_keys = 0;
  for (;;) {
    std::lock_guard lock(mutex_);
    KeyringStorage::Records records;
    for (const auto& [name, by] : wrapped_by_) {
      if (by == master_id_) continue;
      if (is_dashboard(name)) {
        records[name] = seal(name, *data_keys_.at(name));
      } else if (name == kStoreKeysRecord) {
        records[name] = seal(name, pack_store_keys(store_keys_));
      }
      if (records.size() == batch) break;
    }
    if (records.empty()) return data_keys;
    if (!storage_->write(records)) return std::unexpected("cannot write rewrapped keys into the keyring");
    for (const auto& [name, _] : records) {
      wrapped_by_[name] = master_id_;
      if (is_dashboard(name)) ++data_keys;
    }
  }
}

std::optional<PendingRotation> Keyring::pending_rotation() const {
  std::lock_guard lock(mutex_);
  return rotation_;
}

std::expected<void, std::string> Keyring::finish_rotation() {
  std::lock_guard lock(mutex_);
  if (!rotation_) return {};
  if (!storage_->write({{kRotationRecord, std::nullopt}})) {
    return std::unexpected("cannot remove the rotation's record from the keyring");
  }
  rotation_.reset();
  wrapped_by_.erase(kRotationRecord);
  return {};
}

}  // namespace keyledger::eventstore
