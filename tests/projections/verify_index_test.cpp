// The verify read model through its interface: every verification outcome, and the
// fingerprint table's integrity under heavy churn (rotations replacing secrets, growth).
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "domain/key_format.hpp"
#include "domain/validation.hpp"
#include "crypto/crypto.hpp"
#include "projections/verify_index.hpp"

namespace kd = keyledger::domain;
namespace crypto = keyledger::crypto;
namespace pj = keyledger::projections;
using namespace std::chrono_literals;

namespace {

const std::string kPepper = "a pepper of thirty-two bytes....";

struct Issued {
  std::string key;
  kd::SealedSecret sealed;
};

Issued issue(kd::Channel channel, std::mt19937_64& rng) {
  std::array<std::uint8_t, kd::kKeyRandomLength> digits;
  for (auto& d : digits) d = static_cast<std::uint8_t>(rng() % 62);
  Issued out;
  out.key = kd::format_key(channel, digits);
  const std::string mac = crypto::hmac_sha256(kPepper, out.key);
  std::copy(mac.begin(), mac.end(), out.sealed.fingerprint.begin());
  return out;
}

kd::ApiKey key_of(kd::Channel channel, const Issued& secret) {
  kd::ApiKey key;
  key.channel = channel;
  key.fingerprint = secret.sealed.fingerprint;
  return key;
}

// The state of a key whose secret `now` replaced `before` (a rotation).
kd::ApiKey rotated_key(kd::Channel channel, const Issued& now, const Issued& before, kd::Timestamp valid_until) {
  kd::ApiKey key = key_of(channel, now);
  key.has_previous = true;
  key.previous = before.sealed.fingerprint;
  key.previous_valid_until = valid_until;
  return key;
}

const kd::Timestamp kNow{std::chrono::milliseconds{1'800'000'000'000}};

pj::VerifyReason check(const pj::VerifyIndex& index, const std::string& key, const std::string& ip = "203.0.113.7",
                       std::optional<std::string_view> permission = std::nullopt,
                       std::optional<std::string_view> number = std::nullopt,
                       std::optional<std::string_view> bot = std::nullopt) {
  return index.verify({key, kd::parse_ip_address(ip).value(), permission, number, bot}, kNow).reason;
}

}  // namespace

TEST_CASE("verify index: every outcome of a verification") {
  std::mt19937_64 rng(1);
  pj::VerifyIndex index(kPepper);
  auto email = issue(kd::Channel::email, rng);
  auto restricted = issue(kd::Channel::email, rng);
  auto sms = issue(kd::Channel::sms, rng);
  auto rcs = issue(kd::Channel::rcs, rng);
  auto revoked = issue(kd::Channel::whatsapp, rng);
  auto unknown = issue(kd::Channel::email, rng);

  index.refresh_key("dsh_a", "key_email", key_of(kd::Channel::email, email));
  auto r = key_of(kd::Channel::email, restricted);
  r.permissions = kd::permission_bits(std::vector<std::string>{"mail.send"});
  r.ip_allowlist = {"10.0.0.0/8"};
  index.refresh_key("dsh_a", "key_restricted", r);
  auto s = key_of(kd::Channel::sms, sms);
  s.name = "+15550001111";
  index.refresh_key("dsh_a", "key_sms", s);
  index.refresh_key("dsh_a", "key_rcs", key_of(kd::Channel::rcs, rcs));
  index.refresh_bots("dsh_a", {"bot_1"});
  auto w = key_of(kd::Channel::whatsapp, revoked);
  w.revoked = true;
  index.refresh_key("dsh_a", "key_wa", w);

  auto valid = index.verify({email.key, std::nullopt, std::nullopt, std::nullopt, std::nullopt}, kNow);
  CHECK(valid.reason == pj::VerifyReason::valid);
  CHECK(valid.dashboard_id == "dsh_a");
  CHECK(valid.key_id == "key_email");
  CHECK(valid.channel == kd::Channel::email);

  CHECK(check(index, unknown.key) == pj::VerifyReason::unknown_key);
  std::string bad_checksum = email.key;
  bad_checksum.back() = bad_checksum.back() == 'a' ? 'b' : 'a';
  CHECK(check(index, bad_checksum) == pj::VerifyReason::malformed_key);
  CHECK(check(index, "kle_short") == pj::VerifyReason::malformed_key);
  CHECK(check(index, revoked.key) == pj::VerifyReason::revoked);
  CHECK(check(index, restricted.key, "203.0.113.7") == pj::VerifyReason::ip_not_allowed);
  CHECK(check(index, restricted.key, "10.1.2.3", "mail.send") == pj::VerifyReason::valid);
  CHECK(check(index, restricted.key, "10.1.2.3", "webhooks.manage") == pj::VerifyReason::permission_denied);
  CHECK(check(index, restricted.key, "10.1.2.3", "no.such.permission") == pj::VerifyReason::permission_denied);
  CHECK(check(index, sms.key, "203.0.113.7", std::nullopt, "+15550001111") == pj::VerifyReason::valid);
  CHECK(check(index, sms.key, "203.0.113.7", std::nullopt, "+15550002222") == pj::VerifyReason::wrong_number);
  CHECK(check(index, rcs.key, "203.0.113.7", std::nullopt, std::nullopt, "bot_1") == pj::VerifyReason::valid);
  CHECK(check(index, rcs.key, "203.0.113.7", std::nullopt, std::nullopt, "bot_2") == pj::VerifyReason::unknown_bot);

  // A rotation: the previous secret verifies until its grace period ends, then reports expired.
  auto rotated = issue(kd::Channel::email, rng);
  auto e = rotated_key(kd::Channel::email, rotated, email, kNow + 1s);
  index.refresh_key("dsh_a", "key_email", e);
  CHECK(check(index, rotated.key) == pj::VerifyReason::valid);
  CHECK(check(index, email.key) == pj::VerifyReason::valid);
  e.previous_valid_until = kNow;
  index.refresh_key("dsh_a", "key_email", e);
  CHECK(check(index, email.key) == pj::VerifyReason::expired);
  CHECK(index.locate(email.key)->key_id == "key_email");
  CHECK_FALSE(index.locate(unknown.key).has_value());

  // Ids longer than the inline capacity are kept whole.
  auto long_ids = issue(kd::Channel::email, rng);
  const std::string long_dashboard = "dsh_" + std::string(60, 'd'), long_key = "key_" + std::string(60, 'k');
  index.refresh_key(long_dashboard, long_key, key_of(kd::Channel::email, long_ids));
  auto long_result = index.verify({long_ids.key, std::nullopt, std::nullopt, std::nullopt, std::nullopt}, kNow);
  CHECK(long_result.dashboard_id == long_dashboard);
  CHECK(long_result.key_id == long_key);

  auto usage = index.drain_usage();
  REQUIRE(usage["dsh_a"].size() == 4);  // email, restricted, sms, rcs: only valid verifications count
  CHECK(usage[long_dashboard].at(0).key_id == long_key);
  CHECK(index.drain_usage().empty());
}

