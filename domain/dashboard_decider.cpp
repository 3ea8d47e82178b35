// Dashboards and their users: creation (with the first admin and the RCS key), closure,
// user management and login.
#include "decider_support.hpp"
#include "validation.hpp"

namespace keyledger::domain::detail {

Outcome decide_one(const DashboardState& s, const CreateDashboard& c, const Context& ctx) {
  // No dashboard stream exists yet to audit a refusal in, so these refusals record nothing.
  if (ctx.actor.kind != ActorKind::platform_operator) {
    return refuse({RejectionCode::forbidden, {}, "only the platform operator may create dashboards"});
  }
  if (s.exists) return refuse(invalid_field("dashboard_id", "is already in use"));
  auto name = validate_name("name", c.name);
  if (!name) return refuse(name.error());
  auto email = validate_email("admin.email", c.admin_email);
  if (!email) return refuse(email.error());
  return accept({DashboardCreated{c.dashboard_id, *name},
                 UserAdded{*email, Role::admin, c.admin_password_hash},
                 RcsKeyProvisioned{c.rcs_key_id, c.rcs_secret}});
}

Outcome decide_one(const DashboardState& s, const CloseDashboard& c, const Context& ctx) {
  if (auto refusal = require_operator<CloseDashboard>(s, ctx, s.id)) return *refusal;
  std::string reason = c.reason;
  if (!reason.empty()) {
    auto valid = validate_reason("reason", reason);
    if (!valid) return refuse(valid.error());
  }
  return accept({DashboardClosed{reason}});
}

Outcome decide_one(const DashboardState& s, const AddUser& c, const Context& ctx) {
  if (auto refusal = require_user<AddUser>(s, ctx, {Role::admin}, c.email)) return *refusal;
  auto email = validate_email("email", c.email);
  if (!email) return refuse(email.error());
  if (s.user(*email)) {
    return deny<AddUser>(RejectionCode::user_exists, *email, "a user with this email exists");
  }
  return accept({UserAdded{*email, c.role, c.password_hash}});
}

Outcome decide_one(const DashboardState& s, const RemoveUser& c, const Context& ctx) {
  if (auto refusal = require_user<RemoveUser>(s, ctx, {Role::admin}, c.email)) return *refusal;
  auto email = validate_email("email", c.email);
  if (!email) return refuse(email.error());
  const User* user = s.user(*email);
  if (!user) return not_found("no such user");
  if (user->role == Role::admin && s.admin_count() == 1) {
    return deny<RemoveUser>(RejectionCode::forbidden, *email,
                            "the last admin of a dashboard cannot be removed");
  }
  return accept({UserRemoved{*email}});
}

Outcome decide_one(const DashboardState& s, const LogIn& c, const Context& ctx) {
  // Every failure answers 401 without saying which part was wrong; the audit event says.
  const Rejection unauthenticated{RejectionCode::unauthenticated, {},
                                  "the email or password is incorrect"};
  auto email = validate_email("email", c.email);
  if (!email) return refuse(email.error());
  if (!s.exists) return refuse(unauthenticated);
  auto failed = [&](RejectionCode why, Rejection answer) {
    return Outcome{{UserLoginFailed{*email, why}}, std::move(answer)};
  };
  if (s.closed) return failed(RejectionCode::dashboard_closed, unauthenticated);
  const User* user = s.user(*email);
  if (!user) return failed(RejectionCode::unauthenticated, unauthenticated);
  if (user->locked_at(ctx.now)) {
    return failed(RejectionCode::too_many_attempts,
                  {RejectionCode::too_many_attempts, {}, "too many wrong passwords; try again later"});
  }
  if (!c.password_matched) {
    Outcome out = failed(RejectionCode::password_incorrect, unauthenticated);
    append_lockout_if_due(*user, ctx, out.events);
    return out;
  }
  return accept({UserLoggedIn{*email}});
}

}  // namespace keyledger::domain::detail
