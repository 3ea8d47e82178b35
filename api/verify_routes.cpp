// The sending services' routes: verify (the hot path: no log write, no lock but the index's
// shared one) and leak reports from secret scanners.
#include "application.hpp"
#include "domain/key_format.hpp"
#include "request_fields.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;
namespace pj = keyledger::projections;

HttpResponse Application::verify(RequestContext& ctx) {
  require_principal(ctx, Principal::Kind::service);
  const json& body = ctx.body();
  std::string key = required_string(body, "key");
  std::string source_ip = required_string(body, "source_ip");
  auto ip = kd::parse_ip_address(source_ip);
  if (!ip) throw ApiError{400, "invalid_request", "source_ip " + ip.error(), "source_ip", {}};
  auto permission = optional_string(body, "permission");
  auto number = optional_string(body, "number");
  auto bot_id = optional_string(body, "bot_id");
  pj::VerifyResult result = read_models_.verify_index.verify({key, *ip, permission, number, bot_id}, pipeline_.now());
  metrics_.record_verify(result.reason);
  if (result.reason != pj::VerifyReason::valid) {
    return json_response(200, {{"valid", false}, {"reason", pj::to_string(result.reason)}});
  }
  return json_response(200, {{"valid", true},
                             {"dashboard_id", result.dashboard_id},
                             {"channel", kd::to_string(result.channel)},
                             {"key_id", result.key_id}});
}

HttpResponse Application::report_leaks(RequestContext& ctx) {
  require_principal(ctx, Principal::Kind::service);
  ctx.honours_idempotency_key = false;  // each report is its own command; a repeat finds keys already revoked
  json reports = json::parse(ctx.request.body, nullptr, false);
  if (reports.is_discarded() || !reports.is_array()) {
    throw ApiError{400, "invalid_request", "the body must be an array of {token, type, url, source}", "body", {}};
  }
  if (reports.size() > 1000) throw ApiError{400, "invalid_request", "at most 1000 reports per request", "body", {}};
  json answers = json::array();
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const json& report = reports[i];
    std::string field = "[" + std::to_string(i) + "]";
    if (!report.is_object()) throw ApiError{400, "invalid_request", field + " must be an object", field, {}};
    std::string token = required_string(report, "token");
    std::string url = optional_string(report, "url").value_or("");
    std::string source = optional_string(report, "source").value_or("");
    std::string type = optional_string(report, "type").value_or("");
    json answer{{"token_type", type}, {"url", url}, {"masked", kd::mask_key(token)}, {"label", "false_positive"}};
    if (auto located = read_models_.verify_index.locate(token)) {
      kd::ReportKeyLeak leak{located->key_id, url, source, std::nullopt};
      if (located->channel == kd::Channel::sms) {
        leak.replacement = issue_secret(kd::Channel::sms, located->dashboard_id, located->key_id);
      }
      auto result = run(ctx, located->dashboard_id, std::move(leak));
      throw_if_refused(ctx, result);
      const auto& reported = std::get<kd::KeyLeakReported>(result.outcome.events.front());
      answer["label"] = "true_positive";
      answer["action"] = kd::to_string(reported.response);
    }
    answers.push_back(std::move(answer));
  }
  return json_response(200, answers);
}

}  // namespace keyledger::api