TEST_CASE("verify index: after many rotations exactly the live secrets verify") {
  std::mt19937_64 rng(7);
  pj::VerifyIndex index(kPepper);
  constexpr int kKeys = 5000;
  std::vector<Issued> current(kKeys), previous(kKeys);
  std::vector<std::string> retired;
  std::vector<bool> has_previous(kKeys, false);
  for (int i = 0; i < kKeys; ++i) {
    current[i] = issue(kd::Channel::email, rng);
    index.refresh_key("dsh_" + std::to_string(i % 7), "key_" + std::to_string(i), key_of(kd::Channel::email, current[i]));
  }
  // 20,000 rotations in random order: each drops the older previous secret, keeps one.
  for (int round = 0; round < 20000; ++round) {
    int i = static_cast<int>(rng() % kKeys);
    if (has_previous[i]) retired.push_back(previous[i].key);
    previous[i] = current[i];
    has_previous[i] = true;
    current[i] = issue(kd::Channel::email, rng);
    index.refresh_key("dsh_" + std::to_string(i % 7), "key_" + std::to_string(i),
                      rotated_key(kd::Channel::email, current[i], previous[i], kNow + 1h));
  }
  std::size_t live = 0;
  for (int i = 0; i < kKeys; ++i) {
    REQUIRE(check(index, current[i].key) == pj::VerifyReason::valid);
    ++live;
    if (has_previous[i]) {
      REQUIRE(check(index, previous[i].key) == pj::VerifyReason::valid);
      ++live;
    }
  }
  for (auto& old : retired) REQUIRE(check(index, old) == pj::VerifyReason::unknown_key);
  CHECK(index.live_secrets() == live);
}

// The server verifies on its I/O threads while the pipeline applies events and the usage
// recorder drains counters. Run under TSan by tools/test.
TEST_CASE("verify index: concurrent verifications during rotations and usage drains count every use once",
          "[concurrency]") {
  std::mt19937_64 rng(11);
  pj::VerifyIndex index(kPepper);
  constexpr int kStable = 200, kChurning = 200;
  std::vector<Issued> stable(kStable);
  for (int i = 0; i < kStable; ++i) {
    stable[i] = issue(kd::Channel::email, rng);
    index.refresh_key("dsh_stable", "stable_" + std::to_string(i), key_of(kd::Channel::email, stable[i]));
  }
  std::vector<Issued> churning(kChurning);
  for (int i = 0; i < kChurning; ++i) {
    churning[i] = issue(kd::Channel::sms, rng);
    index.refresh_key("dsh_churn", "churn_" + std::to_string(i), key_of(kd::Channel::sms, churning[i]));
  }
  std::vector<bool> churned(kChurning, false);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> valid_stable{0}, wrong{0};
  std::uint64_t drained_stable = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      for (std::size_t n = static_cast<std::size_t>(t); !stop; n += 7) {
        if (check(index, stable[n % kStable].key) == pj::VerifyReason::valid) {
          ++valid_stable;
        } else {
          ++wrong;  // a stable key is always valid, whatever else changes
        }
      }
    });
  }
  std::thread drainer([&] {
    while (!stop) {
      auto drained = index.drain_usage();
      for (auto& u : drained["dsh_stable"]) drained_stable += u.uses;
      std::this_thread::sleep_for(1ms);
    }
  });
  std::mt19937_64 writer_rng(12);
  for (int round = 0; round < 3000; ++round) {
    int i = static_cast<int>(writer_rng() % kChurning);
    // An SMS rotation: the replaced secret is dead at once (its grace ends now).
    auto replaced = churning[i];
    churning[i] = issue(kd::Channel::sms, writer_rng);
    churned[i] = true;
    index.refresh_key("dsh_churn", "churn_" + std::to_string(i), rotated_key(kd::Channel::sms, churning[i], replaced, kNow));
  }
  stop = true;
  for (auto& r : readers) r.join();
  drainer.join();
  auto drained = index.drain_usage();
  for (auto& u : drained["dsh_stable"]) drained_stable += u.uses;

  CHECK(wrong == 0);
  CHECK(valid_stable > 0);
  CHECK(drained_stable == valid_stable);  // every valid verification counted exactly once
  for (auto& c : churning) REQUIRE(check(index, c.key) == pj::VerifyReason::valid);
  // Every key's current secret, and each rotated key's previous (expired) one.
  CHECK(index.live_secrets() == kStable + kChurning + static_cast<std::size_t>(std::count(churned.begin(), churned.end(), true)));
}
