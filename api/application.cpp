#include "application.hpp"

#include "domain/validation.hpp"

#include <chrono>
#include <iostream>

#include "crypto/crypto.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/rfc3339.hpp"
#include "eventstore/store_error.hpp"
#include "openapi_document.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

// Matches a route's pattern, split into segments once ("/a/{x}/b" -> a, {x}, b), against a
// request path's segments, filling the parameters.
bool match(const std::vector<std::string_view>& want, const std::vector<std::string_view>& got,
           std::map<std::string, std::string>& params) {
  if (want.size() != got.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!want[i].starts_with("{") && want[i] != got[i]) return false;
    if (want[i].starts_with("{") && got[i].empty()) return false;
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].starts_with("{")) params[std::string(want[i].substr(1, want[i].size() - 2))] = percent_decode(got[i]);
  }
  return true;
}

std::map<std::string, std::string> parse_query(std::string_view target) {
  std::map<std::string, std::string> query;
  auto q = target.find('?');
  if (q == std::string_view::npos) return query;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    std::string value = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    for (auto& c : value) c = c == '+' ? ' ' : c;
    query[percent_decode(pair.substr(0, eq))] = percent_decode(value);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return query;
}

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

std::string title_of(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

kd::Timestamp wall_clock_now() {
  return kd::Timestamp{std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch())};
}

}  // namespace

HttpResponse problem_response(const ApiError& error) {
  json body{{"type", "https://keyledger.dev/problems/" + error.code},
            {"title", title_of(error.status)},
            {"status", error.status},
            {"detail", error.detail},
            {"code", error.code}};
  if (!error.field.empty()) body["field"] = error.field;
  HttpResponse r{error.status, "application/problem+json", body.dump(-1, ' ', false, json::error_handler_t::replace),
                 error.headers, {}};
  return r;
}

// Invalid UTF-8 (which a handler could only have cut out of a caller's text) is replaced, not
// thrown on: an answer is always sent.
HttpResponse json_response(int status, const json& body) {
  return HttpResponse{status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace), {}, {}};
}

const json& RequestContext::body() const {
  if (!parsed_body) {
    json j = json::parse(request.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      throw ApiError{400, "invalid_request", "the request body must be a JSON object", "body", {}};
    }
    parsed_body = std::move(j);
  }
  return *parsed_body;
}

Application::Application(ServeConfig config, es::EventLog& log, es::CommandPipeline& pipeline, es::SecretVault& vault,
                         const es::MasterKey& master_key)
    : config_(std::move(config)),
      log_(log),
      pipeline_(pipeline),
      vault_(vault),
      checkpoint_seed_(master_key.checkpoint_signing_seed()),
      sessions_(crypto::hkdf_sha256(master_key.bytes, "keyledger", "session token signing key v1", 32)),
      read_models_(master_key.fingerprint_pepper()),
      idempotency_digest_key_(crypto::hkdf_sha256(master_key.bytes, "keyledger", "idempotency request digest v1", 32)),
      verify_endpoint_(config_.service_token, read_models_.verify_index, metrics_) {
  read_models_.attach(pipeline_);
}

void Application::start() {
  read_models_.serve(pipeline_);
  ready_.store(true);
}

