// Shared steps of the per-channel deciders: who may act, how refusals are recorded, and the
// step-up password check. Internal to domain/.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "decide.hpp"

namespace keyledger::domain::detail {

inline Outcome accept(std::vector<Event> events) { return Outcome{std::move(events), {}}; }

// A refusal that is audited: one `…Denied` event named after the command.
template <class C>
Outcome deny(RejectionCode code, std::string subject, std::string detail) {
  Rejection rejection{code, {}, detail};
  return Outcome{{CommandDenied{std::string(C::denied_as), code, std::move(subject),
                                std::move(detail)}},
                 std::move(rejection)};
}

// A refusal that changes nothing and is not audited: bad input or an unknown target.
inline Outcome refuse(Rejection rejection) { return Outcome{{}, std::move(rejection)}; }
inline Outcome not_found(std::string detail) {
  return refuse(Rejection{RejectionCode::not_found, {}, std::move(detail)});
}

// Checks that the dashboard is open and that the actor is one of its users with one of
// `roles`; returns the refusal otherwise.
template <class C>
std::optional<Outcome> require_user(const DashboardState& s, const Context& ctx,
                                    std::initializer_list<Role> roles, const std::string& subject) {
  if (!s.exists) return not_found("no such dashboard");
  if (s.closed) {
    return deny<C>(RejectionCode::dashboard_closed, subject, "the dashboard is closed");
  }
  const User* user = ctx.actor.kind == ActorKind::user ? s.user(ctx.actor.id) : nullptr;
  bool allowed = false;
  if (user) {
    for (Role r : roles) allowed = allowed || user->role == r;
  }
  if (!allowed) {
    return deny<C>(RejectionCode::forbidden, subject,
                   user ? "the " + std::string(to_string(user->role)) + " role may not do this"
                        : "only users of this dashboard may do this");
  }
  return std::nullopt;
}

template <class C>
std::optional<Outcome> require_operator(const DashboardState& s, const Context& ctx,
                                        const std::string& subject) {
  if (!s.exists) return not_found("no such dashboard");
  if (ctx.actor.kind != ActorKind::platform_operator) {
    return deny<C>(RejectionCode::forbidden, subject, "only the platform operator may do this");
  }
  if (s.closed) {
    return deny<C>(RejectionCode::dashboard_closed, subject, "the dashboard is closed");
  }
  return std::nullopt;
}

// The failure events for a wrong password by `email`: the refusal itself, plus
// UserLockedOut when it is the failure that reaches the lockout threshold.
void append_lockout_if_due(const User& user, const Context& ctx, std::vector<Event>& events);

// Step-up (SPEC §2): a locked user is refused without looking at the password; a wrong
// password is refused and counts towards the lockout. Either way the attempt is audited.
template <class C>
std::optional<Outcome> require_step_up(const DashboardState& s, const Context& ctx,
                                       bool password_matched, const std::string& subject) {
  const User& user = *s.user(ctx.actor.id);  // require_user ran first
  if (user.locked_at(ctx.now)) {
    return deny<C>(RejectionCode::too_many_attempts, subject,
                   "too many wrong passwords; try again later");
  }
  if (!password_matched) {
    Outcome out = deny<C>(RejectionCode::password_incorrect, subject, "the password is incorrect");
    append_lockout_if_due(user, ctx, out.events);
    return out;
  }
  return std::nullopt;
}

// One overload per command, grouped by concern in *_decider.cpp; `decide` dispatches.
Outcome decide_one(const DashboardState&, const CreateDashboard&, const Context&);
Outcome decide_one(const DashboardState&, const CloseDashboard&, const Context&);
Outcome decide_one(const DashboardState&, const AddUser&, const Context&);
Outcome decide_one(const DashboardState&, const RemoveUser&, const Context&);
Outcome decide_one(const DashboardState&, const LogIn&, const Context&);
Outcome decide_one(const DashboardState&, const GenerateEmailKey&, const Context&);
Outcome decide_one(const DashboardState&, const ChangeEmailKeyRestrictions&, const Context&);
Outcome decide_one(const DashboardState&, const RotateEmailKey&, const Context&);
Outcome decide_one(const DashboardState&, const RevokeEmailKey&, const Context&);
Outcome decide_one(const DashboardState&, const RevealEmailKey&, const Context&);
Outcome decide_one(const DashboardState&, const GenerateWhatsAppKey&, const Context&);
Outcome decide_one(const DashboardState&, const RotateWhatsAppKey&, const Context&);
Outcome decide_one(const DashboardState&, const RevokeWhatsAppKey&, const Context&);
Outcome decide_one(const DashboardState&, const RevealWhatsAppKey&, const Context&);
Outcome decide_one(const DashboardState&, const RegisterSmsNumber&, const Context&);
Outcome decide_one(const DashboardState&, const ViewSmsKey&, const Context&);
Outcome decide_one(const DashboardState&, const RotateSmsKey&, const Context&);
Outcome decide_one(const DashboardState&, const DeregisterSmsNumber&, const Context&);
Outcome decide_one(const DashboardState&, const GenerateSmsKey&, const Context&);
Outcome decide_one(const DashboardState&, const RevealRcsKey&, const Context&);
Outcome decide_one(const DashboardState&, const GenerateRcsKey&, const Context&);
Outcome decide_one(const DashboardState&, const RotateRcsKey&, const Context&);
Outcome decide_one(const DashboardState&, const RevokeRcsKey&, const Context&);
Outcome decide_one(const DashboardState&, const ReissueRcsKey&, const Context&);
Outcome decide_one(const DashboardState&, const RegisterRcsBot&, const Context&);
Outcome decide_one(const DashboardState&, const RemoveRcsBot&, const Context&);
Outcome decide_one(const DashboardState&, const ReportKeyLeak&, const Context&);
Outcome decide_one(const DashboardState&, const SignAuditCheckpoint&, const Context&);
Outcome decide_one(const DashboardState&, const RecordKeyUsage&, const Context&);
Outcome decide_one(const DashboardState&, const RecordDataKeyRewrap&, const Context&);

}  // namespace keyledger::domain::detail
