// SMS numbers with their automatically assigned keys, and the dashboard's fixed RCS key
// with its bots.
#include "application.hpp"
#include "eventstore/rfc3339.hpp"
#include "request_fields.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

namespace {
json number_json(const kd::SmsNumber& n, const kd::DashboardState& s) {
  const kd::ApiKey& key = s.keys.at(n.key_id);
  return json{{"number", n.number}, {"key_id", n.key_id}, {"masked", key.masked()},
              {"registered_at", es::format_rfc3339(n.registered_at)}};
}
}  // namespace

HttpResponse Application::register_number(RequestContext& ctx) {
  const std::string& d = ctx.params.at("d");
  std::string number = required_string(ctx.body(), "number");
  std::string key_id = usecases::new_id("key_");
  auto result = run(ctx, d, kd::RegisterSmsNumber{number, key_id, issue_secret(kd::Channel::sms, d, key_id), ""});
  throw_if_refused(ctx, result);
  const auto& registered = std::get<kd::SmsNumberRegistered>(result.outcome.events.front());
  json out;
  pipeline_.with_dashboard(d, [&](const es::DashboardView& v) {
    if (auto it = v.state.numbers.find(registered.number); it != v.state.numbers.end()) {
      out = number_json(it->second, v.state);
      out["key"] = key_json(it->second.key_id, v.state.keys.at(it->second.key_id), pipeline_.now());
    }
  });
  if (out.is_null()) {
    // A replayed registration whose number was deregistered since: the registration as it
    // was recorded.
    for (const auto& event : result.outcome.events) {
      if (const auto* assigned = std::get_if<kd::SmsKeyAssigned>(&event)) {
        out = json{{"number", assigned->number},
                   {"key_id", assigned->key_id},
                   {"masked", assigned->secret.masked()},
                   {"registered_at", es::format_rfc3339(result.appended.front().recorded.occurred_at)}};
      }
    }
  }
  return json_response(result.replayed ? 200 : 201, out);
}

HttpResponse Application::list_numbers(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer, kd::Role::viewer});
  json numbers = json::array();
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    for (auto& [n, registration] : v.state.numbers) numbers.push_back(number_json(registration, v.state));
  });
  return json_response(200, {{"numbers", numbers}});
}

HttpResponse Application::get_number(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer, kd::Role::viewer});
  json out;
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    if (auto it = v.state.numbers.find(ctx.params.at("number")); it != v.state.numbers.end()) {
      out = number_json(it->second, v.state);
      out["key"] = key_json(it->second.key_id, v.state.keys.at(it->second.key_id), pipeline_.now());
    }
  });
  if (out.is_null()) throw ApiError{404, "not_found", "the number is not registered in this dashboard", "", {}};
  return json_response(200, out);
}

HttpResponse Application::view_sms_key(RequestContext& ctx) {
  const std::string& d = ctx.params.at("d");
  auto result = run(ctx, d, kd::ViewSmsKey{ctx.params.at("number")});
  throw_if_refused(ctx, result);  // the disclosure is durable in the audit trail first
  return json_response(200, key_with_secret(d, std::get<kd::SmsKeyViewed>(result.outcome.events.front()).key_id));
}

HttpResponse Application::rotate_sms_key(RequestContext& ctx) {
  const std::string& d = ctx.params.at("d");
  std::string key_id;
  pipeline_.with_dashboard(d, [&](const es::DashboardView& v) {
    if (auto it = v.state.numbers.find(ctx.params.at("number")); it != v.state.numbers.end()) key_id = it->second.key_id;
  });
  kd::SealedSecret sealed = key_id.empty() ? kd::SealedSecret{} : issue_secret(kd::Channel::sms, d, key_id);
  auto result = run(ctx, d, kd::RotateSmsKey{ctx.params.at("number"), sealed});
  throw_if_refused(ctx, result);
  const auto& rotated = std::get<kd::SmsKeyRotated>(result.outcome.events.front());
  json out = key_json(d, rotated.key_id);
  out["key"] = open_secret(d, rotated.key_id, rotated.secret);
  return json_response(200, out);
}