const std::vector<Application::Route>& Application::routes() {
  static const std::vector<Route> table{
      {"POST", "/v1/dashboards", &Application::create_dashboard},
      {"GET", "/v1/dashboards/{d}", &Application::get_dashboard},
      {"DELETE", "/v1/dashboards/{d}", &Application::close_dashboard},
      {"POST", "/v1/sessions", &Application::create_session},
      {"POST", "/v1/dashboards/{d}/users", &Application::add_user},
      {"GET", "/v1/dashboards/{d}/users", &Application::list_users},
      {"DELETE", "/v1/dashboards/{d}/users/{email}", &Application::remove_user},
      {"POST", "/v1/dashboards/{d}/email/keys", &Application::generate_email_key},
      {"GET", "/v1/dashboards/{d}/email/keys", &Application::list_email_keys},
      {"GET", "/v1/dashboards/{d}/email/keys/{id}", &Application::get_email_key},
      {"PATCH", "/v1/dashboards/{d}/email/keys/{id}", &Application::change_email_key},
      {"POST", "/v1/dashboards/{d}/email/keys/{id}/rotate", &Application::rotate_email_key},
      {"POST", "/v1/dashboards/{d}/email/keys/{id}/reveal", &Application::reveal_email_key},
      {"DELETE", "/v1/dashboards/{d}/email/keys/{id}", &Application::revoke_email_key},
      {"POST", "/v1/dashboards/{d}/whatsapp/keys", &Application::generate_whatsapp_key},
      {"GET", "/v1/dashboards/{d}/whatsapp/keys", &Application::list_whatsapp_keys},
      {"GET", "/v1/dashboards/{d}/whatsapp/keys/{id}", &Application::get_whatsapp_key},
      {"POST", "/v1/dashboards/{d}/whatsapp/keys/{id}/reveal", &Application::reveal_whatsapp_key},
      {"POST", "/v1/dashboards/{d}/whatsapp/keys/{id}/rotate", &Application::rotate_whatsapp_key},
      {"DELETE", "/v1/dashboards/{d}/whatsapp/keys/{id}", &Application::revoke_whatsapp_key},
      {"POST", "/v1/dashboards/{d}/sms/numbers", &Application::register_number},
      {"GET", "/v1/dashboards/{d}/sms/numbers", &Application::list_numbers},
      {"GET", "/v1/dashboards/{d}/sms/numbers/{number}", &Application::get_number},
      {"GET", "/v1/dashboards/{d}/sms/numbers/{number}/key", &Application::view_sms_key},
      {"POST", "/v1/dashboards/{d}/sms/numbers/{number}/key/rotate", &Application::rotate_sms_key},
      {"DELETE", "/v1/dashboards/{d}/sms/numbers/{number}", &Application::deregister_number},
      {"POST", "/v1/dashboards/{d}/sms/keys", &Application::generate_sms_key},
      {"GET", "/v1/dashboards/{d}/rcs/key", &Application::get_rcs_key},
      {"POST", "/v1/dashboards/{d}/rcs/key/reveal", &Application::reveal_rcs_key},
      {"POST", "/v1/dashboards/{d}/rcs/keys", &Application::generate_rcs_key},
      {"POST", "/v1/dashboards/{d}/rcs/key/rotate", &Application::rotate_rcs_key},
      {"DELETE", "/v1/dashboards/{d}/rcs/key", &Application::revoke_rcs_key},
      {"POST", "/v1/dashboards/{d}/rcs/key/reissue", &Application::reissue_rcs_key},
      {"POST", "/v1/dashboards/{d}/rcs/bots", &Application::register_bot},
      {"GET", "/v1/dashboards/{d}/rcs/bots", &Application::list_bots},
      {"DELETE", "/v1/dashboards/{d}/rcs/bots/{bot_id}", &Application::remove_bot},
      {"POST", "/v1/verify", &Application::verify},
      {"POST", "/v1/leaks", &Application::report_leaks},
      {"GET", "/v1/dashboards/{d}/audit", &Application::list_audit},
      {"GET", "/v1/dashboards/{d}/audit/export", &Application::export_audit},
      {"GET", "/v1/dashboards/{d}/audit/verify", &Application::verify_audit},
      {"GET", "/v1/dashboards/{d}/compliance", &Application::compliance},
      {"POST", "/v1/dashboards/{d}/audit/checkpoints", &Application::sign_checkpoint},
      {"GET", "/v1/dashboards/{d}/audit/checkpoints/latest", &Application::latest_checkpoint},
      {"GET", "/v1/audit/public-key", &Application::checkpoint_public_key},
      {"GET", "/v1/projections", &Application::list_projections},
      {"GET", "/healthz", &Application::healthz},
      {"GET", "/readyz", &Application::readyz},
      {"GET", "/metrics", &Application::get_metrics},
      {"GET", "/openapi.json", &Application::openapi},
  };
  return table;
}

bool Application::answers_without_waiting(const HttpRequest& request) {
  std::string path = request.path();
  return path == "/v1/verify" || path == "/healthz" || path == "/readyz" || path == "/metrics" ||
         path == "/openapi.json";
}

namespace {
const std::string kVerifyRoute = "POST /v1/verify";
}  // namespace

