// Each event type's `data` members by their JSON names: the one description of an event's
// fields that the envelope decoder reads with (json_reader.hpp), so that a new field is
// named in one place. Internal to eventstore/.
#pragma once

#include <string_view>
#include <tuple>

#include "domain/events.hpp"

namespace keyledger::eventstore {

template <class T, class M>
struct Field {
  std::string_view name;
  M T::*member;
};

// FieldsOf<T>::list is a tuple of Field<T, M>; specialised below for every event type and
// every value type nested in one (but SealedSecret, whose bytes are written as text: see
// envelope.cpp and domain_json.hpp).
template <class T>
struct FieldsOf;

template <class T>
concept HasFields = requires { FieldsOf<T>::list; };

#define KEYLEDGER_FIELD(Type, name) Field<Type, decltype(Type::name)>{#name, &Type::name}
#define KEYLEDGER_FIELDS_1(T, a) std::tuple{KEYLEDGER_FIELD(T, a)}
#define KEYLEDGER_FIELDS_2(T, a, b) std::tuple{KEYLEDGER_FIELD(T, a), KEYLEDGER_FIELD(T, b)}
#define KEYLEDGER_FIELDS_3(T, a, b, c) std::tuple{KEYLEDGER_FIELD(T, a), KEYLEDGER_FIELD(T, b), KEYLEDGER_FIELD(T, c)}
#define KEYLEDGER_FIELDS_4(T, a, b, c, d) \
  std::tuple{KEYLEDGER_FIELD(T, a), KEYLEDGER_FIELD(T, b), KEYLEDGER_FIELD(T, c), KEYLEDGER_FIELD(T, d)}
#define KEYLEDGER_FIELDS_5(T, a, b, c, d, e)                                                               \
  std::tuple{KEYLEDGER_FIELD(T, a), KEYLEDGER_FIELD(T, b), KEYLEDGER_FIELD(T, c), KEYLEDGER_FIELD(T, d), \
             KEYLEDGER_FIELD(T, e)}
#define KEYLEDGER_FIELDS_6(T, a, b, c, d, e, f)                                                            \
  std::tuple{KEYLEDGER_FIELD(T, a), KEYLEDGER_FIELD(T, b), KEYLEDGER_FIELD(T, c), KEYLEDGER_FIELD(T, d), \
             KEYLEDGER_FIELD(T, e), KEYLEDGER_FIELD(T, f)}
#define KEYLEDGER_FIELDS_7(T, a, b, c, d, e, f, g)                                                         \
  std::tuple{KEYLEDGER_FIELD(T, a), KEYLEDGER_FIELD(T, b), KEYLEDGER_FIELD(T, c), KEYLEDGER_FIELD(T, d), \
             KEYLEDGER_FIELD(T, e), KEYLEDGER_FIELD(T, f), KEYLEDGER_FIELD(T, g)}
#define KEYLEDGER_PICK(_1, _2, _3, _4, _5, _6, _7, NAME, ...) NAME
#define KEYLEDGER_DESCRIBE(T, ...)                                                                              \
  template <>                                                                                                   \
  struct FieldsOf<domain::T> {                                                                                  \
    static constexpr auto list =                                                                                \
        KEYLEDGER_PICK(__VA_ARGS__, KEYLEDGER_FIELDS_7, KEYLEDGER_FIELDS_6, KEYLEDGER_FIELDS_5, KEYLEDGER_FIELDS_4, \
                       KEYLEDGER_FIELDS_3, KEYLEDGER_FIELDS_2, KEYLEDGER_FIELDS_1)(domain::T, __VA_ARGS__);      \
  };

KEYLEDGER_DESCRIBE(KeyUsageEntry, key_id, uses, last_used_at)
KEYLEDGER_DESCRIBE(DashboardCreated, dashboard_id, name)
KEYLEDGER_DESCRIBE(DashboardClosed, reason)
KEYLEDGER_DESCRIBE(UserAdded, email, role, password_hash)
KEYLEDGER_DESCRIBE(UserRemoved, email)
KEYLEDGER_DESCRIBE(UserLoggedIn, email)
KEYLEDGER_DESCRIBE(UserLoginFailed, email, code)
KEYLEDGER_DESCRIBE(UserLockedOut, email, until)
KEYLEDGER_DESCRIBE(EmailKeyGenerated, key_id, name, permissions, ip_allowlist, secret)
KEYLEDGER_DESCRIBE(EmailKeyRestrictionsChanged, key_id, name, permissions, ip_allowlist)
KEYLEDGER_DESCRIBE(EmailKeyRotated, key_id, secret, previous_valid_until)
KEYLEDGER_DESCRIBE(EmailKeyRevoked, key_id)
KEYLEDGER_DESCRIBE(EmailKeyRevealed, key_id)
KEYLEDGER_DESCRIBE(WhatsAppKeyGenerated, key_id, name, secret)
KEYLEDGER_DESCRIBE(WhatsAppKeyRotated, key_id, secret, previous_valid_until)
KEYLEDGER_DESCRIBE(WhatsAppKeyRevoked, key_id)
KEYLEDGER_DESCRIBE(WhatsAppKeyRevealed, key_id)
KEYLEDGER_DESCRIBE(SmsNumberRegistered, number)
KEYLEDGER_DESCRIBE(SmsKeyAssigned, number, key_id, secret)
KEYLEDGER_DESCRIBE(SmsKeyViewed, number, key_id)
KEYLEDGER_DESCRIBE(SmsKeyRotated, number, key_id, secret)
KEYLEDGER_DESCRIBE(SmsNumberDeregistered, number, key_id)
KEYLEDGER_DESCRIBE(RcsKeyProvisioned, key_id, secret)
KEYLEDGER_DESCRIBE(RcsKeyRevealed, key_id)
KEYLEDGER_DESCRIBE(RcsKeyReissued, key_id, reason, secret)
KEYLEDGER_DESCRIBE(RcsBotRegistered, bot_id)
KEYLEDGER_DESCRIBE(RcsBotRemoved, bot_id)
KEYLEDGER_DESCRIBE(KeyLeakReported, key_id, channel, url, source, response)
KEYLEDGER_DESCRIBE(AuditCheckpointSigned, sequence, head_hash, tree_size, root_hash, signed_at, public_key, signature)
KEYLEDGER_DESCRIBE(KeyUsageRecorded, keys)
KEYLEDGER_DESCRIBE(DataKeyRewrapped, master_key_id, previous_master_key_id)
// A refusal's type is the envelope's `type`, so it is not among its data.
KEYLEDGER_DESCRIBE(CommandDenied, code, subject, detail)

#undef KEYLEDGER_DESCRIBE
#undef KEYLEDGER_PICK
#undef KEYLEDGER_FIELDS_5
#undef KEYLEDGER_FIELDS_4
#undef KEYLEDGER_FIELDS_3
#undef KEYLEDGER_FIELDS_2
#undef KEYLEDGER_FIELDS_1
#undef KEYLEDGER_FIELD

}  // namespace keyledger::eventstore
