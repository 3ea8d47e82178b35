#include "key_routes.hpp"

#include "key_views.hpp"
#include "usecases/dashboards.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

namespace {

// The sealed secret a generation or rotation event carries.
const kd::SealedSecret* recorded_secret(const es::CommandResult& result) {
  for (auto& e : result.outcome.events) {
    if (auto* g = std::get_if<kd::EmailKeyGenerated>(&e)) return &g->secret;
    if (auto* r = std::get_if<kd::EmailKeyRotated>(&e)) return &r->secret;
    if (auto* w = std::get_if<kd::WhatsAppKeyRotated>(&e)) return &w->secret;
  }
  return nullptr;
}

// grace_seconds of a rotation, from a body that may be absent.
Expected<std::optional<std::int64_t>> grace_of(const RequestContext& ctx) {
  if (ctx.request.body.empty()) return std::nullopt;
  Fields body = ctx.fields();
  auto grace = body.optional_integer("grace_seconds");
  if (!body.ok()) return body.error();
  return grace;
}

}  // namespace

void KeyRoutes::add_to(Router& router) {
  using kd::Channel;
  const std::string email = "/v1/dashboards/{d}/email/keys", whatsapp = "/v1/dashboards/{d}/whatsapp/keys";
  router.add("POST", email, [this](RequestContext& c) { return generate_email_key(c); });
  router.add("GET", email, [this](RequestContext& c) { return list_keys(c, Channel::email); });
  router.add("GET", email + "/{id}", [this](RequestContext& c) { return get_key(c, Channel::email); });
  router.add("PATCH", email + "/{id}", [this](RequestContext& c) { return change_email_key(c); });
  router.add("POST", email + "/{id}/rotate", [this](RequestContext& c) { return rotate_email_key(c); });
  router.add("POST", email + "/{id}/reveal", [this](RequestContext& c) { return reveal_key(c, Channel::email); });
  router.add("DELETE", email + "/{id}", [this](RequestContext& c) { return revoke_key(c, Channel::email); });
  router.add("POST", whatsapp, [this](RequestContext& c) { return generate_whatsapp_key(c); });
  router.add("GET", whatsapp, [this](RequestContext& c) { return list_keys(c, Channel::whatsapp); });
  router.add("GET", whatsapp + "/{id}", [this](RequestContext& c) { return get_key(c, Channel::whatsapp); });
  router.add("POST", whatsapp + "/{id}/reveal", [this](RequestContext& c) { return reveal_key(c, Channel::whatsapp); });
  router.add("POST", whatsapp + "/{id}/rotate", [this](RequestContext& c) { return rotate_whatsapp_key(c); });
  router.add("DELETE", whatsapp + "/{id}", [this](RequestContext& c) { return revoke_key(c, Channel::whatsapp); });
}

Task<Result> KeyRoutes::generate_email_key(RequestContext& ctx) {
  Fields body = ctx.fields();
  const std::string name = body.required_string("name");
  auto permissions = body.optional_string_array("permissions").value_or(std::vector<std::string>{"all"});
  auto allowlist = body.optional_string_array("ip_allowlist").value_or(std::vector<std::string>{});
  if (!body.ok()) co_return body.error();
  const std::string& d = ctx.param("d");
  const std::string key_id = usecases::new_id("key_");
  KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::email, d, key_id));
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, kd::GenerateEmailKey{key_id, name, permissions, allowlist, secret.sealed}));
  const auto& generated = std::get<kd::EmailKeyGenerated>(result.outcome.events.front());
  KEYLEDGER_CO_TRY(plain, secrets_.plaintext_of(d, generated.key_id, generated.secret, secret));
  co_return key_response(result.replayed ? 200 : 201, key_text(pipeline_, d, generated.key_id, &plain));  // shown this once
}

Result KeyRoutes::list_keys(RequestContext& ctx, kd::Channel channel) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  std::string body;
  es::json_writer::Writer w(body);
  w.begin_object();
  w.key("keys");
  w.begin_array();
  std::size_t whatsapp_used = 0;
  KEYLEDGER_CHECK(states_.read(ctx, [&](const kd::DashboardState& s, kd::Timestamp now) {
    for (auto& [id, key] : s.keys) {
      if (key.channel == channel) write_key(w, id, key, now);
    }
    whatsapp_used = s.active_whatsapp_keys();
  }));
  w.end_array();
  if (channel == kd::Channel::whatsapp) {  // members in name order
    w.key("slots_total");
    w.unsigned_integer(kd::kWhatsAppKeyLimit);
    w.key("slots_used");
    w.unsigned_integer(whatsapp_used);
  }
  w.end_object();
  return json_text_response(200, std::move(body));
}

