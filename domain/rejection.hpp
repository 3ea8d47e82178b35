// Why a command was refused. The codes are the machine-readable `code` of the API's
// problem+json answers (SPEC §7), so the HTTP layer maps them to statuses and nothing else.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keyledger::domain {

enum class RejectionCode {
  invalid_request,             // 400: a field is malformed; `field` names it
  unauthenticated,             // 401: unknown user or wrong login password
  forbidden,                   // 403: the actor's role may not do this
  password_incorrect,          // 403: the step-up password was wrong
  not_found,                   // 404
  user_exists,                 // 409
  whatsapp_key_limit_reached,  // 409: three WhatsApp keys are already active
  rcs_key_fixed,               // 409: the RCS key cannot be generated, rotated or revoked
  sms_key_auto_assigned,       // 409: SMS keys come only with a registered number
  number_already_registered,   // 409: the number belongs to this or another dashboard
  key_revoked,                 // 409
  dashboard_closed,            // 409: a closed dashboard takes no more commands
  too_many_attempts,           // 429: step-up and login are locked for a while
};

std::string_view to_string(RejectionCode code);
std::optional<RejectionCode> parse_rejection_code(std::string_view text);

struct Rejection {
  RejectionCode code = RejectionCode::invalid_request;
  std::string field;   // the offending request field, for invalid_request
  std::string detail;  // one sentence for a person; never holds a secret or password

  friend bool operator==(const Rejection&, const Rejection&) = default;
};

}  // namespace keyledger::domain
