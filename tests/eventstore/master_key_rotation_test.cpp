// Master key rotation in the keyring (SPEC §11): only what wraps the records changes; the
// data keys and the store keys survive it; a rotation cut short at any write finishes on
// the next open with the new key file; afterwards the old key file opens nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"
#include "eventstore/file_keyring.hpp"
#include "eventstore/keyring.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/store_error.hpp"
#include "support/master_keys.hpp"
#include "support/temp_dir.hpp"

namespace es = keyledger::eventstore;
using keyledger::testing::TempDir;
using keyledger::testing::new_master_key;
using keyledger::testing::read_bytes;

namespace {

// The real file storage, which stops writing after `writes` writes, as a process killed at
// that instant would: what reached the file stays, nothing more does.
class StorageKilledAfter final : public es::KeyringStorage {
 public:
  StorageKilledAfter(std::string path, int writes) : file_(std::move(path)), writes_left_(writes) {}
  std::expected<Records, std::string> load() override { return file_.load(); }
  bool write(const Records& records) override { return writes_left_-- > 0 && file_.write(records); }

 private:
  es::FileKeyringStorage file_;
  int writes_left_;
};

std::unique_ptr<es::Keyring> open_keyring(const std::string& path, const es::MasterKey& master,
                                          std::vector<std::string>* notes = nullptr) {
  auto keyring = es::Keyring::open(std::make_unique<es::FileKeyringStorage>(path), master,
                                   [&](const std::string& note) {
                                     if (notes) notes->push_back(note);
                                   });
  INFO((keyring ? std::string() : keyring.error()));
  REQUIRE(keyring.has_value());
  return std::move(*keyring);
}

std::string open_error(const std::string& path, const es::MasterKey& master) {
  auto keyring = es::Keyring::open(std::make_unique<es::FileKeyringStorage>(path), master, nullptr);
  REQUIRE_FALSE(keyring.has_value());
  return keyring.error();
}

bool same_store_keys(const es::StoreKeys& a, const es::StoreKeys& b) {
  return a.fingerprint_pepper == b.fingerprint_pepper && a.checkpoint_signing_seed == b.checkpoint_signing_seed &&
         a.session_signing_key == b.session_signing_key && a.idempotency_key == b.idempotency_key;
}

// A keyring of five live dashboards and a closed one; their data keys.
std::map<std::string, std::string> fill(es::Keyring& keyring) {
  std::map<std::string, std::string> keys;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "dsh_" + std::to_string(i);
    keys[id] = keyring.data_key(id, true).value();
  }
  REQUIRE(keyring.data_key("dsh_closed", true).has_value());
  REQUIRE_FALSE(keyring.destroy("dsh_closed"));
  return keys;
}

void require_same_keys(es::Keyring& keyring, const std::map<std::string, std::string>& keys) {
  for (const auto& [id, key] : keys) REQUIRE(keyring.data_key(id, false).value() == key);
  REQUIRE(keyring.data_key("dsh_closed", false).error() == es::StoreErrc::data_key_destroyed);
}

}  // namespace

TEST_CASE("a rotated keyring opens with only the new key, with the same data keys and store keys, and the old key is refused") {
  TempDir dir;
  const auto old_key = new_master_key(dir, "old.key");
  const auto new_key = new_master_key(dir, "new.key");
  const std::string path = dir / "keyring.json";
  std::map<std::string, std::string> keys;
  es::StoreKeys store_keys;
  {
    auto keyring = open_keyring(path, old_key);
    keys = fill(*keyring);
    store_keys = keyring->store_keys();
    REQUIRE(keyring->rotate(new_key, 2).value() == 5);
    REQUIRE(keyring->master_key_id() == new_key.id());
    // Serving goes on under the new key while the rotation is pending.
    require_same_keys(*keyring, keys);
    keys["dsh_new"] = keyring->data_key("dsh_new", true).value();
    REQUIRE(keyring->pending_rotation()->from == old_key.id());
    REQUIRE(keyring->pending_rotation()->to == new_key.id());
    REQUIRE_THAT(keyring->rotate(new_key).error().detail, Catch::Contains("already wrapped"));
    REQUIRE(keyring->finish_rotation().has_value());
    REQUIRE_FALSE(keyring->pending_rotation());
  }
  auto reopened = open_keyring(path, new_key);
  require_same_keys(*reopened, keys);
  REQUIRE(same_store_keys(reopened->store_keys(), store_keys));
  REQUIRE_FALSE(reopened->pending_rotation());
  const std::string refused = open_error(path, old_key);
  REQUIRE_THAT(refused, Catch::Contains(new_key.id()) && Catch::Contains("right master key"));
  // No key material in the file or in the refusal.
  const std::string text = read_bytes(path);
  for (const auto& [id, key] : keys) {
    REQUIRE(text.find(keyledger::crypto::base64_encode(key)) == std::string::npos);
    REQUIRE(refused.find(keyledger::crypto::to_hex(key)) == std::string::npos);
  }
  REQUIRE(text.find(keyledger::crypto::base64_encode(old_key.bytes)) == std::string::npos);
}

