// Input rules for every field a command carries. Each failure is an invalid_request
// rejection naming the field (e.g. "ip_allowlist[2]"), so a caller can fix exactly that.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rejection.hpp"

namespace keyledger::domain {

template <class T>
using Validated = std::expected<T, Rejection>;

inline constexpr std::size_t kMaxNameLength = 64;          // characters, SPEC §3
inline constexpr std::size_t kMaxIpAllowlistEntries = 100;  // SPEC §3
inline constexpr std::int64_t kDefaultGraceSeconds = 24 * 3600;
inline constexpr std::int64_t kMaxGraceSeconds = 7 * 24 * 3600;
inline constexpr std::size_t kMinPasswordLength = 8;        // NIST SP 800-63B
inline constexpr std::size_t kMaxPasswordLength = 1024;

// The Email permission catalogue; "all" stands alone.
std::span<const std::string_view> email_permission_catalogue();

// Email permissions as the state and the verify index keep them: bit i for catalogue entry
// i, or every bit for "all". Names outside the catalogue are ignored (validate first).
inline constexpr std::uint16_t kAllPermissions = 0xffff;
std::uint16_t permission_bits(std::span<const std::string> permissions);
// The names again: ["all"], or the permissions in catalogue order.
std::vector<std::string> permission_names(std::uint16_t bits);

Rejection invalid_field(std::string field, std::string detail);

// 1–64 characters (UTF-8 code points), no control characters, not only spaces.
Validated<std::string> validate_name(std::string_view field, std::string_view name);
// A login email: local@domain, at most 254 bytes, no spaces; returned lower-cased.
Validated<std::string> validate_email(std::string_view field, std::string_view email);
// E.164: "+" then 8–15 digits, the first not 0.
Validated<std::string> validate_e164(std::string_view field, std::string_view number);
// ["all"] or a non-empty, duplicate-free subset of the catalogue.
Validated<std::vector<std::string>> validate_permissions(std::span<const std::string> permissions);
// At most 100 addresses or CIDR ranges; returned in canonical text form.
Validated<std::vector<std::string>> validate_ip_allowlist(std::span<const std::string> entries);
// Absent means the default of 24 h; otherwise 0 to 7 days.
Validated<std::int64_t> validate_grace_seconds(std::optional<std::int64_t> grace_seconds);
// The plaintext password policy; checked before hashing, so only lengths are reported.
Validated<std::monostate> validate_password(std::string_view field, std::string_view password);
// An RCS bot id as the RCS platform issues it: 1–128 of [A-Za-z0-9._:@-].
Validated<std::string> validate_bot_id(std::string_view field, std::string_view bot_id);
// Free text explaining an operator action: 1–500 characters.
Validated<std::string> validate_reason(std::string_view field, std::string_view reason);

}  // namespace keyledger::domain
