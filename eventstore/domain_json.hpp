// JSON forms of the domain's value types for sealing events with nlohmann::json, built from
// the one field table (event_fields.hpp) the decoder reads with. They live in the domain's
// namespace so that nlohmann finds them by ADL, while domain/ itself stays free of any JSON
// library. Internal to eventstore/.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>

#include "crypto/crypto.hpp"
#include "domain/events.hpp"
#include "event_fields.hpp"
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
}  // namespace json_detail

inline void to_json(json& j, Role v) { j = to_string(v); }
inline void from_json(const json& j, Role& v) { json_detail::enum_from_json(j, v, parse_role, "role"); }
inline void to_json(json& j, Channel v) { j = to_string(v); }
inline void from_json(const json& j, Channel& v) { json_detail::enum_from_json(j, v, parse_channel, "channel"); }
inline void to_json(json& j, RejectionCode v) { j = to_string(v); }
inline void from_json(const json& j, RejectionCode& v) { json_detail::enum_from_json(j, v, parse_rejection_code, "code"); }
inline void to_json(json& j, LeakResponse v) { j = to_string(v); }
inline void from_json(const json& j, LeakResponse& v) { json_detail::enum_from_json(j, v, parse_leak_response, "response"); }

// A sealed secret as events carry it: the fingerprint in hex, the ciphertext in base64, and
// the masked form.
inline void to_json(json& j, const SealedSecret& s) {
  const auto bytes = [](const auto& array) {
    return std::string_view(reinterpret_cast<const char*>(array.data()), array.size());
  };
  j = json{{"fingerprint", crypto::to_hex(bytes(s.fingerprint))},
           {"ciphertext", crypto::base64_encode(bytes(s.ciphertext))},
           {"masked", s.masked()}};
}

// Every described struct: an object of its fields (the event's `data`).
template <class T>
  requires eventstore::HasFields<T>
void to_json(json& j, const T& v) {
  j = json::object();
  std::apply([&](const auto&... field) { ((j[std::string(field.name)] = v.*(field.member)), ...); },
             eventstore::FieldsOf<T>::list);
}

}  // namespace keyledger::domain
