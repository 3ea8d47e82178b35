#include "rejection.hpp"

#include <array>

namespace keyledger::domain {

namespace {
constexpr std::array kAllCodes{
    RejectionCode::invalid_request,      RejectionCode::unauthenticated,
    RejectionCode::forbidden,            RejectionCode::password_incorrect,
    RejectionCode::not_found,            RejectionCode::user_exists,
    RejectionCode::whatsapp_key_limit_reached, RejectionCode::rcs_key_fixed,
    RejectionCode::sms_key_auto_assigned, RejectionCode::number_already_registered,
    RejectionCode::key_revoked,          RejectionCode::dashboard_closed,
    RejectionCode::too_many_attempts,
};
}  // namespace

std::string_view to_string(RejectionCode code) {
  switch (code) {
    case RejectionCode::invalid_request: return "invalid_request";
    case RejectionCode::unauthenticated: return "unauthenticated";
    case RejectionCode::forbidden: return "forbidden";
    case RejectionCode::password_incorrect: return "password_incorrect";
    case RejectionCode::not_found: return "not_found";
    case RejectionCode::user_exists: return "user_exists";
    case RejectionCode::whatsapp_key_limit_reached: return "whatsapp_key_limit_reached";
    case RejectionCode::rcs_key_fixed: return "rcs_key_fixed";
    case RejectionCode::sms_key_auto_assigned: return "sms_key_auto_assigned";
    case RejectionCode::number_already_registered: return "number_already_registered";
    case RejectionCode::key_revoked: return "key_revoked";
    case RejectionCode::dashboard_closed: return "dashboard_closed";
    case RejectionCode::too_many_attempts: return "too_many_attempts";
  }
  return "unknown";
}

std::optional<RejectionCode> parse_rejection_code(std::string_view text) {
  for (RejectionCode c : kAllCodes) {
    if (to_string(c) == text) return c;
  }
  return std::nullopt;
}

}  // namespace keyledger::domain
