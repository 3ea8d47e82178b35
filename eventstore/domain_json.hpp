// JSON forms of the domain's value types, for the event codec. They live in
// the domain's namespace so that nlohmann finds them by ADL, while domain/ itself stays free
// of any JSON library. Internal to eventstore/.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "domain/events.hpp"
#include "rfc3339.hpp"

namespace nlohmann {
template <>
struct adl_serializer<keyledger::domain::Timestamp> {
  static void to_json(json& j, const keyledger::domain::Timestamp& t) { j = keyledger::eventstore::format_rfc3339(t); }
  static void from_json(const json& j, keyledger::domain::Timestamp& t) {
    auto parsed = keyledger::eventstore::parse_rfc3339(j.get<std::string>());
    if (!parsed) throw std::invalid_argument("not an RFC 3339 UTC time: " + j.get<std::string>());
    t = *parsed;
  }
};
}  // namespace nlohmann

namespace keyledger::domain {

using json = nlohmann::json;

namespace json_detail {
template <class Enum, class Parse>
void enum_from_json(const json& j, Enum& out, Parse parse, const char* what) {
  auto parsed = parse(j.get<std::string>());
  if (!parsed) throw std::invalid_argument(std::string("unknown ") + what + ": " + j.get<std::string>());
  out = *parsed;
}
inline std::optional<LeakResponse> parse_leak_response(std::string_view text) {
  for (auto r : {LeakResponse::revoked, LeakResponse::rotated, LeakResponse::flagged_for_operator,
                 LeakResponse::already_inactive}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}
}  // namespace json_detail

inline void to_json(json& j, Role v) { j = to_string(v); }
inline void from_json(const json& j, Role& v) { json_detail::enum_from_json(j, v, parse_role, "role"); }
inline void to_json(json& j, Channel v) { j = to_string(v); }
inline void from_json(const json& j, Channel& v) { json_detail::enum_from_json(j, v, parse_channel, "channel"); }
inline void to_json(json& j, RejectionCode v) { j = to_string(v); }
inline void from_json(const json& j, RejectionCode& v) { json_detail::enum_from_json(j, v, parse_rejection_code, "code"); }
inline void to_json(json& j, LeakResponse v) { j = to_string(v); }
inline void from_json(const json& j, LeakResponse& v) { json_detail::enum_from_json(j, v, json_detail::parse_leak_response, "response"); }

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SealedSecret, fingerprint, ciphertext, masked)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DashboardCreated, dashboard_id, name)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DashboardClosed, reason)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UserAdded, email, role, password_hash)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UserRemoved, email)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UserLoggedIn, email)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UserLoginFailed, email, code)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UserLockedOut, email, until)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EmailKeyGenerated, key_id, name, permissions, ip_allowlist, secret)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EmailKeyRestrictionsChanged, key_id, name, permissions, ip_allowlist)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EmailKeyRotated, key_id, secret, previous_valid_until)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EmailKeyRevoked, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EmailKeyRevealed, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WhatsAppKeyGenerated, key_id, name, secret)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WhatsAppKeyRotated, key_id, secret, previous_valid_until)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WhatsAppKeyRevoked, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WhatsAppKeyRevealed, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SmsNumberRegistered, number)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SmsKeyAssigned, number, key_id, secret)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SmsKeyViewed, number, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SmsKeyRotated, number, key_id, secret)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SmsNumberDeregistered, number, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RcsKeyProvisioned, key_id, secret)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RcsKeyRevealed, key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RcsKeyReissued, key_id, reason, secret)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RcsBotRegistered, bot_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RcsBotRemoved, bot_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KeyLeakReported, key_id, channel, url, source, response)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AuditCheckpointSigned, sequence, head_hash, signed_at, public_key,
                                                signature)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KeyUsageEntry, key_id, uses, last_used_at)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KeyUsageRecorded, keys)
// The event type of a refusal is the envelope's `type`, so it is not repeated in `data`.
inline void to_json(json& j, const CommandDenied& e) {
  j = json{{"code", e.code}, {"subject", e.subject}, {"detail", e.detail}};
}


}  // namespace keyledger::domain
