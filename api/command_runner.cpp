#include "command_runner.hpp"

#include <chrono>
#include <iostream>

#include "eventstore/store_error.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

namespace {
int status_of(kd::RejectionCode code) {
  switch (code) {
    case kd::RejectionCode::invalid_request: return 400;
    case kd::RejectionCode::unauthenticated: return 401;
    case kd::RejectionCode::forbidden:
    case kd::RejectionCode::password_incorrect: return 403;
    case kd::RejectionCode::not_found: return 404;
    case kd::RejectionCode::too_many_attempts: return 429;
    default: return 409;
  }
}
}  // namespace

Task<Expected<es::CommandResult>> CommandRunner::run(RequestContext& ctx, const std::string& dashboard_id,
                                                     kd::Command command) {
  // A command on a dashboard needs the caller to belong to it (or be the operator/service);
  // its role is then judged by the decider, which also audits a refusal.
  if (ctx.principal.kind == Principal::Kind::anonymous && !std::holds_alternative<kd::LogIn>(command)) {
    co_return std::unexpected(unauthenticated("this route needs a bearer token"));
  }
  if (ctx.principal.kind == Principal::Kind::user && ctx.principal.dashboard_id != dashboard_id) {
    co_return std::unexpected(forbidden("this session belongs to another dashboard"));
  }
  const std::string key = ctx.honours_idempotency_key ? ctx.request.header("idempotency-key") : "";
  // Its form was checked with the request's (Application::answer).
  const kd::Actor actor = access_.actor_of(ctx);
  std::string digest;
  if (!key.empty()) {
    // Keyed, so that the stored digest of a body holding a password cannot be checked
    // against guesses offline; and bound to the caller, so that nobody else replaying the
    // same request with the same key gets its answer (a generated secret, say).
    auto mac = idempotency_digest_key_.mac(std::string(kd::to_string(actor.kind)) + "\n" + actor.id + "\n" +
                                           ctx.request.method + " " + ctx.request.path() + "\n" + ctx.request.body);
    digest = crypto::to_hex(std::string(mac.begin(), mac.end()));
  }
  const std::string type(kd::denied_event_type(command));
  const auto started = std::chrono::steady_clock::now();
  // Named, not a temporary inside the co_await: g++ 12 destroys such temporaries twice.
  Completion<es::CommandResult> execution([&](Completion<es::CommandResult>::Callback done) {
    pipeline_.execute(dashboard_id, std::move(command), {actor, ctx.request_id, key, digest}, post_, std::move(done));
  });
  es::CommandResult result = co_await execution;
  if (!result.appended.empty() && !result.replayed) {
    metrics_.record_append(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    // A refusal's audited event counts too: a read after it shows the refusal in the trail.
    if (!result.log_error) {
      const es::LogPosition last{result.first_position.partition, result.first_position.offset + result.appended.size() - 1};
      auto& furthest = ctx.written[last.partition];
      furthest = std::max(furthest, last.offset);
    }
  }
  const bool not_owner = result.log_error == es::StoreErrc::not_owner;
  const std::string outcome = not_owner                     ? "not_owner"
                              : !result.internal_error.empty() ? "internal_error"
                              : result.log_error            ? "log_unavailable"
                              : result.idempotency_conflict ? "idempotency_key_reused"
                              : result.idempotency_in_progress ? "idempotency_key_in_use"
                              : result.outcome.rejection    ? std::string(kd::to_string(result.outcome.rejection->code))
                                                            : "accepted";
  metrics_.record_command(type, outcome);
  co_return accepted(ctx, std::move(result));
}

Expected<es::CommandResult> CommandRunner::accepted(const RequestContext& ctx, es::CommandResult result) const {
  if (!result.internal_error.empty()) {
    std::cerr << json{{"level", "error"}, {"msg", "command failed"}, {"request_id", ctx.request_id},
                      {"error", result.internal_error}}.dump(-1, ' ', false, json::error_handler_t::replace) +
                     "\n";
    return std::unexpected(ApiError{500, "internal_error", "the command failed and changed nothing; see the server log", "", {}});
  }
  if (result.log_error == es::StoreErrc::not_owner) return std::unexpected(not_owner());
  if (result.log_error) {
    std::cerr << json{{"level", "error"}, {"msg", "the event log refused a batch"}, {"request_id", ctx.request_id},
                      {"error", result.log_error.message()}}.dump() +
                     "\n";
    return std::unexpected(ApiError{503, "log_unavailable", "the event log cannot take writes right now; nothing was changed",
                                    "", {{"Retry-After", "1"}}});
  }
  if (result.idempotency_in_progress) {
    return std::unexpected(ApiError{409, "idempotency_key_in_use",
                                    "a request with this Idempotency-Key is still being answered; retry it shortly to "
                                    "get its answer",
                                    "", {{"Retry-After", "1"}}});
  }
  if (result.idempotency_conflict) {
    return std::unexpected(
        ApiError{422, "idempotency_key_reused", "this Idempotency-Key was used for a different request", "", {}});
  }
  if (!result.outcome.rejection) return result;
  const auto& r = *result.outcome.rejection;
  ApiError error{status_of(r.code), std::string(kd::to_string(r.code)), r.detail, r.field, {}};
  if (r.code == kd::RejectionCode::too_many_attempts) {
    std::int64_t seconds = 900;
    pipeline_.with_dashboard(ctx.params.count("d") ? ctx.params.at("d") : "", [&](const es::DashboardView& v) {
      if (const kd::User* u = v.state.user(ctx.principal.email); u && u->locked_until) {
        seconds = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(*u->locked_until - pipeline_.now()).count());
      }
    });
    error.headers.emplace_back("Retry-After", std::to_string(seconds));
  }
  return std::unexpected(std::move(error));
}

}  // namespace keyledger::api
