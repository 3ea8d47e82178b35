#include "dashboard_routes.hpp"

#include <algorithm>

#include "domain/validation.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/rfc3339.hpp"
#include "key_views.hpp"
#include "usecases/dashboards.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

namespace {

json dashboard_json(const kd::DashboardState& s) {
  return json{{"id", s.id}, {"name", s.name}, {"created_at", es::format_rfc3339(s.created_at)},
              {"status", s.closed ? "closed" : "open"}};
}

// Checks the password policy before hashing, so that the error names the field, never the value.
Expected<std::string> hash_new_password(const std::string& field, const std::string& password) {
  auto valid = kd::validate_password(field, password);
  if (!valid) return std::unexpected(invalid_request(field, valid.error().detail));
  return es::hash_password(password);
}

ApiError problem_of(const usecases::Problem& problem) {
  switch (problem.kind) {
    case usecases::Problem::Kind::invalid_request: return invalid_request(problem.field, problem.detail);
    case usecases::Problem::Kind::keyring_unavailable: break;
  }
  return ApiError{503, "keyring_unavailable", problem.detail, "", {}};
}

}  // namespace

void DashboardRoutes::add_to(Router& router) {
  router.add("POST", "/v1/dashboards", [this](RequestContext& c) { return create_dashboard(c); });
  router.add("GET", "/v1/dashboards", [this](RequestContext& c) { return list_dashboards(c); });
  router.add("GET", "/v1/dashboards/{d}", [this](RequestContext& c) { return get_dashboard(c); });
  router.add("DELETE", "/v1/dashboards/{d}", [this](RequestContext& c) { return close_dashboard(c); });
  router.add("POST", "/v1/sessions", [this](RequestContext& c) { return create_session(c); });
  router.add("POST", "/v1/dashboards/{d}/users", [this](RequestContext& c) { return add_user(c); });
  router.add("GET", "/v1/dashboards/{d}/users", [this](RequestContext& c) { return list_users(c); });
  router.add("DELETE", "/v1/dashboards/{d}/users/{email}", [this](RequestContext& c) { return remove_user(c); });
}

Task<Result> DashboardRoutes::create_dashboard(RequestContext& ctx) {
  KEYLEDGER_CO_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  Fields body = ctx.fields();
  const std::string name = body.required_string("name");
  Fields admin = body.object("admin", "an object with email and password");
  const std::string email = admin.required_string("email");
  const std::string password = admin.required_string("password");
  if (!body.ok()) co_return body.error();
  if (!admin.ok()) co_return admin.error();
  // Placed where this process decides; with an Idempotency-Key, in the key's own partition,
  // whose owner decides every creation with that key (see Application::deciding_partition).
  const std::string key = ctx.request.header("idempotency-key");
  auto command = usecases::prepare_dashboard(vault_, {name, email, password, "admin.password"}, [&](const std::string& id) {
    return pipeline_.decides_for(id) && (key.empty() || pipeline_.partition_for(id) == pipeline_.partition_for(key));
  });
  if (!command) co_return std::unexpected(problem_of(command.error()));
  const std::string id = command->dashboard_id;
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, id, std::move(*command)));
  // A replay names the dashboard the first request created.
  const std::string created = std::get<kd::DashboardCreated>(result.outcome.events.front()).dashboard_id;
  json out;
  pipeline_.with_dashboard(created, [&](const es::DashboardView& v) {
    out = dashboard_json(v.state);
    out["rcs_key"] = key_json(v.state.rcs_key_id, v.state.keys.at(v.state.rcs_key_id), pipeline_.now());
    out["admin"] = json{{"email", v.state.users.begin()->second.email}, {"role", "admin"}};
  });
  co_return json_response(result.replayed ? 200 : 201, out);
}

// Every dashboard, for the operator: in id order, `limit` at a time (default 100, at most
// 1,000), the next page after the `cursor` (the last id of the page before).
Result DashboardRoutes::list_dashboards(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  KEYLEDGER_TRY(limit, ctx.number("limit", 100, 1, 1000));
  const auto cursor = ctx.query.find("cursor");
  std::vector<std::string> ids = pipeline_.dashboard_ids();
  std::sort(ids.begin(), ids.end());
  auto it = cursor == ctx.query.end() ? ids.begin() : std::upper_bound(ids.begin(), ids.end(), cursor->second);
  json page = json::array();
  for (; it != ids.end() && page.size() < limit; ++it) {
    pipeline_.with_dashboard(*it, [&](const es::DashboardView& v) { page.push_back(dashboard_json(v.state)); });
  }
  const bool more = it != ids.end();
  return json_response(200, {{"dashboards", page}, {"next_cursor", more && !page.empty() ? json(page.back()["id"]) : json(nullptr)}});
}

