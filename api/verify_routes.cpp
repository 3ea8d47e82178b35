#include "verify_routes.hpp"

#include "domain/key_format.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace pj = keyledger::projections;

void VerifyRoutes::add_to(Router& router) {
  router.add("POST", "/v1/verify", [this](RequestContext& c) { return verify(c); });
  router.add("POST", "/v1/leaks", [this](RequestContext& c) { return report_leaks(c); });
}

Result VerifyRoutes::verify(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::service));
  Fields body = ctx.fields();
  const std::string key = body.required_string("key");
  const std::string source_ip = body.required_string("source_ip");
  auto permission = body.optional_string("permission");
  auto number = body.optional_string("number");
  auto bot_id = body.optional_string("bot_id");
  if (!body.ok()) return body.error();
  auto ip = kd::parse_ip_address(source_ip);
  if (!ip) return std::unexpected(invalid_request("source_ip", "source_ip " + ip.error()));
  const pj::VerifyResult result = index_.verify({key, *ip, permission, number, bot_id}, pipeline_.now());
  if (auto staleness = freshness_.stale(result.dashboard_id)) {
    metrics_.record_stale_verify();
    return std::unexpected(ReplicaFreshness::stale_error(*staleness));
  }
  metrics_.record_verify(result.reason);
  if (result.reason != pj::VerifyReason::valid) {
    return json_response(200, {{"valid", false}, {"reason", pj::to_string(result.reason)}});
  }
  return json_response(200, {{"valid", true},
                             {"dashboard_id", result.dashboard_id},
                             {"channel", kd::to_string(result.channel)},
                             {"key_id", result.key_id}});
}

Task<Result> VerifyRoutes::report_leaks(RequestContext& ctx) {
  KEYLEDGER_CO_CHECK(access_.require_principal(ctx, Principal::Kind::service));
  ctx.honours_idempotency_key = false;  // each report is its own command; a repeat finds keys already revoked
  const json reports = json::parse(ctx.request.body, nullptr, false);
  if (reports.is_discarded() || !reports.is_array()) {
    co_return std::unexpected(invalid_request("body", "the body must be an array of {token, type, url, source}"));
  }
  if (reports.size() > 1000) co_return std::unexpected(invalid_request("body", "at most 1000 reports per request"));
  json answers = json::array();
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const json& report = reports[i];
    const std::string field = "[" + std::to_string(i) + "]";
    if (!report.is_object()) co_return std::unexpected(invalid_request(field, field + " must be an object"));
    Fields fields(report);
    const std::string token = fields.required_string("token");
    const std::string url = fields.optional_string("url").value_or("");
    const std::string source = fields.optional_string("source").value_or("");
    const std::string type = fields.optional_string("type").value_or("");
    if (!fields.ok()) co_return fields.error();
    json answer{{"token_type", type}, {"url", url}, {"masked", kd::mask_key(token)}, {"label", "false_positive"}};
    auto located = index_.locate(token);
    // A token of a dashboard another process of the cluster owns: that report alone goes
    // to the owner, and its answer takes the token's place (SPEC §10: answered per token).
    if (located && !ctx.from_peer && forwarder_.enabled() && !pipeline_.decides_for(located->dashboard_id)) {
      auto forwarded = forwarder_.forward(ctx, pipeline_.placement_of(located->dashboard_id), json::array({report}).dump());  // named: see KEYLEDGER_CO_AWAIT_TRY
      Expected<std::optional<HttpResponse>> owners_answer = co_await forwarded;
      if (!owners_answer) co_return std::unexpected(owners_answer.error());
      if (*owners_answer) {
        const json owners = json::parse((*owners_answer)->body, nullptr, false);
        if ((*owners_answer)->status != 200 || !owners.is_array() || owners.size() != 1) co_return std::move(**owners_answer);
        answers.push_back(owners[0]);
        continue;
      }
      // This process owns the dashboard's partition now: decided here.
    }
    if (located) {
      kd::ReportKeyLeak leak{located->key_id, url, source, std::nullopt};
      if (located->channel == kd::Channel::sms) {
        KEYLEDGER_CO_TRY(replacement, secrets_.issue(kd::Channel::sms, located->dashboard_id, located->key_id));
        leak.replacement = replacement.sealed;
      }
      KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, located->dashboard_id, std::move(leak)));
      const auto& reported = std::get<kd::KeyLeakReported>(result.outcome.events.front());
      answer["label"] = "true_positive";
      answer["action"] = kd::to_string(reported.response);
    }
    answers.push_back(std::move(answer));
  }
  co_return json_response(200, answers);
}

}  // namespace keyledger::api