Result KeyRoutes::get_key(RequestContext& ctx, kd::Channel channel) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  std::optional<std::string> out;
  pipeline_.with_dashboard(ctx.param("d"), [&](const es::DashboardView& v) {
    auto it = v.state.keys.find(ctx.param("id"));
    if (it != v.state.keys.end() && it->second.channel == channel) out = key_text(it->first, it->second, pipeline_.now());
  });
  if (!out) return std::unexpected(not_found(channel == kd::Channel::email ? "no such Email key" : "no such WhatsApp key"));
  return json_text_response(200, std::move(*out));
}

Task<Result> KeyRoutes::change_email_key(RequestContext& ctx) {
  Fields body = ctx.fields();
  kd::ChangeEmailKeyRestrictions command{ctx.param("id"), body.optional_string("name"),
                                         body.optional_string_array("permissions"),
                                         body.optional_string_array("ip_allowlist")};
  if (!body.ok()) co_return body.error();
  const std::string& d = ctx.param("d");
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, d, std::move(command)));
  co_return key_response(200, key_text(pipeline_, d, ctx.param("id")));
}

Task<Result> KeyRoutes::rotate_email_key(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  const std::string& id = ctx.param("id");
  KEYLEDGER_CO_TRY(grace, grace_of(ctx));
  KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::email, d, id));
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, kd::RotateEmailKey{id, grace, secret.sealed}));
  KEYLEDGER_CO_TRY(plain, secrets_.plaintext_of(d, id, *recorded_secret(result), secret));
  co_return key_response(200, key_text(pipeline_, d, id, &plain));
}

Task<Result> KeyRoutes::reveal_key(RequestContext& ctx, kd::Channel channel) {
  const std::string& d = ctx.param("d");
  const std::string& id = ctx.param("id");
  bool matched = false;
  if (ctx.principal.kind == Principal::Kind::user) {
    KEYLEDGER_CO_TRY(password_matches, secrets_.step_up_password_matches(ctx));
    matched = password_matches;
  }
  kd::Command command = channel == kd::Channel::email ? kd::Command{kd::RevealEmailKey{id, matched}}
                                                      : kd::Command{kd::RevealWhatsAppKey{id, matched}};
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, d, std::move(command)));  // audit fails closed: no durable event, no secret
  co_return secrets_.disclose(d, id);
}

Task<Result> KeyRoutes::revoke_key(RequestContext& ctx, kd::Channel channel) {
  const std::string& d = ctx.param("d");
  const std::string& id = ctx.param("id");
  kd::Command command = channel == kd::Channel::email ? kd::Command{kd::RevokeEmailKey{id}}
                                                      : kd::Command{kd::RevokeWhatsAppKey{id}};
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, d, std::move(command)));
  co_return key_response(200, key_text(pipeline_, d, id));
}

Task<Result> KeyRoutes::generate_whatsapp_key(RequestContext& ctx) {
  Fields body = ctx.fields();
  const std::string name = body.required_string("name");
  if (!body.ok()) co_return body.error();
  const std::string& d = ctx.param("d");
  const std::string key_id = usecases::new_id("key_");
  KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::whatsapp, d, key_id));
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, kd::GenerateWhatsAppKey{key_id, name, secret.sealed}));
  // Never disclosed here: the help page shows a WhatsApp key only after the password.
  const auto& generated = std::get<kd::WhatsAppKeyGenerated>(result.outcome.events.front());
  co_return key_response(result.replayed ? 200 : 201, key_text(pipeline_, d, generated.key_id));
}

Task<Result> KeyRoutes::rotate_whatsapp_key(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  const std::string& id = ctx.param("id");
  KEYLEDGER_CO_TRY(grace, grace_of(ctx));
  KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::whatsapp, d, id));
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, d, kd::RotateWhatsAppKey{id, grace, secret.sealed}));
  co_return key_response(200, key_text(pipeline_, d, id));  // the new secret, too, only by reveal
}

}  // namespace keyledger::api
