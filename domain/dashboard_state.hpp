// The state of one dashboard as its deciders need it, folded from its events by `evolve`.
// All commands of a dashboard see one state, so invariants that span keys (the WhatsApp
// limit, one SMS key per number) are checked against a consistent whole.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actor.hpp"
#include "channel.hpp"
#include "events.hpp"
#include "sealed_secret.hpp"
#include "time.hpp"

namespace keyledger::domain {

inline constexpr std::size_t kWhatsAppKeyLimit = 3;
inline constexpr int kLockoutFailures = 5;
inline constexpr auto kLockoutWindow = std::chrono::minutes(15);
inline constexpr auto kLockoutDuration = std::chrono::minutes(15);

enum class KeyStatus { active, rotating, revoked, expired };
std::string_view to_string(KeyStatus status);

// How a presented secret (by fingerprint) relates to a key at an instant.
enum class SecretMatch { none, current, previous_in_grace, previous_expired };

struct ApiKey {
  std::string id;
  Channel channel = Channel::email;
  std::string name;
  SealedSecret current;
  std::optional<SealedSecret> previous;  // the secret replaced by the last rotation
  Timestamp previous_valid_until{};
  Timestamp created_at{};
  Timestamp secret_issued_at{};  // when the current secret was generated or rotated in
  bool revoked = false;
  Timestamp revoked_at{};
  std::vector<std::string> permissions;   // Email only
  std::vector<std::string> ip_allowlist;  // Email only, canonical ranges; empty = any
  std::string number;                     // SMS only
  std::uint64_t uses = 0;                 // verifications, as recorded by KeyUsageRecorded
  std::optional<Timestamp> last_used_at;

  KeyStatus status_at(Timestamp now) const;
  SecretMatch match(std::string_view fingerprint, Timestamp now) const;
};

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
  std::map<std::string, ApiKey> keys;      // every channel's keys, by key id
  std::map<std::string, SmsNumber> numbers;  // registered numbers, by E.164 text
  std::string rcs_key_id;
  std::set<std::string> rcs_bots;
  std::optional<AuditCheckpointSigned> last_checkpoint;

  const User* user(std::string_view email) const;
  const ApiKey* key(std::string_view key_id, Channel channel) const;
  std::size_t active_whatsapp_keys() const;
  std::size_t admin_count() const;
};

// Folds one recorded event into the state. Events are facts: evolve never refuses one.
void evolve(DashboardState& state, const RecordedEvent& recorded);

}  // namespace keyledger::domain
