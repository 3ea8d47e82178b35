#include "access.hpp"

#include "crypto/crypto.hpp"

namespace keyledger::api {

namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

Expected<void> require_peer(const RequestContext& ctx) {
  if (!ctx.from_peer) return std::unexpected(forbidden("only the processes of this cluster may use this route"));
  return {};
}

Expected<Principal> Access::authenticate(const HttpRequest& request) const {
  const std::string header = request.header("authorization");
  if (!header.starts_with("Bearer ")) return Principal{};
  const std::string token = header.substr(7);
  if (!config_.operator_token.empty() && crypto::constant_time_equal(token, config_.operator_token)) {
    return Principal{Principal::Kind::platform_operator, "", ""};
  }
  if (!config_.service_token.empty() && crypto::constant_time_equal(token, config_.service_token)) {
    return Principal{Principal::Kind::service, "", ""};
  }
  if (auto claims = sessions_.check(token, pipeline_.now())) {
    return Principal{Principal::Kind::user, claims->dashboard_id, claims->email};
  }
  return std::unexpected(unauthenticated("the bearer token is not valid or has expired"));
}

Expected<void> Access::require_principal(const RequestContext& ctx, Principal::Kind kind) const {
  if (ctx.principal.kind == Principal::Kind::anonymous) {
    return std::unexpected(unauthenticated("this route needs a bearer token"));
  }
  if (ctx.principal.kind != kind) return std::unexpected(forbidden("this token may not use this route"));
  return {};
}

Expected<kd::Role> Access::require_member(const RequestContext& ctx, std::initializer_list<kd::Role> roles) const {
  KEYLEDGER_CHECK(require_principal(ctx, Principal::Kind::user));
  const std::string& dashboard = ctx.param("d");
  if (ctx.principal.dashboard_id != dashboard) return std::unexpected(forbidden("this session belongs to another dashboard"));
  std::optional<kd::Role> role;
  pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
    if (const kd::User* user = v.state.user(ctx.principal.email); user && !v.state.closed) role = user->role;
  });
  if (!role) return std::unexpected(unauthenticated("the session's user no longer exists"));
  for (auto r : roles) {
    if (r == *role) return *role;
  }
  return std::unexpected(forbidden("the " + std::string(kd::to_string(*role)) + " role may not do this"));
}

kd::Actor Access::actor_of(const RequestContext& ctx) const {
  const std::string& ip = ctx.client_ip;
  switch (ctx.principal.kind) {
    case Principal::Kind::platform_operator: return {kd::ActorKind::platform_operator, "operator", ip};
    case Principal::Kind::service: return {kd::ActorKind::service, "service", ip};
    case Principal::Kind::user: return {kd::ActorKind::user, ctx.principal.email, ip};
    case Principal::Kind::anonymous: break;
  }
  return {kd::ActorKind::user, ctx.principal.email, ip};  // a login attempt names its user
}

}  // namespace keyledger::api
