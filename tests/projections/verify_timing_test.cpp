// Verification time does not depend on how close a wrong key is to a live one: a key that
// differs from a live key in one character (valid prefix and checksum) takes as long as a
// random well-formed key. The lookup is by HMAC fingerprint, so closeness in the key text
// says nothing about closeness in the table, and the stored fingerprint is compared in
// constant time. (A key with a wrong checksum is refused before any lookup: the checksum is
// public, so that shortcut reveals nothing.)
//
// Tagged [timing]: it measures, so tools/test runs it only in the optimised build, where the
// code timed is the code shipped; under ASan the instrumentation's own cost swamps the signal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <random>

#include "domain/key_format.hpp"
#include "crypto/crypto.hpp"
#include "projections/verify_index.hpp"

namespace kd = keyledger::domain;
namespace crypto = keyledger::crypto;
namespace pj = keyledger::projections;

namespace {

const std::string kTimingPepper = "timing test pepper, 32 bytes....";

std::string random_key(std::mt19937_64& rng) {
  std::array<std::uint8_t, kd::kKeyRandomLength> digits;
  for (auto& d : digits) d = static_cast<std::uint8_t>(rng() % 62);
  return kd::format_key(kd::Channel::email, digits);
}

// A live key with one character of its random part changed, checksum recomputed.
std::string near_miss(const std::string& live, std::mt19937_64& rng) {
  static constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::array<std::uint8_t, kd::kKeyRandomLength> digits;
  for (std::size_t i = 0; i < digits.size(); ++i) digits[i] = static_cast<std::uint8_t>(kBase62.find(live[4 + i]));
  std::size_t at = rng() % digits.size();
  digits[at] = static_cast<std::uint8_t>((digits[at] + 1 + rng() % 61) % 62);
  return kd::format_key(kd::Channel::email, digits);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

TEST_CASE("verify timing: a near miss of a live key takes as long as a random key", "[timing]") {
  std::mt19937_64 rng(99);
  pj::VerifyIndex index(kTimingPepper);
  constexpr int kLive = 100000;
  std::vector<std::string> live;
  for (int i = 0; i < kLive; ++i) {
    live.push_back(random_key(rng));
    kd::ApiKey key;
    key.channel = kd::Channel::email;
    const std::string mac = crypto::hmac_sha256(kTimingPepper, live.back());
    std::copy(mac.begin(), mac.end(), key.fingerprint.begin());
    index.refresh_key("dsh_timing", "key_" + std::to_string(i), key);
  }
  constexpr int kBatch = 400;
  std::vector<std::string> near, far;
  for (int i = 0; i < kBatch * 8; ++i) {
    near.push_back(near_miss(live[rng() % kLive], rng));
    far.push_back(random_key(rng));
  }
  const kd::Timestamp now{std::chrono::milliseconds{1'800'000'000'000}};
  auto time_batch = [&](const std::vector<std::string>& keys, int round) {
    int unknown = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kBatch; ++i) {
      const std::string& k = keys[(round * kBatch + i) % keys.size()];
      unknown += index.verify({k, std::nullopt, std::nullopt, std::nullopt, std::nullopt}, now).reason ==
                 pj::VerifyReason::unknown_key;
    }
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(unknown == kBatch);  // every one of them is a wrong key
    return ns / kBatch;
  };
  // Interleaved batches, alternating which class goes first, so that drift in the machine's
  // speed (other processes, frequency) falls on both alike; medians ignore the outliers.
  std::vector<double> near_ns, far_ns;
  for (int round = 0; round < 300; ++round) {
    if (round % 2 == 0) {
      near_ns.push_back(time_batch(near, round));
      far_ns.push_back(time_batch(far, round));
    } else {
      far_ns.push_back(time_batch(far, round));
      near_ns.push_back(time_batch(near, round));
    }
  }
  double near_median = median(near_ns), far_median = median(far_ns);
  INFO("near miss " << near_median << " ns, random " << far_median << " ns per verification");
  CHECK(near_median / far_median > 0.93);
  CHECK(near_median / far_median < 1.07);
}