HttpResponse Application::deregister_number(RequestContext& ctx) {
  auto result = run(ctx, ctx.params.at("d"), kd::DeregisterSmsNumber{ctx.params.at("number")});
  throw_if_refused(ctx, result);
  return HttpResponse{204, "application/json", "", {}, {}};
}

HttpResponse Application::generate_sms_key(RequestContext& ctx) {
  auto result = run(ctx, ctx.params.at("d"), kd::GenerateSmsKey{});
  throw_if_refused(ctx, result);
  throw ApiError{500, "internal_error", "an SMS key generation was accepted", "", {}};
}

HttpResponse Application::get_rcs_key(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer, kd::Role::viewer});
  json out;
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    out = key_json(v.state.rcs_key_id, v.state.keys.at(v.state.rcs_key_id), pipeline_.now());
  });
  return json_response(200, out);
}

HttpResponse Application::reveal_rcs_key(RequestContext& ctx) {
  const std::string& d = ctx.params.at("d");
  bool matched = ctx.principal.kind == Principal::Kind::user && step_up_password_matches(ctx);
  auto result = run(ctx, d, kd::RevealRcsKey{matched});
  throw_if_refused(ctx, result);
  return json_response(200, key_with_secret(d, std::get<kd::RcsKeyRevealed>(result.outcome.events.front()).key_id));
}

HttpResponse Application::generate_rcs_key(RequestContext& ctx) {
  throw_if_refused(ctx, run(ctx, ctx.params.at("d"), kd::GenerateRcsKey{}));
  throw ApiError{500, "internal_error", "an RCS key generation was accepted", "", {}};
}

HttpResponse Application::rotate_rcs_key(RequestContext& ctx) {
  throw_if_refused(ctx, run(ctx, ctx.params.at("d"), kd::RotateRcsKey{}));
  throw ApiError{500, "internal_error", "an RCS key rotation was accepted", "", {}};
}

HttpResponse Application::revoke_rcs_key(RequestContext& ctx) {
  throw_if_refused(ctx, run(ctx, ctx.params.at("d"), kd::RevokeRcsKey{}));
  throw ApiError{500, "internal_error", "an RCS key revocation was accepted", "", {}};
}

HttpResponse Application::reissue_rcs_key(RequestContext& ctx) {
  const std::string& d = ctx.params.at("d");
  std::string reason = required_string(ctx.body(), "reason");
  std::string key_id;
  pipeline_.with_dashboard(d, [&](const es::DashboardView& v) { key_id = v.state.rcs_key_id; });
  kd::SealedSecret sealed = key_id.empty() ? kd::SealedSecret{} : issue_secret(kd::Channel::rcs, d, key_id);
  auto result = run(ctx, d, kd::ReissueRcsKey{reason, sealed});
  throw_if_refused(ctx, result);
  // The operator gets the masked key; users reveal the new secret with their password.
  return json_response(200, key_json(d, key_id));
}

HttpResponse Application::register_bot(RequestContext& ctx) {
  auto result = run(ctx, ctx.params.at("d"), kd::RegisterRcsBot{required_string(ctx.body(), "bot_id")});
  throw_if_refused(ctx, result);
  return json_response(result.replayed ? 200 : 201,
                       {{"bot_id", std::get<kd::RcsBotRegistered>(result.outcome.events.front()).bot_id}});
}

HttpResponse Application::list_bots(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer});
  json bots = json::array();
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    for (auto& b : v.state.rcs_bots) bots.push_back({{"bot_id", b}});
  });
  return json_response(200, {{"bots", bots}});
}

HttpResponse Application::remove_bot(RequestContext& ctx) {
  auto result = run(ctx, ctx.params.at("d"), kd::RemoveRcsBot{ctx.params.at("bot_id")});
  throw_if_refused(ctx, result);
  return HttpResponse{204, "application/json", "", {}, {}};
}

}  // namespace keyledger::api
