// Dashboards, users and sessions.
#include "application.hpp"
#include "domain/validation.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/rfc3339.hpp"
#include "request_fields.hpp"
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

// Checks the password policy before hashing, so the error names the field and never the value.
std::string hash_new_password(const std::string& field, const std::string& password) {
  auto valid = kd::validate_password(field, password);
  if (!valid) throw ApiError{400, "invalid_request", valid.error().detail, field, {}};
  return es::hash_password(password);
}
}  // namespace

HttpResponse Application::create_dashboard(RequestContext& ctx) {
  require_principal(ctx, Principal::Kind::platform_operator);
  const json& body = ctx.body();
  std::string name = required_string(body, "name");
  if (!body.contains("admin") || !body["admin"].is_object()) {
    throw ApiError{400, "invalid_request", "admin must be an object with email and password", "admin", {}};
  }
  usecases::NewDashboard dashboard{name, required_string(body["admin"], "email"),
                                   required_string(body["admin"], "password"), "admin.password"};
  auto result = usecases::create_dashboard(vault_, dashboard, [&](const std::string& id, kd::Command command) {
    return run(ctx, id, std::move(command));
  });
  if (!result) throw problem_of(result.error());
  throw_if_refused(ctx, *result);
  std::string created = std::get<kd::DashboardCreated>(result->outcome.events.front()).dashboard_id;
  json out;
  pipeline_.with_dashboard(created, [&](const es::DashboardView& v) {
    out = dashboard_json(v.state);
    out["rcs_key"] = key_json(v.state.rcs_key_id, v.state.keys.at(v.state.rcs_key_id), pipeline_.now());
    out["admin"] = json{{"email", v.state.users.begin()->second.email}, {"role", "admin"}};
  });
  return json_response(result->replayed ? 200 : 201, out);
}

HttpResponse Application::get_dashboard(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer, kd::Role::viewer});
  json out;
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    out = dashboard_json(v.state);
    std::size_t email = 0, whatsapp = 0;
    for (auto& [id, key] : v.state.keys) {
      if (key.revoked) continue;
      if (key.channel == kd::Channel::email) ++email;
      if (key.channel == kd::Channel::whatsapp) ++whatsapp;
    }
    out["users"] = v.state.users.size();
    out["keys"] = json{{"email", email}, {"whatsapp", whatsapp}, {"sms", v.state.numbers.size()}, {"rcs", 1}};
  });
  return json_response(200, out);
}

HttpResponse Application::close_dashboard(RequestContext& ctx) {
  require_principal(ctx, Principal::Kind::platform_operator);
  std::string reason;
  if (!ctx.request.body.empty()) reason = optional_string(ctx.body(), "reason").value_or("");
  const std::string& id = ctx.params.at("d");
  auto result = run(ctx, id, kd::CloseDashboard{reason});
  throw_if_refused(ctx, result);
  // The closure is durable; now destroy the data key so every sealed secret is unreadable.
  if (auto ec = vault_.keyring().destroy(id)) {
    throw ApiError{503, "keyring_unavailable", "the dashboard is closed but its data key could not be destroyed yet",
                   "", {}};
  }
  json out;
  pipeline_.with_dashboard(id, [&](const es::DashboardView& v) { out = dashboard_json(v.state); });
  return json_response(200, out);
}

HttpResponse Application::create_session(RequestContext& ctx) {
  const json& body = ctx.body();
  std::string dashboard = required_string(body, "dashboard_id");
  std::string email = required_string(body, "email");
  std::string password = required_string(body, "password");
  auto normalized = kd::validate_email("email", email);
  if (!normalized) throw ApiError{400, "invalid_request", normalized.error().detail, "email", {}};
  std::string hash;
  pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
    if (const kd::User* u = v.state.user(*normalized)) hash = u->password_hash;
  });
  // An unknown user costs the same scrypt as a known one, so timing does not reveal users.
  static const std::string kDecoy = es::hash_password("keyledger decoy password");
  bool matched = es::verify_password(password, hash.empty() ? kDecoy : hash) && !hash.empty();
  ctx.principal = Principal{Principal::Kind::anonymous, dashboard, *normalized};
  auto result = run(ctx, dashboard, kd::LogIn{*normalized, matched});
  throw_if_refused(ctx, result);
  kd::Timestamp expires = pipeline_.now() + std::chrono::duration_cast<std::chrono::milliseconds>(config_.session_ttl);
  std::string role;
  pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
    if (const kd::User* u = v.state.user(*normalized)) role = kd::to_string(u->role);
  });
  return json_response(201, {{"token", sessions_.issue({dashboard, *normalized, expires})},
                             {"expires_at", es::format_rfc3339(expires)},
                             {"role", role}});
}

HttpResponse Application::add_user(RequestContext& ctx) {
  const json& body = ctx.body();
  std::string email = required_string(body, "email");
  std::string role_text = required_string(body, "role");
  auto role = kd::parse_role(role_text);
  if (!role) throw ApiError{400, "invalid_request", "role must be admin, developer or viewer", "role", {}};
  std::string password = required_string(body, "password");
  auto result = run(ctx, ctx.params.at("d"), kd::AddUser{email, *role, hash_new_password("password", password)});
  throw_if_refused(ctx, result);
  const auto& added = std::get<kd::UserAdded>(result.outcome.events.front());
  return json_response(result.replayed ? 200 : 201, {{"email", added.email}, {"role", kd::to_string(added.role)}});
}

HttpResponse Application::list_users(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin});
  json users = json::array();
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    for (auto& [email, user] : v.state.users) users.push_back({{"email", email}, {"role", kd::to_string(user.role)}});
  });
  return json_response(200, {{"users", users}});
}

HttpResponse Application::remove_user(RequestContext& ctx) {
  auto result = run(ctx, ctx.params.at("d"), kd::RemoveUser{ctx.params.at("email")});
  throw_if_refused(ctx, result);
  return HttpResponse{204, "application/json", "", {}, {}};
}

}  // namespace keyledger::api