HttpResponse Application::handle(const HttpRequest& request) {
  auto started = std::chrono::steady_clock::now();
  // Requests that may wait on the log are counted while they are handled (/metrics).
  struct Waiting {
    Metrics* metrics = nullptr;
    ~Waiting() {
      if (metrics) metrics->end_waiting_request();
    }
  } waiting;
  if (!answers_without_waiting(request)) {
    metrics_.begin_waiting_request();
    waiting.metrics = &metrics_;
  }
  std::string request_id = request.header("x-request-id");
  if (request_id.empty() || request_id.size() > 128) request_id = crypto::uuid_v7(wall_clock_now().time_since_epoch().count());
  RequestContext ctx{request, {}, parse_query(request.target), {}, request_id, true, std::nullopt};
  std::string route_name = "unmatched";
  HttpResponse response;
  try {
    static const std::vector<std::vector<std::string_view>> patterns = [] {
      std::vector<std::vector<std::string_view>> split;
      for (const auto& r : routes()) split.push_back(segments(r.pattern));
      return split;
    }();
    const Route* route = nullptr;
    std::vector<std::string> allowed;
    const std::string path = request.path();
    const auto got = segments(path);
    for (std::size_t i = 0; i < routes().size(); ++i) {
      const Route& r = routes()[i];
      std::map<std::string, std::string> params;
      if (!match(patterns[i], got, params)) continue;
      if (r.method == request.method) {
        route = &r;
        ctx.params = std::move(params);
        break;
      }
      allowed.push_back(r.method);
    }
    if (!route) {
      if (!allowed.empty()) {
        std::string allow;
        for (auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
        throw ApiError{405, "method_not_allowed", request.method + " is not allowed here", "", {{"Allow", allow}}};
      }
      throw ApiError{404, "not_found", "no route for " + request.method + " " + request.path(), "", {}};
    }
    route_name = route->method + " " + route->pattern;
    ctx.principal = authenticate(request);
    // A session belongs to one dashboard: any route of another is refused before anything
    // else is looked at, so nothing about the other dashboard leaks and nothing is recorded.
    if (ctx.principal.kind == Principal::Kind::user && ctx.params.contains("d") &&
        ctx.params.at("d") != ctx.principal.dashboard_id) {
      throw ApiError{403, "forbidden", "this session belongs to another dashboard", "", {}};
    }
    response = (this->*(route->handler))(ctx);
  } catch (const ApiError& error) {
    response = problem_response(error);
  } catch (const std::exception& e) {
    std::cerr << json{{"level", "error"}, {"msg", "request failed"}, {"request_id", request_id}, {"route", route_name},
                      {"error", e.what()}}.dump()
              << std::endl;
    response = problem_response({500, "internal_error", "the request failed; see the server log", "", {}});
  }
  response.headers.emplace_back("X-Request-Id", request_id);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.record_request(route_name, response.status, seconds);
  // One line per request; never a body, a token or a secret. Answered verifications are the
  // exception: sending services make one per message, so they are counted in /metrics
  // (keyledger_verify_total by result) instead of logged one by one.
  if (route_name == kVerifyRoute && response.status == 200) return response;
  std::cerr << json{{"level", "info"},    {"msg", "request"},         {"request_id", request_id},
                    {"route", route_name}, {"status", response.status}, {"latency_ms", seconds * 1000.0}}
                       .dump() +
                   "\n";
  return response;
}

Principal Application::authenticate(const HttpRequest& request) const {
  std::string header = request.header("authorization");
  if (!header.starts_with("Bearer ")) return {};
  std::string token = header.substr(7);
  if (!config_.operator_token.empty() && crypto::constant_time_equal(token, config_.operator_token)) {
    return {Principal::Kind::platform_operator, "", ""};
  }
  if (!config_.service_token.empty() && crypto::constant_time_equal(token, config_.service_token)) {
    return {Principal::Kind::service, "", ""};
  }
  if (auto claims = sessions_.check(token, pipeline_.now())) {
    return {Principal::Kind::user, claims->dashboard_id, claims->email};
  }
  throw ApiError{401, "unauthenticated", "the bearer token is not valid or has expired", "", {}};
}

void Application::require_principal(const RequestContext& ctx, Principal::Kind kind) const {
  if (ctx.principal.kind == Principal::Kind::anonymous) {
    throw ApiError{401, "unauthenticated", "this route needs a bearer token", "", {}};
  }
  if (ctx.principal.kind != kind) throw ApiError{403, "forbidden", "this token may not use this route", "", {}};
}

kd::Role Application::require_member(const RequestContext& ctx, std::initializer_list<kd::Role> roles) const {
  require_principal(ctx, Principal::Kind::user);
  const std::string& dashboard = ctx.params.at("d");
  if (ctx.principal.dashboard_id != dashboard) {
    throw ApiError{403, "forbidden", "this session belongs to another dashboard", "", {}};
  }
  std::optional<kd::Role> role;
  pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
    if (const kd::User* user = v.state.user(ctx.principal.email); user && !v.state.closed) role = user->role;
  });
  if (!role) throw ApiError{401, "unauthenticated", "the session's user no longer exists", "", {}};
  for (auto r : roles) {
    if (r == *role) return *role;
  }
  throw ApiError{403, "forbidden", "the " + std::string(kd::to_string(*role)) + " role may not do this", "", {}};
}

