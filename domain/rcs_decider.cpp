// RCS: one fixed key per dashboard, provisioned with it and shared by all its bots. No
// dashboard user can generate, rotate or revoke it; only the operator can reissue it.
#include "decider_support.hpp"
#include "validation.hpp"

namespace keyledger::domain::detail {

namespace {
constexpr std::initializer_list<Role> kRcsRoles{Role::admin, Role::developer};

template <class C>
Outcome refuse_fixed_key(const DashboardState& s) {
  if (!s.exists) return not_found("no such dashboard");
  return deny<C>(RejectionCode::rcs_key_fixed, s.rcs_key_id,
                 "the RCS key is fixed for the dashboard and cannot be generated, rotated or "
                 "revoked");
}
}  // namespace

Outcome decide_one(const DashboardState& s, const RevealRcsKey& c, const Context& ctx) {
  if (auto refusal = require_user<RevealRcsKey>(s, ctx, kRcsRoles, s.rcs_key_id)) return *refusal;
  if (auto refusal = require_step_up<RevealRcsKey>(s, ctx, c.password_matched, s.rcs_key_id)) {
    return *refusal;
  }
  return accept({RcsKeyRevealed{s.rcs_key_id}});
}

Outcome decide_one(const DashboardState& s, const GenerateRcsKey&, const Context&) {
  return refuse_fixed_key<GenerateRcsKey>(s);
}
Outcome decide_one(const DashboardState& s, const RotateRcsKey&, const Context&) {
  return refuse_fixed_key<RotateRcsKey>(s);
}
Outcome decide_one(const DashboardState& s, const RevokeRcsKey&, const Context&) {
  return refuse_fixed_key<RevokeRcsKey>(s);
}

Outcome decide_one(const DashboardState& s, const ReissueRcsKey& c, const Context& ctx) {
  if (auto refusal = require_operator<ReissueRcsKey>(s, ctx, s.rcs_key_id)) return *refusal;
  auto reason = validate_reason("reason", c.reason);
  if (!reason) return refuse(reason.error());
  return accept({RcsKeyReissued{s.rcs_key_id, *reason, c.secret}});
}

Outcome decide_one(const DashboardState& s, const RegisterRcsBot& c, const Context& ctx) {
  if (auto refusal = require_user<RegisterRcsBot>(s, ctx, kRcsRoles, c.bot_id)) return *refusal;
  auto bot = validate_bot_id("bot_id", c.bot_id);
  if (!bot) return refuse(bot.error());
  if (s.rcs_bots.contains(*bot)) return refuse(invalid_field("bot_id", "is already registered"));
  return accept({RcsBotRegistered{*bot}});
}

Outcome decide_one(const DashboardState& s, const RemoveRcsBot& c, const Context& ctx) {
  if (auto refusal = require_user<RemoveRcsBot>(s, ctx, kRcsRoles, c.bot_id)) return *refusal;
  if (!s.rcs_bots.contains(c.bot_id)) return not_found("no such bot in this dashboard");
  return accept({RcsBotRemoved{c.bot_id}});
}

}  // namespace keyledger::domain::detail
