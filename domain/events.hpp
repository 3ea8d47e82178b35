// Every fact a dashboard's history can hold. `type` is the envelope's event type (SPEC §5);
// the payload fields are the envelope's `data`. No event holds a plaintext secret or password.
#pragma once

#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actor.hpp"
#include "channel.hpp"
#include "rejection.hpp"
#include "sealed_secret.hpp"
#include "time.hpp"

namespace keyledger::domain {

// --- dashboard and users ---------------------------------------------------------------
struct DashboardCreated {
  static constexpr std::string_view type = "DashboardCreated";
  std::string dashboard_id;
  std::string name;
  friend bool operator==(const DashboardCreated&, const DashboardCreated&) = default;
};
struct DashboardClosed {
  static constexpr std::string_view type = "DashboardClosed";
  std::string reason;
  friend bool operator==(const DashboardClosed&, const DashboardClosed&) = default;
};
struct UserAdded {
  static constexpr std::string_view type = "UserAdded";
  std::string email;
  Role role = Role::viewer;
  std::string password_hash;  // a memory-hard hash, never the password
  friend bool operator==(const UserAdded&, const UserAdded&) = default;
};
struct UserRemoved {
  static constexpr std::string_view type = "UserRemoved";
  std::string email;
  friend bool operator==(const UserRemoved&, const UserRemoved&) = default;
};
struct UserLoggedIn {
  static constexpr std::string_view type = "UserLoggedIn";
  std::string email;
  friend bool operator==(const UserLoggedIn&, const UserLoggedIn&) = default;
};
// `code`: unauthenticated (no such user), password_incorrect, or too_many_attempts (locked).
struct UserLoginFailed {
  static constexpr std::string_view type = "UserLoginFailed";
  std::string email;
  RejectionCode code = RejectionCode::unauthenticated;
  friend bool operator==(const UserLoginFailed&, const UserLoginFailed&) = default;
};
// Too many wrong passwords: login and step-up refused until `until`.
struct UserLockedOut {
  static constexpr std::string_view type = "UserLockedOut";
  std::string email;
  Timestamp until;
  friend bool operator==(const UserLockedOut&, const UserLockedOut&) = default;
};

// --- Email -------------------------------------------------------------------------------
struct EmailKeyGenerated {
  static constexpr std::string_view type = "EmailKeyGenerated";
  std::string key_id;
  std::string name;
  std::vector<std::string> permissions;
  std::vector<std::string> ip_allowlist;
  SealedSecret secret;
  friend bool operator==(const EmailKeyGenerated&, const EmailKeyGenerated&) = default;
};
// Carries the complete new configuration, not a diff, so a reader needs no earlier event.
struct EmailKeyRestrictionsChanged {
  static constexpr std::string_view type = "EmailKeyRestrictionsChanged";
  std::string key_id;
  std::string name;
  std::vector<std::string> permissions;
  std::vector<std::string> ip_allowlist;
  friend bool operator==(const EmailKeyRestrictionsChanged&,
                         const EmailKeyRestrictionsChanged&) = default;
};
struct EmailKeyRotated {
  static constexpr std::string_view type = "EmailKeyRotated";
  std::string key_id;
  SealedSecret secret;
  Timestamp previous_valid_until;  // the end of the old secret's grace period
  friend bool operator==(const EmailKeyRotated&, const EmailKeyRotated&) = default;
};
struct EmailKeyRevoked {
  static constexpr std::string_view type = "EmailKeyRevoked";
  std::string key_id;
  friend bool operator==(const EmailKeyRevoked&, const EmailKeyRevoked&) = default;
};
struct EmailKeyRevealed {
  static constexpr std::string_view type = "EmailKeyRevealed";
  std::string key_id;
  friend bool operator==(const EmailKeyRevealed&, const EmailKeyRevealed&) = default;
};

// --- WhatsApp ----------------------------------------------------------------------------
struct WhatsAppKeyGenerated {
  static constexpr std::string_view type = "WhatsAppKeyGenerated";
  std::string key_id;
  std::string name;
  SealedSecret secret;
  friend bool operator==(const WhatsAppKeyGenerated&, const WhatsAppKeyGenerated&) = default;
};
struct WhatsAppKeyRotated {
  static constexpr std::string_view type = "WhatsAppKeyRotated";
  std::string key_id;
  SealedSecret secret;
  Timestamp previous_valid_until;
  friend bool operator==(const WhatsAppKeyRotated&, const WhatsAppKeyRotated&) = default;
};
struct WhatsAppKeyRevoked {
  static constexpr std::string_view type = "WhatsAppKeyRevoked";
  std::string key_id;
  friend bool operator==(const WhatsAppKeyRevoked&, const WhatsAppKeyRevoked&) = default;
};
struct WhatsAppKeyRevealed {
  static constexpr std::string_view type = "WhatsAppKeyRevealed";
  std::string key_id;
  friend bool operator==(const WhatsAppKeyRevealed&, const WhatsAppKeyRevealed&) = default;
};

// --- SMS ---------------------------------------------------------------------------------
struct SmsNumberRegistered {
  static constexpr std::string_view type = "SmsNumberRegistered";
  std::string number;
  friend bool operator==(const SmsNumberRegistered&, const SmsNumberRegistered&) = default;
};
struct SmsKeyAssigned {
  static constexpr std::string_view type = "SmsKeyAssigned";
  std::string number;
  std::string key_id;
  SealedSecret secret;
  friend bool operator==(const SmsKeyAssigned&, const SmsKeyAssigned&) = default;
};
struct SmsKeyViewed {
  static constexpr std::string_view type = "SmsKeyViewed";
  std::string number;
  std::string key_id;
  friend bool operator==(const SmsKeyViewed&, const SmsKeyViewed&) = default;
};
// The old secret stops working at once (no grace: SMS rotation is a leak response).
struct SmsKeyRotated {
  static constexpr std::string_view type = "SmsKeyRotated";
  std::string number;
  std::string key_id;
  SealedSecret secret;
  friend bool operator==(const SmsKeyRotated&, const SmsKeyRotated&) = default;
};
// Deregistration revokes the number's key.
struct SmsNumberDeregistered {
  static constexpr std::string_view type = "SmsNumberDeregistered";
  std::string number;
  std::string key_id;
  friend bool operator==(const SmsNumberDeregistered&, const SmsNumberDeregistered&) = default;
};

// --- RCS ---------------------------------------------------------------------------------
struct RcsKeyProvisioned {
  static constexpr std::string_view type = "RcsKeyProvisioned";
  std::string key_id;
  SealedSecret secret;
  friend bool operator==(const RcsKeyProvisioned&, const RcsKeyProvisioned&) = default;
};
struct RcsKeyRevealed {
  static constexpr std::string_view type = "RcsKeyRevealed";
  std::string key_id;
  friend bool operator==(const RcsKeyRevealed&, const RcsKeyRevealed&) = default;
};
// The same key id with a new secret; the old secret stops working at once.
struct RcsKeyReissued {
  static constexpr std::string_view type = "RcsKeyReissued";
  std::string key_id;
  std::string reason;
  SealedSecret secret;
  friend bool operator==(const RcsKeyReissued&, const RcsKeyReissued&) = default;
};
struct RcsBotRegistered {
  static constexpr std::string_view type = "RcsBotRegistered";
  std::string bot_id;
  friend bool operator==(const RcsBotRegistered&, const RcsBotRegistered&) = default;
};
struct RcsBotRemoved {
  static constexpr std::string_view type = "RcsBotRemoved";
  std::string bot_id;
  friend bool operator==(const RcsBotRemoved&, const RcsBotRemoved&) = default;
};

// --- audit and usage ------------------------------------------------------------------------
struct AuditCheckpointSigned {
  static constexpr std::string_view type = "AuditCheckpointSigned";
  std::uint64_t sequence = 0;   // the checkpoint covers events 1..sequence
  std::string head_hash;        // the hash of event `sequence`
  std::uint64_t tree_size = 0;  // v2: = sequence; v1 (schema version 1): 0
  std::string root_hash;        // v2: hex Merkle root of events 1..sequence; v1: empty
  std::string signed_at;
  std::string public_key;
  std::string signature;
  friend bool operator==(const AuditCheckpointSigned&, const AuditCheckpointSigned&) = default;
};
struct KeyUsageEntry {
  std::string key_id;
  std::uint64_t uses = 0;
  Timestamp last_used_at{};
  friend bool operator==(const KeyUsageEntry&, const KeyUsageEntry&) = default;
};
struct KeyUsageRecorded {
  static constexpr std::string_view type = "KeyUsageRecorded";
  std::vector<KeyUsageEntry> keys;
  friend bool operator==(const KeyUsageRecorded&, const KeyUsageRecorded&) = default;
};

// --- secrets at rest ------------------------------------------------------------------------
// The dashboard's data key is now wrapped by another master key (SPEC §11's master key
// rotation): one per dashboard whose data key a rotation rewrapped. Ids, never key material.
struct DataKeyRewrapped {
  static constexpr std::string_view type = "DataKeyRewrapped";
  std::string master_key_id;           // the master key wrapping it now
  std::string previous_master_key_id;  // the one that wrapped it before
  friend bool operator==(const DataKeyRewrapped&, const DataKeyRewrapped&) = default;
};

// --- leaks and refusals ------------------------------------------------------------------
enum class LeakResponse { revoked, rotated, flagged_for_operator, already_inactive };
std::string_view to_string(LeakResponse response);
std::optional<LeakResponse> parse_leak_response(std::string_view text);

struct KeyLeakReported {
  static constexpr std::string_view type = "KeyLeakReported";
  std::string key_id;
  Channel channel = Channel::email;
  std::string url;
  std::string source;
  LeakResponse response = LeakResponse::revoked;
  friend bool operator==(const KeyLeakReported&, const KeyLeakReported&) = default;
};

// A refused command, recorded for the audit trail. Its event type is the command's
// `denied_as` (e.g. "WhatsAppKeyGenerationDenied"), so the type is carried at run time.
struct CommandDenied {
  std::string type;
  RejectionCode code = RejectionCode::forbidden;
  std::string subject;  // what the command was about: a key id, number, email or bot id
  std::string detail;
  friend bool operator==(const CommandDenied&, const CommandDenied&) = default;
};

using Event =
    std::variant<DashboardCreated, DashboardClosed, UserAdded, UserRemoved, UserLoggedIn,
                 UserLoginFailed, UserLockedOut, EmailKeyGenerated, EmailKeyRestrictionsChanged,
                 EmailKeyRotated, EmailKeyRevoked, EmailKeyRevealed, WhatsAppKeyGenerated,
                 WhatsAppKeyRotated, WhatsAppKeyRevoked, WhatsAppKeyRevealed,
                 SmsNumberRegistered, SmsKeyAssigned, SmsKeyViewed, SmsKeyRotated,
                 SmsNumberDeregistered, RcsKeyProvisioned, RcsKeyRevealed, RcsKeyReissued,
                 RcsBotRegistered, RcsBotRemoved, KeyLeakReported, AuditCheckpointSigned, KeyUsageRecorded,
                 DataKeyRewrapped, CommandDenied>;

std::string_view event_type(const Event& event);
// The aggregate an event belongs to, the envelope's `stream`: "dashboard", "user:<email>",
// "key:<id>", "sms-number:<number>" or "rcs-bot:<id>".
std::string stream_of(const Event& event);
// The channel an event concerns, for audit filters; nullopt for dashboard and user events.
std::optional<Channel> channel_of(const Event& event);

// An event as it reached the log: who caused it and when. Evolving state needs both
// (lockout windows count failures by time; a step-up failure belongs to its actor).
struct RecordedEvent {
  Event event;
  Actor actor;
  Timestamp occurred_at;
  std::uint64_t sequence = 0;  // its place in the dashboard's events, from 1 (0: not recorded)
};

// The sealed secret an event brings in (a generation, rotation, assignment, provisioning or
// reissue), with the key it belongs to; nullptr for every other event.
const SealedSecret* secret_of(const Event& event);

}  // namespace keyledger::domain