TEST_CASE("a rotation killed after any write finishes on the next open with the new key, or never began") {
  TempDir dir;
  const auto old_key = new_master_key(dir, "old.key");
  const auto new_key = new_master_key(dir, "new.key");
  const std::string original = dir / "original.json";
  std::map<std::string, std::string> keys;
  es::StoreKeys store_keys;
  {
    auto keyring = open_keyring(original, old_key);
    keys = fill(*keyring);
    store_keys = keyring->store_keys();
  }
  // Six records to rewrap (five data keys, the store keys) in batches of two: the rotation's
  // record, three batches, then the removal of the rotation's record.
  for (int writes = 0; writes <= 5; ++writes) {
    DYNAMIC_SECTION("killed after " << writes << " writes") {
      const std::string path = dir / ("keyring-" + std::to_string(writes) + ".json");
      std::filesystem::copy_file(original, path);
      {
        auto keyring = es::Keyring::open(std::make_unique<StorageKilledAfter>(path, writes), old_key, nullptr).value();
        auto rotated = keyring->rotate(new_key, 2);
        REQUIRE(rotated.has_value() == (writes >= 4));
        if (rotated) REQUIRE(keyring->finish_rotation().has_value() == (writes >= 5));
      }
      if (writes == 0) {
        // Nothing reached the file: the store is still the old key's.
        require_same_keys(*open_keyring(path, old_key), keys);
        REQUIRE_THAT(open_error(path, new_key), Catch::Contains("right master key"));
        continue;
      }
      REQUIRE_THAT(open_error(path, old_key), Catch::Contains(new_key.id()));
      std::vector<std::string> notes;
      auto resumed = open_keyring(path, new_key, &notes);
      if (writes < 4) REQUIRE_THAT(notes.at(0), Catch::Contains("resumed the rotation"));
      require_same_keys(*resumed, keys);
      REQUIRE(same_store_keys(resumed->store_keys(), store_keys));
      REQUIRE(resumed->pending_rotation().has_value() == (writes < 5));
      REQUIRE(resumed->finish_rotation().has_value());
      auto after = open_keyring(path, new_key);
      require_same_keys(*after, keys);
      REQUIRE_FALSE(after->pending_rotation());
      REQUIRE_THAT(open_error(path, old_key), Catch::Contains("right master key"));
    }
  }
}

TEST_CASE("a keyring from before rotation existed keeps its keys, gains the derived store keys, and rotates") {
  TempDir dir;
  const auto old_key = new_master_key(dir, "old.key");
  const auto new_key = new_master_key(dir, "new.key");
  const std::string path = dir / "keyring.json";
  // The version 1 file, as keyledger wrote it: each data key sealed under the derived
  // key-encryption key, bound to "keyledger data key v1/<dashboard>".
  const std::string data_key = keyledger::crypto::random_bytes(32);
  const std::string sealed = keyledger::crypto::base64_encode(
      keyledger::crypto::aes256gcm_seal(old_key.key_encryption_key(), data_key, "keyledger data key v1/dsh_a"));
  std::ofstream(path) << nlohmann::json{{"version", 1}, {"keys", {{"dsh_a", sealed}, {"dsh_gone", nullptr}}}}.dump();

  auto keyring = open_keyring(path, old_key);
  REQUIRE(keyring->data_key("dsh_a", false).value() == data_key);
  REQUIRE(keyring->data_key("dsh_gone", false).error() == es::StoreErrc::data_key_destroyed);
  REQUIRE(same_store_keys(keyring->store_keys(), old_key.derived_store_keys()));
  REQUIRE(keyring->rotate(new_key).value() == 1);
  REQUIRE(keyring->finish_rotation().has_value());
  keyring.reset();
  auto rotated = open_keyring(path, new_key);
  REQUIRE(rotated->data_key("dsh_a", false).value() == data_key);
  REQUIRE(same_store_keys(rotated->store_keys(), old_key.derived_store_keys()));
  REQUIRE_THAT(open_error(path, old_key), Catch::Contains("right master key"));
}
