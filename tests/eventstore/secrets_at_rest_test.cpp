#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "domain/key_format.hpp"
#include "eventstore/file_keyring.hpp"
#include "eventstore/keyring.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/secret_vault.hpp"
#include "eventstore/store_error.hpp"
#include "support/master_keys.hpp"
#include "support/temp_dir.hpp"

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;
using keyledger::testing::TempDir;
using keyledger::testing::new_master_key;
using keyledger::testing::read_bytes;

namespace {

std::expected<std::unique_ptr<es::Keyring>, std::string> try_open_keyring(const std::string& path,
                                                                    const es::MasterKey& master) {
  return es::Keyring::open(std::make_unique<es::FileKeyringStorage>(path), master, nullptr);
}
}  // namespace

TEST_CASE("keygen writes 32 random bytes readable only by the owner, and never overwrites") {
  TempDir dir;
  REQUIRE(es::write_new_master_key(dir / "k").has_value());
  struct stat st{};
  REQUIRE(stat((dir / "k").c_str(), &st) == 0);
  REQUIRE((st.st_mode & 0777) == 0600);
  REQUIRE(st.st_size == 32);
  REQUIRE_FALSE(es::write_new_master_key(dir / "k").has_value());
}

TEST_CASE("a missing, short or world-readable master key is refused with a clear reason") {
  TempDir dir;
  REQUIRE(es::load_master_key("").error().find("KEYLEDGER_MASTER_KEY_FILE") != std::string::npos);
  REQUIRE(es::load_master_key(dir / "absent").error().find("cannot open") != std::string::npos);
  std::ofstream(dir / "short") << "too short";
  chmod((dir / "short").c_str(), 0600);
  REQUIRE(es::load_master_key(dir / "short").error().find("exactly 32 bytes") != std::string::npos);
  REQUIRE(es::write_new_master_key(dir / "open").has_value());
  chmod((dir / "open").c_str(), 0644);
  REQUIRE(es::load_master_key(dir / "open").error().find("chmod 600") != std::string::npos);
}

TEST_CASE("an issued secret has a valid checksum, opens back to itself, and is stored only sealed") {
  TempDir dir;
  auto master = new_master_key(dir);
  auto keyring = try_open_keyring(dir / "keyring.json", master).value();
  es::SecretVault vault(*keyring, keyring->store_keys().fingerprint_pepper);
  auto issued = vault.issue(kd::Channel::whatsapp, "d1", "w1", true).value();
  REQUIRE(kd::parse_key(issued.plaintext) == kd::Channel::whatsapp);
  REQUIRE(issued.sealed.fingerprint == vault.fingerprint(issued.plaintext));
  REQUIRE(issued.sealed.masked() == kd::mask_key(issued.plaintext));
  const std::string_view ciphertext(reinterpret_cast<const char*>(issued.sealed.ciphertext.data()),
                                    issued.sealed.ciphertext.size());
  REQUIRE(ciphertext.find(issued.plaintext) == std::string_view::npos);
  REQUIRE(ciphertext.find(issued.plaintext.substr(4, 20)) == std::string_view::npos);
  REQUIRE(vault.open("d1", "w1", issued.sealed).value() == issued.plaintext);
  // Bound to its dashboard and key: a ciphertext moved elsewhere does not open.
  REQUIRE_FALSE(vault.open("d1", "w2", issued.sealed).has_value());
  REQUIRE(read_bytes(dir / "keyring.json").find(issued.plaintext) == std::string::npos);
}

TEST_CASE("two issued secrets differ, and fingerprints depend on the pepper") {
  TempDir dir;
  auto master = new_master_key(dir);
  auto keyring = try_open_keyring(dir / "keyring.json", master).value();
  es::SecretVault vault(*keyring, keyring->store_keys().fingerprint_pepper);
  es::SecretVault other(*keyring, std::string(32, 'p'));
  auto a = vault.issue(kd::Channel::email, "d1", "k1", true).value();
  auto b = vault.issue(kd::Channel::email, "d1", "k2", true).value();
  REQUIRE(a.plaintext != b.plaintext);
  REQUIRE(vault.fingerprint(a.plaintext) != other.fingerprint(a.plaintext));
}

TEST_CASE("the keyring survives a restart, refuses the wrong master key, and shreds a closed dashboard's key") {
  TempDir dir;
  auto master = new_master_key(dir);
  kd::SealedSecret sealed;
  std::string plaintext;
  {
    auto keyring = try_open_keyring(dir / "keyring.json", master).value();
    es::SecretVault vault(*keyring, keyring->store_keys().fingerprint_pepper);
    auto issued = vault.issue(kd::Channel::email, "d1", "k1", true).value();
    sealed = issued.sealed;
    plaintext = issued.plaintext;
    vault.issue(kd::Channel::email, "d2", "k2", true).value();
  }
  auto wrong = new_master_key(dir, "other.key");
  REQUIRE_THAT(try_open_keyring(dir / "keyring.json", wrong).error(), Catch::Contains("right master key"));

  auto keyring = try_open_keyring(dir / "keyring.json", master).value();
  es::SecretVault vault(*keyring, keyring->store_keys().fingerprint_pepper);
  REQUIRE(vault.open("d1", "k1", sealed).value() == plaintext);
  REQUIRE_FALSE(keyring->destroy("d1"));
  REQUIRE(vault.open("d1", "k1", sealed).error() == es::StoreErrc::data_key_destroyed);
  REQUIRE(vault.issue(kd::Channel::email, "d1", "k3", true).error() == es::StoreErrc::data_key_destroyed);
  auto reopened = try_open_keyring(dir / "keyring.json", master).value();
  REQUIRE(reopened->data_key("d1", true).error() == es::StoreErrc::data_key_destroyed);
  REQUIRE(reopened->data_key("d2", false).has_value());
}

TEST_CASE("password hashes are scrypt, salted, and verify only the right password") {
  std::string a = es::hash_password("correct horse battery staple");
  std::string b = es::hash_password("correct horse battery staple");
  REQUIRE(a.rfind("scrypt$15$8$1$", 0) == 0);
  REQUIRE(a != b);
  REQUIRE(a.find("correct horse") == std::string::npos);
  REQUIRE(es::verify_password("correct horse battery staple", a));
  REQUIRE_FALSE(es::verify_password("correct horse battery stapler", a));
  REQUIRE_FALSE(es::verify_password("anything", "scrypt$15$8$1$bad"));
  REQUIRE_FALSE(es::verify_password("anything", ""));
}