Result DashboardRoutes::get_dashboard(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  json out;
  KEYLEDGER_CHECK(states_.read(ctx, [&](const kd::DashboardState& s, kd::Timestamp) {
    out = dashboard_json(s);
    std::size_t email = 0, whatsapp = 0;
    for (auto& [id, key] : s.keys) {
      if (key.revoked) continue;
      if (key.channel == kd::Channel::email) ++email;
      if (key.channel == kd::Channel::whatsapp) ++whatsapp;
    }
    out["users"] = s.users.size();
    out["keys"] = json{{"email", email}, {"whatsapp", whatsapp}, {"sms", s.numbers.size()}, {"rcs", 1}};
  }));
  return json_response(200, out);
}

Task<Result> DashboardRoutes::close_dashboard(RequestContext& ctx) {
  KEYLEDGER_CO_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  std::string reason;
  if (!ctx.request.body.empty()) {
    Fields body = ctx.fields();
    reason = body.optional_string("reason").value_or("");
    if (!body.ok()) co_return body.error();
  }
  const std::string& id = ctx.param("d");
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, id, kd::CloseDashboard{reason}));
  // The closure is durable; now destroy the data key so every sealed secret is unreadable.
  if (auto ec = vault_.keyring().destroy(id)) {
    co_return std::unexpected(ApiError{503, "keyring_unavailable",
                                    "the dashboard is closed but its data key could not be destroyed yet", "", {}});
  }
  json out;
  pipeline_.with_dashboard(id, [&](const es::DashboardView& v) { out = dashboard_json(v.state); });
  co_return json_response(200, out);
}

Task<Result> DashboardRoutes::create_session(RequestContext& ctx) {
  Fields body = ctx.fields();
  const std::string dashboard = body.required_string("dashboard_id");
  const std::string email = body.required_string("email");
  const std::string password = body.required_string("password");
  if (!body.ok()) co_return body.error();
  auto normalized = kd::validate_email("email", email);
  if (!normalized) co_return std::unexpected(invalid_request("email", normalized.error().detail));
  std::string hash;
  pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
    if (const kd::User* u = v.state.user(*normalized)) hash = u->password_hash;
  });
  // An unknown user costs the same scrypt as a known one, so timing does not reveal users.
  static const std::string kDecoy = es::hash_password("keyledger decoy password");
  const bool matched = es::verify_password(password, hash.empty() ? kDecoy : hash) && !hash.empty();
  ctx.principal = Principal{Principal::Kind::anonymous, dashboard, *normalized};
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, dashboard, kd::LogIn{*normalized, matched}));
  const kd::Timestamp expires = pipeline_.now() + std::chrono::duration_cast<std::chrono::milliseconds>(session_ttl_);
  std::string role;
  pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
    if (const kd::User* u = v.state.user(*normalized)) role = kd::to_string(u->role);
  });
  co_return json_response(201, {{"token", sessions_.issue({dashboard, *normalized, expires})},
                             {"expires_at", es::format_rfc3339(expires)},
                             {"role", role}});
}

Task<Result> DashboardRoutes::add_user(RequestContext& ctx) {
  Fields body = ctx.fields();
  const std::string email = body.required_string("email");
  const std::string role_text = body.required_string("role");
  const std::string password = body.required_string("password");
  if (!body.ok()) co_return body.error();
  auto role = kd::parse_role(role_text);
  if (!role) co_return std::unexpected(invalid_request("role", "role must be admin, developer or viewer"));
  KEYLEDGER_CO_TRY(hash, hash_new_password("password", password));
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, ctx.param("d"), kd::AddUser{email, *role, hash}));
  const auto& added = std::get<kd::UserAdded>(result.outcome.events.front());
  co_return json_response(result.replayed ? 200 : 201, {{"email", added.email}, {"role", kd::to_string(added.role)}});
}

Result DashboardRoutes::list_users(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, {kd::Role::admin}));
  json users = json::array();
  pipeline_.with_dashboard(ctx.param("d"), [&](const es::DashboardView& v) {
    for (auto& [email, user] : v.state.users) users.push_back({{"email", email}, {"role", kd::to_string(user.role)}});
  });
  return json_response(200, {{"users", users}});
}

Task<Result> DashboardRoutes::remove_user(RequestContext& ctx) {
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, ctx.param("d"), kd::RemoveUser{ctx.param("email")}));
  co_return no_content();
}

}  // namespace keyledger::api