kd::Actor Application::actor_of(const RequestContext& ctx) const {
  const std::string& ip = ctx.request.remote_ip;
  switch (ctx.principal.kind) {
    case Principal::Kind::platform_operator: return {kd::ActorKind::platform_operator, "operator", ip};
    case Principal::Kind::service: return {kd::ActorKind::service, "service", ip};
    case Principal::Kind::user: return {kd::ActorKind::user, ctx.principal.email, ip};
    case Principal::Kind::anonymous: break;
  }
  return {kd::ActorKind::user, ctx.principal.email, ip};  // a login attempt names its user
}

es::CommandResult Application::run(RequestContext& ctx, const std::string& dashboard_id, kd::Command command) {
  // A command on a dashboard needs the caller to belong to it (or be the operator/service);
  // its role is then judged by the decider, which also audits a refusal.
  if (ctx.principal.kind == Principal::Kind::anonymous && !std::holds_alternative<kd::LogIn>(command)) {
    throw ApiError{401, "unauthenticated", "this route needs a bearer token", "", {}};
  }
  if (ctx.principal.kind == Principal::Kind::user && ctx.principal.dashboard_id != dashboard_id) {
    throw ApiError{403, "forbidden", "this session belongs to another dashboard", "", {}};
  }
  std::string key = ctx.honours_idempotency_key ? ctx.request.header("idempotency-key") : "";
  if (key.size() > 255) throw ApiError{400, "invalid_request", "Idempotency-Key is longer than 255 characters", "Idempotency-Key", {}};
  std::string digest;
  if (!key.empty()) {
    // Keyed, so that the stored digest of a body holding a password cannot be checked
    // against guesses offline; and bound to the caller, so that nobody else replaying the
    // same request with the same key gets its answer (a generated secret, say).
    const kd::Actor actor = actor_of(ctx);
    auto mac = idempotency_digest_key_.mac(std::string(kd::to_string(actor.kind)) + "\n" + actor.id + "\n" +
                                           ctx.request.method + " " + ctx.request.path() + "\n" + ctx.request.body);
    digest = crypto::to_hex(std::string(mac.begin(), mac.end()));
  }
  std::string type(kd::denied_event_type(command));
  auto started = std::chrono::steady_clock::now();
  auto result = pipeline_.execute(dashboard_id, std::move(command), {actor_of(ctx), ctx.request_id, key, digest});
  if (!result.appended.empty() && !result.replayed) {
    metrics_.record_append(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  std::string outcome = result.log_error ? "log_unavailable"
                        : result.idempotency_conflict ? "idempotency_key_reused"
                        : result.outcome.rejection ? std::string(kd::to_string(result.outcome.rejection->code))
                                                   : "accepted";
  metrics_.record_command(type, outcome);
  return result;
}

void Application::throw_if_refused(const RequestContext& ctx, const es::CommandResult& result) {
  if (result.log_error) {
    std::cerr << json{{"level", "error"}, {"msg", "the event log refused a batch"}, {"request_id", ctx.request_id},
                      {"error", result.log_error.message()}}.dump()
              << std::endl;
    throw ApiError{503, "log_unavailable", "the event log cannot take writes right now; nothing was changed", "",
                   {{"Retry-After", "1"}}};
  }
  if (result.idempotency_conflict) {
    throw ApiError{422, "idempotency_key_reused", "this Idempotency-Key was used for a different request", "", {}};
  }
  if (!result.outcome.rejection) return;
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
  throw error;
}

bool Application::step_up_password_matches(const RequestContext& ctx) {
  const json& body = ctx.body();
  if (!body.contains("password") || !body["password"].is_string()) {
    throw ApiError{400, "invalid_request", "password is required to disclose a secret", "password", {}};
  }
  std::string hash;
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    if (const kd::User* u = v.state.user(ctx.principal.email)) hash = u->password_hash;
  });
  return !hash.empty() && es::verify_password(body["password"].get<std::string>(), hash);
}

kd::SealedSecret Application::issue_secret(kd::Channel channel, const std::string& dashboard_id,
                                          const std::string& key_id) {
  auto issued = vault_.issue(channel, dashboard_id, key_id);
  if (issued) return issued->sealed;
  bool open_dashboard = false;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) { open_dashboard = !v.state.closed; });
  if (open_dashboard) throw ApiError{503, "keyring_unavailable", "the keyring cannot seal a new secret right now", "", {}};
  return {};
}

