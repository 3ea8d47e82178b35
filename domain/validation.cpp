#include "validation.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "ip_range.hpp"

namespace keyledger::domain {

namespace {

constexpr std::array<std::string_view, 9> kEmailPermissions{
    "mail.send",           "mail.schedule",    "events.read",
    "reports.read",        "suppressions.manage", "templates.manage",
    "webhooks.manage",     "domains.manage",   "subaccounts.manage",
};

// Counts UTF-8 code points; nullopt when the bytes are not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > text.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return std::nullopt;
    }
    i += len;
    ++count;
  }
  return count;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

Validated<std::string> validate_text(std::string_view field, std::string_view text,
                                     std::size_t max_length) {
  auto length = utf8_length(text);
  if (!length) return std::unexpected(invalid_field(std::string(field), "must be valid UTF-8"));
  if (*length == 0 || text.find_first_not_of(' ') == std::string_view::npos) {
    return std::unexpected(invalid_field(std::string(field), "must not be empty"));
  }
  if (*length > max_length) {
    return std::unexpected(invalid_field(
        std::string(field), "must be at most " + std::to_string(max_length) + " characters"));
  }
  if (has_control(text)) {
    return std::unexpected(
        invalid_field(std::string(field), "must not contain control characters"));
  }
  return std::string(text);
}

}  // namespace

std::span<const std::string_view> email_permission_catalogue() { return kEmailPermissions; }

std::uint16_t permission_bits(std::span<const std::string> permissions) {
  if (permissions.size() == 1 && permissions[0] == "all") return kAllPermissions;
  std::uint16_t bits = 0;
  for (const auto& p : permissions) {
    auto it = std::find(kEmailPermissions.begin(), kEmailPermissions.end(), p);
    if (it != kEmailPermissions.end()) bits |= static_cast<std::uint16_t>(1u << (it - kEmailPermissions.begin()));
  }
  return bits;
}

std::vector<std::string> permission_names(std::uint16_t bits) {
  if (bits == kAllPermissions) return {"all"};
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kEmailPermissions.size(); ++i) {
    if (bits & (1u << i)) names.emplace_back(kEmailPermissions[i]);
  }
  return names;
}

Rejection invalid_field(std::string field, std::string detail) {
  std::string sentence = field + " " + detail;
  return Rejection{RejectionCode::invalid_request, std::move(field), std::move(sentence)};
}

Validated<std::string> validate_name(std::string_view field, std::string_view name) {
  return validate_text(field, name, kMaxNameLength);
}

Validated<std::string> validate_email(std::string_view field, std::string_view email) {
  std::size_t at = email.find('@');
  bool shaped = email.size() <= 254 && at != std::string_view::npos && at > 0 &&
                at + 1 < email.size() && email.find('@', at + 1) == std::string_view::npos &&
                !has_control(email) && email.find(' ') == std::string_view::npos;
  if (!shaped) {
    return std::unexpected(invalid_field(std::string(field), "must be an email address"));
  }
  std::string lowered(email);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return lowered;
}

Validated<std::string> validate_e164(std::string_view field, std::string_view number) {
  bool ok = number.size() >= 9 && number.size() <= 16 && number[0] == '+' && number[1] != '0' &&
            std::all_of(number.begin() + 1, number.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!ok) {
    return std::unexpected(invalid_field(
        std::string(field), "must be an E.164 number: '+' and 8 to 15 digits, not starting with 0"));
  }
  return std::string(number);
}

Validated<std::vector<std::string>> validate_permissions(std::span<const std::string> permissions) {
  if (permissions.empty()) {
    return std::unexpected(
        invalid_field("permissions", "must be [\"all\"] or a non-empty list of permissions"));
  }
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < permissions.size(); ++i) {
    const std::string& p = permissions[i];
    std::string field = "permissions[" + std::to_string(i) + "]";
    if (p == "all") {
      if (permissions.size() != 1) {
        return std::unexpected(invalid_field(field, "\"all\" cannot be combined with others"));
      }
      continue;
    }
    if (std::find(kEmailPermissions.begin(), kEmailPermissions.end(), p) ==
        kEmailPermissions.end()) {
      return std::unexpected(invalid_field(field, "is not an Email permission"));
    }
    if (!seen.insert(p).second) return std::unexpected(invalid_field(field, "is listed twice"));
  }
  return std::vector<std::string>(permissions.begin(), permissions.end());
}

Validated<std::vector<std::string>> validate_ip_allowlist(std::span<const std::string> entries) {
  if (entries.size() > kMaxIpAllowlistEntries) {
    return std::unexpected(invalid_field(
        "ip_allowlist", "has more than " + std::to_string(kMaxIpAllowlistEntries) + " entries"));
  }
  std::vector<std::string> canonical;
  canonical.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto range = parse_ip_range(entries[i]);
    if (!range) {
      return std::unexpected(
          invalid_field("ip_allowlist[" + std::to_string(i) + "]", range.error()));
    }
    canonical.push_back(range->to_string());
  }
  return canonical;
}

Validated<std::int64_t> validate_grace_seconds(std::optional<std::int64_t> grace_seconds) {
  if (!grace_seconds) return kDefaultGraceSeconds;
  if (*grace_seconds < 0 || *grace_seconds > kMaxGraceSeconds) {
    return std::unexpected(invalid_field("grace_seconds", "must be between 0 and 604800 (7 days)"));
  }
  return *grace_seconds;
}

Validated<std::monostate> validate_password(std::string_view field, std::string_view password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength) {
    return std::unexpected(invalid_field(std::string(field),
                                         "must be between " + std::to_string(kMinPasswordLength) +
                                             " and " + std::to_string(kMaxPasswordLength) +
                                             " bytes"));
  }
  return std::monostate{};
}

Validated<std::string> validate_bot_id(std::string_view field, std::string_view bot_id) {
  bool ok = !bot_id.empty() && bot_id.size() <= 128 &&
            std::all_of(bot_id.begin(), bot_id.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
            });
  if (!ok) {
    return std::unexpected(
        invalid_field(std::string(field), "must be 1 to 128 of A-Z a-z 0-9 . _ : @ -"));
  }
  return std::string(bot_id);
}

Validated<std::string> validate_reason(std::string_view field, std::string_view reason) {
  return validate_text(field, reason, 500);
}

}  // namespace keyledger::domain
