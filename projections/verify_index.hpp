// The verify hot path's read model: every live secret of every dashboard, keyed by its
// HMAC fingerprint, with the key's restrictions precompiled (CIDR ranges parsed, permissions
// as a bitmask). Verification checks the presented key's format and checksum, fingerprints
// it with the server pepper (a precomputed HMAC state) and looks it up: no I/O, no log write
// and no allocation of its own beyond the result.
//
// Threading: verify() runs on any number of threads at once (shared lock); refresh_*() run
// from the command pipeline's listener (exclusive lock, brief).
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <cstdint>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/dashboard_state.hpp"
#include "domain/ip_range.hpp"
#include "eventstore/crypto.hpp"

namespace keyledger::projections {

enum class VerifyReason {
  valid,
  unknown_key,
  malformed_key,
  revoked,
  expired,
  ip_not_allowed,
  permission_denied,
  wrong_number,
  unknown_bot,
};
std::string_view to_string(VerifyReason reason);
inline constexpr std::size_t kVerifyReasonCount = 9;

struct VerifyRequest {
  std::string_view key;
  std::optional<domain::IpAddress> source_ip;  // required for Email keys with an allowlist
  std::optional<std::string_view> permission;
  std::optional<std::string_view> number;
  std::optional<std::string_view> bot_id;
};

struct VerifyResult {
  VerifyReason reason = VerifyReason::unknown_key;
  std::string dashboard_id;
  domain::Channel channel = domain::Channel::email;
  std::string key_id;
};

using Fingerprint = std::array<unsigned char, 32>;

class VerifyIndex {
 public:
  // `fingerprint_pepper` is the HMAC key of SealedSecret::fingerprint (MasterKey's pepper).
  explicit VerifyIndex(std::string_view fingerprint_pepper);

  // malformed_key when the key's format or checksum is wrong (no lookup is made then).
  VerifyResult verify(const VerifyRequest& request, domain::Timestamp now) const;

  // Mirrors one key of a dashboard as the state now has it.
  void refresh_key(const std::string& dashboard_id, const domain::ApiKey& key);
  // Mirrors the dashboard's RCS bots.
  void refresh_bots(const std::string& dashboard_id, const std::set<std::string>& bots);
  // Mirrors everything of one dashboard (start-up, closure).
  void refresh_dashboard(const domain::DashboardState& state);

  // Which key a fingerprint belongs to, whatever its state (for leak reports).
  struct Located {
    std::string dashboard_id;
    std::string key_id;
    domain::Channel channel;
  };
  std::optional<Located> locate(std::string_view presented_key) const;

  std::size_t live_secrets() const;

  // Verifications counted since the last drain, per dashboard: the counters are reset.
  struct Usage {
    std::string key_id;
    std::uint64_t uses;
    domain::Timestamp last_used_at;
  };
  std::map<std::string, std::vector<Usage>> drain_usage();

  // A canonical text of the whole read model, for comparing it before and after a rebuild.
  std::string canonical_dump() const;

 private:
  struct Key {
    std::string dashboard_id;
    std::string key_id;
    domain::Channel channel = domain::Channel::email;
    bool revoked = false;
    std::uint16_t permissions = 0xffff;  // bit i: catalogue entry i; all bits: "all"
    std::vector<domain::IpRange> allowlist;
    std::string number;
    std::optional<Fingerprint> current, previous;
    domain::Timestamp previous_valid_until{};
  };
  struct Secret {
    std::uint32_t key;  // index into keys_
    bool previous;
  };
  struct FingerprintHash {
    std::size_t operator()(const Fingerprint& f) const noexcept;  // its first 8 bytes: already uniform
  };

  struct UsageCounter {
    std::atomic<std::uint64_t> uses{0};
    std::atomic<std::int64_t> last_used_ms{0};
  };

  eventstore::crypto::HmacSha256Key fingerprinter_;
  mutable std::shared_mutex mutex_;
  std::vector<Key> keys_;
  // One per keys_ entry; a deque so that counters never move while verify() bumps them.
  mutable std::deque<UsageCounter> usage_;
  std::unordered_map<std::string, std::uint32_t> key_slots_;  // dashboard/key id -> keys_ index
  std::unordered_map<Fingerprint, Secret, FingerprintHash> secrets_;
  std::unordered_map<std::string, std::set<std::string>> bots_;
};

// Parses a fingerprint in hex (as SealedSecret holds it).
std::optional<Fingerprint> parse_fingerprint(std::string_view hex);

}  // namespace keyledger::projections