std::string Application::open_secret(const std::string& dashboard_id, const std::string& key_id,
                                     const kd::SealedSecret& sealed) {
  auto plain = vault_.open(dashboard_id, key_id, sealed);
  if (!plain) {
    if (plain.error() == es::StoreErrc::data_key_destroyed) {
      throw ApiError{409, "dashboard_closed", "the dashboard was closed and its secrets destroyed", "", {}};
    }
    throw ApiError{503, "keyring_unavailable", "the secret cannot be decrypted right now", "", {}};
  }
  return *plain;
}

// The current secret's sealed bytes are in the event that recorded it: found by its
// sequence in the audit index, read back from the log and checked to be that key's.
json Application::key_with_secret(const std::string& dashboard_id, const std::string& key_id) {
  json out = key_json(dashboard_id, key_id);
  std::uint64_t sequence = 0;
  kd::Fingerprint fingerprint{};
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    const kd::ApiKey& key = v.state.keys.find(key_id)->second;
    sequence = key.secret_sequence;
    fingerprint = key.fingerprint;
  });
  std::optional<es::Envelope> recorded;
  if (auto entry = read_models_.audit_index.at(dashboard_id, sequence)) {
    if (auto decoded = es::decode_envelope(log_.read_one(es::LogPosition{entry->partition, entry->offset}))) {
      recorded = std::move(*decoded);
    }
  }
  const kd::SealedSecret* sealed = recorded ? kd::secret_of(recorded->recorded.event) : nullptr;
  if (!sealed || sealed->fingerprint != fingerprint) {
    throw ApiError{503, "log_unavailable", "the event holding this key's secret cannot be read right now", "", {}};
  }
  out["key"] = open_secret(dashboard_id, key_id, *sealed);
  return out;
}

ApiError problem_of(const usecases::Problem& problem) {
  switch (problem.kind) {
    case usecases::Problem::Kind::invalid_request:
      return ApiError{400, "invalid_request", problem.detail, problem.field, {}};
    case usecases::Problem::Kind::keyring_unavailable:
      return ApiError{503, "keyring_unavailable", problem.detail, "", {}};
  }
  return ApiError{500, "internal_error", "the request failed; see the server log", "", {}};
}

json Application::key_json(std::string_view key_id, const kd::ApiKey& key, kd::Timestamp now) const {
  json j{{"id", key_id},
         {"channel", kd::to_string(key.channel)},
         {"name", key.name},
         {"masked", key.masked()},
         {"status", kd::to_string(key.status_at(now))},
         {"created_at", es::format_rfc3339(key.created_at)},
         {"secret_issued_at", es::format_rfc3339(key.secret_issued_at)}};
  if (key.channel == kd::Channel::email) {
    j["permissions"] = kd::permission_names(key.permissions);
    j["ip_allowlist"] = key.ip_allowlist;
  }
  if (key.channel == kd::Channel::sms) j["number"] = key.name;
  if (key.has_previous && now < key.previous_valid_until) {
    j["previous_valid_until"] = es::format_rfc3339(key.previous_valid_until);
  }
  if (key.revoked) j["revoked_at"] = es::format_rfc3339(key.revoked_at);
  j["uses"] = key.uses;
  j["last_used_at"] = key.last_used_at ? json(es::format_rfc3339(*key.last_used_at)) : json(nullptr);
  return j;
}

json Application::key_json(const std::string& dashboard_id, const std::string& key_id) const {
  json j;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    if (auto it = v.state.keys.find(key_id); it != v.state.keys.end()) j = key_json(key_id, it->second, pipeline_.now());
  });
  return j;
}

HttpResponse Application::healthz(RequestContext&) { return json_response(200, {{"status", "ok"}}); }

HttpResponse Application::readyz(RequestContext&) {
  bool ready = ready_.load();
  return json_response(ready ? 200 : 503, {{"ready", ready}, {"log_position", pipeline_.events()}});
}

HttpResponse Application::get_metrics(RequestContext&) {
  auto stats = log_.stats();
  std::string text = metrics_.render();
  text += "# HELP keyledger_log_batches_total Batches (one per accepted command) the log made durable.\n";
  text += "# TYPE keyledger_log_batches_total counter\n";
  text += "keyledger_log_batches_total " + std::to_string(stats.batches) + "\n";
  text += "# HELP keyledger_log_syncs_total Durability points that covered them: fdatasync calls (file) or committed transactions (Kafka).\n";
  text += "# TYPE keyledger_log_syncs_total counter\n";
  text += "keyledger_log_syncs_total " + std::to_string(stats.syncs) + "\n";
  return HttpResponse{200, "text/plain; version=0.0.4", std::move(text), {}, {}};
}

HttpResponse Application::openapi(RequestContext&) {
  return HttpResponse{200, "application/json", std::string(openapi_document()), {}, {}};
}

}  // namespace keyledger::api
