// Every command a dashboard's deciders accept. Commands carry already-derived material
// (password hashes, sealed secrets, whether a step-up password matched) because hashing,
// encryption and randomness live outside the pure domain.
//
// `denied_as` names the audit event recorded when the command is refused (SPEC §5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actor.hpp"
#include "sealed_secret.hpp"
#include "time.hpp"

namespace keyledger::domain {

// --- dashboard and users ---------------------------------------------------------------
struct CreateDashboard {
  static constexpr std::string_view denied_as = "DashboardCreationDenied";
  std::string dashboard_id;
  std::string name;
  std::string admin_email;
  std::string admin_password_hash;
  std::string rcs_key_id;
  SealedSecret rcs_secret;
};
struct CloseDashboard {
  static constexpr std::string_view denied_as = "DashboardClosureDenied";
  std::string reason;
};
struct AddUser {
  static constexpr std::string_view denied_as = "UserAdditionDenied";
  std::string email;
  Role role = Role::viewer;
  std::string password_hash;
};
struct RemoveUser {
  static constexpr std::string_view denied_as = "UserRemovalDenied";
  std::string email;
};
// A login attempt; the actor is the anonymous caller, the email names the user.
struct LogIn {
  static constexpr std::string_view denied_as = "UserLoginFailed";
  std::string email;
  bool password_matched = false;
};

// --- Email -------------------------------------------------------------------------------
struct GenerateEmailKey {
  static constexpr std::string_view denied_as = "EmailKeyGenerationDenied";
  std::string key_id;
  std::string name;
  std::vector<std::string> permissions;
  std::vector<std::string> ip_allowlist;
  SealedSecret secret;
};
// Absent fields stay as they are.
struct ChangeEmailKeyRestrictions {
  static constexpr std::string_view denied_as = "EmailKeyRestrictionsChangeDenied";
  std::string key_id;
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> permissions;
  std::optional<std::vector<std::string>> ip_allowlist;
};
struct RotateEmailKey {
  static constexpr std::string_view denied_as = "EmailKeyRotationDenied";
  std::string key_id;
  std::optional<std::int64_t> grace_seconds;
  SealedSecret secret;
};
struct RevokeEmailKey {
  static constexpr std::string_view denied_as = "EmailKeyRevocationDenied";
  std::string key_id;
};
struct RevealEmailKey {
  static constexpr std::string_view denied_as = "EmailKeyRevealDenied";
  std::string key_id;
  bool password_matched = false;
};

// --- WhatsApp ----------------------------------------------------------------------------
struct GenerateWhatsAppKey {
  static constexpr std::string_view denied_as = "WhatsAppKeyGenerationDenied";
  std::string key_id;
  std::string name;
  SealedSecret secret;
};
struct RotateWhatsAppKey {
  static constexpr std::string_view denied_as = "WhatsAppKeyRotationDenied";
  std::string key_id;
  std::optional<std::int64_t> grace_seconds;
  SealedSecret secret;
};
struct RevokeWhatsAppKey {
  static constexpr std::string_view denied_as = "WhatsAppKeyRevocationDenied";
  std::string key_id;
};
struct RevealWhatsAppKey {
  static constexpr std::string_view denied_as = "WhatsAppKeyRevealDenied";
  std::string key_id;
  bool password_matched = false;
};

// --- SMS ---------------------------------------------------------------------------------
struct RegisterSmsNumber {
  static constexpr std::string_view denied_as = "SmsNumberRegistrationDenied";
  std::string number;
  std::string key_id;
  SealedSecret secret;
  // The dashboard that holds the number platform-wide, as the command pipeline read it
  // while holding the number's lock; empty when the number is free everywhere.
  std::string registered_in_dashboard;
};
struct ViewSmsKey {
  static constexpr std::string_view denied_as = "SmsKeyViewDenied";
  std::string number;
};
// The leak response: the old secret stops working at once.
struct RotateSmsKey {
  static constexpr std::string_view denied_as = "SmsKeyRotationDenied";
  std::string number;
  SealedSecret secret;
};
struct DeregisterSmsNumber {
  static constexpr std::string_view denied_as = "SmsNumberDeregistrationDenied";
  std::string number;
};
// Always refused: SMS keys exist only through number registration.
struct GenerateSmsKey {
  static constexpr std::string_view denied_as = "SmsKeyGenerationDenied";
};

// --- RCS ---------------------------------------------------------------------------------
struct RevealRcsKey {
  static constexpr std::string_view denied_as = "RcsKeyRevealDenied";
  bool password_matched = false;
};
// The next three are always refused: the RCS key is fixed for dashboard users.
struct GenerateRcsKey {
  static constexpr std::string_view denied_as = "RcsKeyGenerationDenied";
};
struct RotateRcsKey {
  static constexpr std::string_view denied_as = "RcsKeyRotationDenied";
};
struct RevokeRcsKey {
  static constexpr std::string_view denied_as = "RcsKeyRevocationDenied";
};
// The operator's incident escape hatch: a new RCS secret, the old one dead at once.
struct ReissueRcsKey {
  static constexpr std::string_view denied_as = "RcsKeyReissueDenied";
  std::string reason;
  SealedSecret secret;
};
struct RegisterRcsBot {
  static constexpr std::string_view denied_as = "RcsBotRegistrationDenied";
  std::string bot_id;
};
struct RemoveRcsBot {
  static constexpr std::string_view denied_as = "RcsBotRemovalDenied";
  std::string bot_id;
};

// --- leaks -------------------------------------------------------------------------------
// A secret-scanning report that matched one of this dashboard's keys.
struct ReportKeyLeak {
  static constexpr std::string_view denied_as = "KeyLeakReportDenied";
  std::string key_id;
  std::string url;
  std::string source;
  // For an SMS key, the replacement assigned to its number (one key per number holds).
  std::optional<SealedSecret> replacement;
};

// --- audit and usage ------------------------------------------------------------------------
// A signature over the dashboard's chain head at `sequence` (SPEC §5's tamper evidence made
// portable: an auditor who keeps it can later prove no earlier event was rewritten).
struct SignAuditCheckpoint {
  static constexpr std::string_view denied_as = "AuditCheckpointDenied";
  std::uint64_t sequence = 0;
  std::string head_hash;
  std::uint64_t tree_size = 0;  // = sequence: the Merkle tree of events 1..sequence (SPEC §11)
  std::string root_hash;        // hex root of that tree
  std::string signed_at;        // RFC 3339, part of the signed text
  std::string public_key;       // hex Ed25519 public key that verifies the signature
  std::string signature;        // hex Ed25519 signature over checkpoint_text(...)
};
struct KeyUsage {
  std::string key_id;
  std::uint64_t uses = 0;
  Timestamp last_used_at{};
  friend bool operator==(const KeyUsage&, const KeyUsage&) = default;
};
// Verification counts of one interval, recorded once per interval, never once per call.
struct RecordKeyUsage {
  static constexpr std::string_view denied_as = "KeyUsageRecordingDenied";
  std::vector<KeyUsage> usage;
};

// --- secrets at rest ------------------------------------------------------------------------
// Records that a master key rotation rewrapped the dashboard's data key (the keyring did the
// rewrapping already); nothing when the dashboard is closed or the record is already there.
struct RecordDataKeyRewrap {
  static constexpr std::string_view denied_as = "DataKeyRewrapDenied";
  std::string master_key_id;
  std::string previous_master_key_id;
};

using Command = std::variant<CreateDashboard, CloseDashboard, AddUser, RemoveUser, LogIn,
                             GenerateEmailKey, ChangeEmailKeyRestrictions, RotateEmailKey,
                             RevokeEmailKey, RevealEmailKey, GenerateWhatsAppKey,
                             RotateWhatsAppKey, RevokeWhatsAppKey, RevealWhatsAppKey,
                             RegisterSmsNumber, ViewSmsKey, RotateSmsKey, DeregisterSmsNumber,
                             GenerateSmsKey, RevealRcsKey, GenerateRcsKey, RotateRcsKey,
                             RevokeRcsKey, ReissueRcsKey, RegisterRcsBot, RemoveRcsBot,
                             ReportKeyLeak, SignAuditCheckpoint, RecordKeyUsage,
                             RecordDataKeyRewrap>;

// The text an audit checkpoint's signature covers: v2 (SPEC §11) names the Merkle tree's size
// and root; v1, which has no root (`root_hash` empty), only the chain head.
std::string checkpoint_text(std::string_view dashboard_id, std::uint64_t sequence, std::string_view head_hash,
                            std::uint64_t tree_size, std::string_view root_hash, std::string_view signed_at);

// The audit event type recorded when this command is refused.
std::string_view denied_event_type(const Command& command);

}  // namespace keyledger::domain
