// The state of one dashboard as its deciders need it, folded from its events by `evolve`.
// All commands of a dashboard see one state, so invariants that span keys (the WhatsApp
// limit, one SMS key per number) are checked against a consistent whole.
#pragma once

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actor.hpp"
#include "channel.hpp"
#include "events.hpp"
#include "key_id.hpp"
#include "sealed_secret.hpp"
#include "time.hpp"
#include "validation.hpp"

namespace keyledger::domain {

inline constexpr std::size_t kWhatsAppKeyLimit = 3;
inline constexpr int kLockoutFailures = 5;
inline constexpr auto kLockoutWindow = std::chrono::minutes(15);
inline constexpr auto kLockoutDuration = std::chrono::minutes(15);

enum class KeyStatus { active, rotating, revoked, expired };
std::string_view to_string(KeyStatus status);

// How a presented secret (by fingerprint) relates to a key at an instant.
enum class SecretMatch { none, current, previous_in_grace, previous_expired };

// An Email key's IP allowlist: canonical ranges, empty for any address. Most keys have none,
// so the ranges live out of line behind one pointer (null when empty), which keeps a key's
// std::map node at 256 bytes: jemalloc's 256-byte size class (a 272-byte node took its 320),
// a 272-byte chunk of glibc's (288 before). Copies are deep: a value, as the std::vector it
// stands for.
class IpAllowlist {
 public:
  IpAllowlist() = default;
  IpAllowlist(std::vector<std::string> ranges) { assign(std::move(ranges)); }  // NOLINT: implicit, as the vector
  IpAllowlist(std::initializer_list<std::string> ranges) : IpAllowlist(std::vector<std::string>(ranges)) {}
  IpAllowlist(const IpAllowlist& other) { *this = other; }
  IpAllowlist& operator=(const IpAllowlist& other) {
    if (this != &other) ranges_ = other.ranges_ ? std::make_unique<std::vector<std::string>>(*other.ranges_) : nullptr;
    return *this;
  }
  IpAllowlist(IpAllowlist&&) noexcept = default;
  IpAllowlist& operator=(IpAllowlist&&) noexcept = default;

  const std::vector<std::string>& ranges() const { return ranges_ ? *ranges_ : kNone; }
  bool empty() const { return !ranges_; }
  std::size_t size() const { return ranges().size(); }
  auto begin() const { return ranges().begin(); }
  auto end() const { return ranges().end(); }
  friend bool operator==(const IpAllowlist& a, const IpAllowlist& b) { return a.ranges() == b.ranges(); }

 private:
  void assign(std::vector<std::string> ranges) {
    ranges_ = ranges.empty() ? nullptr : std::make_unique<std::vector<std::string>>(std::move(ranges));
  }
  static inline const std::vector<std::string> kNone;
  std::unique_ptr<std::vector<std::string>> ranges_;
};

// One key of any channel, as its dashboard's decider state keeps it. Its id is the key of
// DashboardState::keys (a KeyId: no allocation for the API's ids).
// Of its current secret the state keeps what verification and listings need: the
// fingerprint and the mask. The sealed bytes stay in the event that recorded the secret
// (secret_sequence), read from the log on the rare disclosure.
struct ApiKey {
  Fingerprint fingerprint{};  // of the current secret
  Fingerprint previous{};     // the replaced secret's fingerprint, when has_previous
  std::array<char, 8> mask{};  // the current secret's visible ends (SealedSecret::mask)
  std::uint64_t secret_sequence = 0;  // the dashboard event that recorded the current secret
  Channel channel = Channel::email;
  bool revoked = false;
  bool has_previous = false;  // the secret replaced by the last rotation is on record
  std::uint16_t permissions = kAllPermissions;  // Email only: see permission_bits
  std::uint32_t version = 0;  // events of this key's stream ("key:<id>") so far
  std::string name;           // SMS: the number
  Timestamp previous_valid_until{};
  Timestamp created_at{};
  Timestamp secret_issued_at{};  // when the current secret was generated or rotated in
  Timestamp revoked_at{};
  std::uint64_t uses = 0;        // verifications, as recorded by KeyUsageRecorded
  std::optional<Timestamp> last_used_at;
  IpAllowlist ip_allowlist;  // Email only

  // The form shown in listings: prefix + "…" + the last 4 characters.
  std::string masked() const;
  KeyStatus status_at(Timestamp now) const;
  SecretMatch match(const Fingerprint& fingerprint, Timestamp now) const;
};
// A key's map node (the tree's 32 bytes, a KeyId's 32, the key) in 256 bytes: docs/performance.md.
static_assert(sizeof(ApiKey) <= 192, "a key's std::map node outgrows 256 bytes");

struct User {
  std::string email;
  Role role = Role::viewer;
  std::string password_hash;
  std::vector<Timestamp> recent_failures;  // wrong passwords inside the lockout window
  std::optional<Timestamp> locked_until;

  bool locked_at(Timestamp now) const { return locked_until && now < *locked_until; }
  // Wrong passwords that still count towards a lockout at `now`.
  int failures_within_window(Timestamp now) const;
};

struct SmsNumber {
  std::string number;
  std::string key_id;
  Timestamp registered_at{};
};

struct DashboardState {
  bool exists = false;
  bool closed = false;
  std::string id;
  std::string name;
  Timestamp created_at{};
  std::map<std::string, User> users;       // by lower-case email
  std::map<KeyId, ApiKey, std::less<>> keys;  // every channel's keys, by key id
  std::map<std::string, SmsNumber> numbers;  // registered numbers, by E.164 text
  std::string rcs_key_id;
  std::set<std::string> rcs_bots;
  std::optional<AuditCheckpointSigned> last_checkpoint;
  std::string data_key_master;  // the master key wrapping the data key, as DataKeyRewrapped last said

  const User* user(std::string_view email) const;
  const ApiKey* key(std::string_view key_id, Channel channel) const;
  std::size_t active_whatsapp_keys() const;
  std::size_t admin_count() const;
};

// Folds one recorded event into the state. Events are facts: evolve never refuses one.
void evolve(DashboardState& state, const RecordedEvent& recorded);

}  // namespace keyledger::domain
