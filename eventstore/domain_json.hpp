// JSON forms of the domain's value types, for the event codec and snapshots. They live in
// the domain's namespace so that nlohmann finds them by ADL, while domain/ itself stays free
// of any JSON library. Internal to eventstore/.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "domain/dashboard_state.hpp"
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


// Decider state, for snapshots.
inline void to_json(json& j, const User& u) {
  j = json{{"email", u.email}, {"role", u.role}, {"password_hash", u.password_hash},
           {"recent_failures", u.recent_failures}};
  if (u.locked_until) j["locked_until"] = *u.locked_until;
}
inline void from_json(const json& j, User& u) {
  u.email = j.at("email").get<std::string>();
  u.role = j.at("role").get<Role>();
  u.password_hash = j.at("password_hash").get<std::string>();
  u.recent_failures = j.at("recent_failures").get<std::vector<Timestamp>>();
  if (j.contains("locked_until")) u.locked_until = j.at("locked_until").get<Timestamp>();
}
inline void to_json(json& j, const ApiKey& k) {
  j = json{{"id", k.id}, {"channel", k.channel}, {"name", k.name}, {"current", k.current},
           {"created_at", k.created_at}, {"secret_issued_at", k.secret_issued_at}, {"revoked", k.revoked}, {"revoked_at", k.revoked_at},
           {"permissions", k.permissions}, {"ip_allowlist", k.ip_allowlist}, {"number", k.number}};
  if (k.previous) {
    j["previous"] = *k.previous;
    j["previous_valid_until"] = k.previous_valid_until;
  }
  j["uses"] = k.uses;
  if (k.last_used_at) j["last_used_at"] = *k.last_used_at;
}
inline void from_json(const json& j, ApiKey& k) {
  k.id = j.at("id").get<std::string>();
  k.channel = j.at("channel").get<Channel>();
  k.name = j.at("name").get<std::string>();
  k.current = j.at("current").get<SealedSecret>();
  k.created_at = j.at("created_at").get<Timestamp>();
  k.secret_issued_at = j.at("secret_issued_at").get<Timestamp>();
  k.revoked = j.at("revoked").get<bool>();
  k.revoked_at = j.at("revoked_at").get<Timestamp>();
  k.permissions = j.at("permissions").get<std::vector<std::string>>();
  k.ip_allowlist = j.at("ip_allowlist").get<std::vector<std::string>>();
  k.number = j.at("number").get<std::string>();
  if (j.contains("previous")) {
    k.previous = j.at("previous").get<SealedSecret>();
    k.previous_valid_until = j.at("previous_valid_until").get<Timestamp>();
  }
  k.uses = j.value("uses", std::uint64_t{0});
  if (j.contains("last_used_at")) k.last_used_at = j.at("last_used_at").get<Timestamp>();
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SmsNumber, number, key_id, registered_at)
inline void to_json(json& j, const DashboardState& s) {
  j = json{{"exists", s.exists},   {"closed", s.closed},   {"id", s.id},
           {"name", s.name},       {"created_at", s.created_at}, {"users", s.users},
           {"keys", s.keys},       {"numbers", s.numbers}, {"rcs_key_id", s.rcs_key_id},
           {"rcs_bots", s.rcs_bots}};
  if (s.last_checkpoint) j["last_checkpoint"] = *s.last_checkpoint;
}
inline void from_json(const json& j, DashboardState& s) {
  s.exists = j.at("exists").get<bool>();
  s.closed = j.at("closed").get<bool>();
  s.id = j.at("id").get<std::string>();
  s.name = j.at("name").get<std::string>();
  s.created_at = j.at("created_at").get<Timestamp>();
  s.users = j.at("users").get<std::map<std::string, User>>();
  s.keys = j.at("keys").get<std::map<std::string, ApiKey>>();
  s.numbers = j.at("numbers").get<std::map<std::string, SmsNumber>>();
  s.rcs_key_id = j.at("rcs_key_id").get<std::string>();
  s.rcs_bots = j.at("rcs_bots").get<std::set<std::string>>();
  if (j.contains("last_checkpoint")) s.last_checkpoint = j.at("last_checkpoint").get<AuditCheckpointSigned>();
}

}  // namespace keyledger::domain
