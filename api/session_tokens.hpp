// User session tokens: signed, self-contained bearer tokens (dashboard, email, expiry), so
// sessions survive a restart without being stored. A user's role is not in the token: it is
// read from the dashboard's state on every request, so removing a user or changing a role
// takes effect at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/time.hpp"
#include "crypto/crypto.hpp"

namespace keyledger::api {

struct SessionClaims {
  std::string dashboard_id;
  std::string email;
  domain::Timestamp expires_at;
};

class SessionTokens {
 public:
  explicit SessionTokens(std::string_view signing_key) : key_(signing_key) {}
  std::string issue(const SessionClaims& claims) const;
  // nullopt when the token is malformed, forged, or expired at `now`.
  std::optional<SessionClaims> check(std::string_view token, domain::Timestamp now) const;

 private:
  crypto::HmacSha256Key key_;  // the pads precomputed: one check per request
};

}  // namespace keyledger::api
