#include "channel_routes.hpp"

#include "eventstore/rfc3339.hpp"
#include "domain/validation.hpp"
#include "key_views.hpp"
#include "usecases/dashboards.hpp"

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
// One number as GET .../numbers/{number} shows it: with its key's listing.
json number_with_key(const kd::SmsNumber& n, const kd::DashboardState& s, kd::Timestamp now) {
  json out = number_json(n, s);
  out["key"] = key_json(n.key_id, s.keys.at(n.key_id), now);
  return out;
}
}  // namespace

void ChannelRoutes::add_to(Router& router) {
  const std::string numbers = "/v1/dashboards/{d}/sms/numbers", rcs = "/v1/dashboards/{d}/rcs";
  router.add("POST", numbers, [this](RequestContext& c) { return register_number(c); });
  router.add("GET", numbers, [this](RequestContext& c) { return list_numbers(c); });
  router.add("GET", numbers + "/{number}", [this](RequestContext& c) { return get_number(c); });
  router.add("GET", numbers + "/{number}/key", [this](RequestContext& c) { return view_sms_key(c); });
  router.add("POST", numbers + "/{number}/key/rotate", [this](RequestContext& c) { return rotate_sms_key(c); });
  router.add("DELETE", numbers + "/{number}", [this](RequestContext& c) { return deregister_number(c); });
  router.add("POST", "/v1/dashboards/{d}/sms/keys",
             [this](RequestContext& c) { return always_refused(c, kd::GenerateSmsKey{}); });
  router.add("GET", rcs + "/key", [this](RequestContext& c) { return get_rcs_key(c); });
  router.add("POST", rcs + "/key/reveal", [this](RequestContext& c) { return reveal_rcs_key(c); });
  router.add("POST", rcs + "/keys", [this](RequestContext& c) { return always_refused(c, kd::GenerateRcsKey{}); });
  router.add("POST", rcs + "/key/rotate", [this](RequestContext& c) { return always_refused(c, kd::RotateRcsKey{}); });
  router.add("DELETE", rcs + "/key", [this](RequestContext& c) { return always_refused(c, kd::RevokeRcsKey{}); });
  router.add("POST", rcs + "/key/reissue", [this](RequestContext& c) { return reissue_rcs_key(c); });
  router.add("POST", rcs + "/bots", [this](RequestContext& c) { return register_bot(c); });
  router.add("GET", rcs + "/bots", [this](RequestContext& c) { return list_bots(c); });
  router.add("DELETE", rcs + "/bots/{bot_id}", [this](RequestContext& c) { return remove_bot(c); });
}

Task<Result> ChannelRoutes::register_number(RequestContext& ctx) {
  Fields body = ctx.fields();
  const std::string number = body.required_string("number");
  if (!body.ok()) co_return body.error();
  const std::string& d = ctx.param("d");
  // SPEC §10: on a cluster the number belongs to the owner of its own partition, which
  // reserves it before this process (the dashboard's owner) decides the registration; the
  // command then names the dashboard that owner says holds the number.
  const auto valid = kd::validate_e164("number", number);  // an invalid one is refused by the decider
  const std::string canonical = valid ? *valid : number;
  std::string holder;
  std::optional<std::uint32_t> reserved_at;
  if (valid) {
    Completion<Expected<void>> current([&](Completion<Expected<void>>::Callback done) {
      applied_waits_.wait_number_current(canonical, d, std::move(done));
    });
    (void)co_await current;
  }
  if (valid && forwarder_.enabled()) {
    const std::uint32_t partition = pipeline_.partition_for(canonical);
    if (!pipeline_.decides_partition(partition)) {
      auto reservation = forwarder_.reserve_number(ctx, partition, canonical, d);  // named: see KEYLEDGER_CO_AWAIT_TRY
      Expected<std::optional<std::string>> reserved = co_await reservation;
      if (!reserved) co_return std::unexpected(reserved.error());
      if (*reserved) {
        holder = **reserved;
        if (holder == d) reserved_at = partition;
      }
    }
  }
  const std::string key_id = usecases::new_id("key_");
  KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::sms, d, key_id));
  auto registration = commands_.run(ctx, d, kd::RegisterSmsNumber{canonical, key_id, secret.sealed, holder});  // named
  Expected<es::CommandResult> registered_or_error = co_await registration;
  const bool now_registered = registered_or_error && !registered_or_error->outcome.events.empty() &&
                          std::holds_alternative<kd::SmsNumberRegistered>(registered_or_error->outcome.events.front());
  if (reserved_at && !now_registered) forwarder_.release_number(ctx, *reserved_at, canonical, d);
  if (!registered_or_error) co_return std::unexpected(registered_or_error.error());
  auto& result = *registered_or_error;
  const auto& registered = std::get<kd::SmsNumberRegistered>(result.outcome.events.front());
  json out;
  pipeline_.with_dashboard(d, [&](const es::DashboardView& v) {
    if (auto it = v.state.numbers.find(registered.number); it != v.state.numbers.end()) {
      out = number_with_key(it->second, v.state, pipeline_.now());
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
  co_return json_response(result.replayed ? 200 : 201, out);
}

Result ChannelRoutes::list_numbers(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  json numbers = json::array();
  KEYLEDGER_CHECK(states_.read(ctx, [&](const kd::DashboardState& s, kd::Timestamp) {
    for (auto& [n, registration] : s.numbers) numbers.push_back(number_json(registration, s));
  }));
  return json_response(200, {{"numbers", numbers}});
}

Result ChannelRoutes::get_number(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  json out;
  pipeline_.with_dashboard(ctx.param("d"), [&](const es::DashboardView& v) {
    if (auto it = v.state.numbers.find(ctx.param("number")); it != v.state.numbers.end()) {
      out = number_with_key(it->second, v.state, pipeline_.now());
    }
  });
  if (out.is_null()) return std::unexpected(not_found("the number is not registered in this dashboard"));
  return json_response(200, out);
}

Task<Result> ChannelRoutes::view_sms_key(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, kd::ViewSmsKey{ctx.param("number")}));
  // The disclosure is durable in the audit trail first.
  co_return secrets_.disclose(d, std::get<kd::SmsKeyViewed>(result.outcome.events.front()).key_id);
}

Task<Result> ChannelRoutes::rotate_sms_key(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  std::string key_id;
  pipeline_.with_dashboard(d, [&](const es::DashboardView& v) {
    if (auto it = v.state.numbers.find(ctx.param("number")); it != v.state.numbers.end()) key_id = it->second.key_id;
  });
  es::IssuedSecret issued;
  if (!key_id.empty()) {
    KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::sms, d, key_id));
    issued = std::move(secret);
  }
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, kd::RotateSmsKey{ctx.param("number"), issued.sealed}));
  const auto& rotated = std::get<kd::SmsKeyRotated>(result.outcome.events.front());
  KEYLEDGER_CO_TRY(plain, secrets_.plaintext_of(d, rotated.key_id, rotated.secret, issued));
  co_return key_response(200, key_text(pipeline_, d, rotated.key_id, &plain));
}

Task<Result> ChannelRoutes::deregister_number(RequestContext& ctx) {
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, ctx.param("d"), kd::DeregisterSmsNumber{ctx.param("number")}));
  co_return no_content();
}

Task<Result> ChannelRoutes::always_refused(RequestContext& ctx, kd::Command command) {
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, ctx.param("d"), std::move(command)));
  co_return std::unexpected(ApiError{500, "internal_error", "a command the rules always refuse was accepted", "", {}});
}

Result ChannelRoutes::get_rcs_key(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  std::string out;
  KEYLEDGER_CHECK(states_.read(ctx, [&](const kd::DashboardState& s, kd::Timestamp now) {
    out = key_text(s.rcs_key_id, s.keys.at(s.rcs_key_id), now);
  }));
  return json_text_response(200, std::move(out));
}

Task<Result> ChannelRoutes::reveal_rcs_key(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  bool matched = false;
  if (ctx.principal.kind == Principal::Kind::user) {
    KEYLEDGER_CO_TRY(password_matches, secrets_.step_up_password_matches(ctx));
    matched = password_matches;
  }
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, kd::RevealRcsKey{matched}));
  co_return secrets_.disclose(d, std::get<kd::RcsKeyRevealed>(result.outcome.events.front()).key_id);
}

Task<Result> ChannelRoutes::reissue_rcs_key(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  Fields body = ctx.fields();
  const std::string reason = body.required_string("reason");
  if (!body.ok()) co_return body.error();
  std::string key_id;
  pipeline_.with_dashboard(d, [&](const es::DashboardView& v) { key_id = v.state.rcs_key_id; });
  kd::SealedSecret sealed;
  if (!key_id.empty()) {
    KEYLEDGER_CO_TRY(secret, secrets_.issue(kd::Channel::rcs, d, key_id));
    sealed = secret.sealed;
  }
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, d, kd::ReissueRcsKey{reason, sealed}));
  // The operator gets the masked key; users reveal the new secret with their password.
  co_return key_response(200, key_text(pipeline_, d, key_id));
}

Task<Result> ChannelRoutes::register_bot(RequestContext& ctx) {
  Fields body = ctx.fields();
  const std::string bot_id = body.required_string("bot_id");
  if (!body.ok()) co_return body.error();
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, ctx.param("d"), kd::RegisterRcsBot{bot_id}));
  co_return json_response(result.replayed ? 200 : 201,
                       {{"bot_id", std::get<kd::RcsBotRegistered>(result.outcome.events.front()).bot_id}});
}

Result ChannelRoutes::list_bots(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, {kd::Role::admin, kd::Role::developer}));
  json bots = json::array();
  pipeline_.with_dashboard(ctx.param("d"), [&](const es::DashboardView& v) {
    for (auto& b : v.state.rcs_bots) bots.push_back({{"bot_id", b}});
  });
  return json_response(200, {{"bots", bots}});
}

Task<Result> ChannelRoutes::remove_bot(RequestContext& ctx) {
  KEYLEDGER_CO_AWAIT_CHECK(command, commands_.run(ctx, ctx.param("d"), kd::RemoveRcsBot{ctx.param("bot_id")}));
  co_return no_content();
}

}  // namespace keyledger::api
