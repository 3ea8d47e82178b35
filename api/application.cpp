#include "application.hpp"

#include <chrono>
#include <future>
#include <iostream>

#include "crypto/crypto.hpp"
#include "eventstore/json_writer.hpp"
#include "positions.hpp"
#include "usecases/key_usage.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;

namespace {

const std::string kVerifyRoute = "POST /v1/verify";
// How long a read waits for the fold of a write it names in Keyledger-Min-Position.
constexpr std::chrono::milliseconds kMinPositionWait{1000};

kd::Timestamp wall_clock_now() {
  return kd::Timestamp{
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())};
}

// Requests that may wait on the log are counted while they are handled (/metrics).
class WaitingRequest {
 public:
  WaitingRequest(Metrics& metrics, bool waits) : metrics_(waits ? &metrics : nullptr) {
    if (metrics_) metrics_->begin_waiting_request();
  }
  ~WaitingRequest() {
    if (metrics_) metrics_->end_waiting_request();
  }
  WaitingRequest(const WaitingRequest&) = delete;
  WaitingRequest& operator=(const WaitingRequest&) = delete;

 private:
  Metrics* metrics_;
};

// The request's log line, written as it goes (one per command: no DOM for it), with the
// members in the order nlohmann::json gives them elsewhere in the log.
std::string access_line(std::string_view request_id, std::string_view route, int status, double seconds) {
  std::string line;
  line.reserve(160);
  eventstore::json_writer::Writer out(line);
  out.begin_object();
  out.key("latency_ms");
  out.number(seconds * 1000.0);
  out.key("level");
  out.string("info");
  out.key("msg");
  out.string("request");
  out.key("request_id");
  out.string(request_id);
  out.key("route");
  out.string(route);
  out.key("status");
  out.integer(status);
  out.end_object();
  line += '\n';
  return line;
}

}  // namespace

Application::Application(ServeConfig config, eventstore::EventLog& log, eventstore::CommandPipeline& pipeline,
                         eventstore::SecretVault& vault, eventstore::Keyring& keyring)
    : config_(std::move(config)),
      log_(log),
      pipeline_(pipeline),
      sessions_(keyring.store_keys().session_signing_key),
      read_models_(keyring.store_keys().fingerprint_pepper),
      forwarder_(config_.cluster_token, log_, pipeline_, metrics_),
      applied_waits_(pipeline_, log_),
      freshness_(log_, pipeline_, config_.max_staleness),
      access_(config_, sessions_, pipeline_),
      commands_(pipeline_, access_, metrics_, keyring.store_keys().idempotency_key),
      secrets_(vault, pipeline_, log_, read_models_.audit_index),
      checkpoints_(pipeline_, log_, read_models_, keyring.store_keys().checkpoint_signing_seed),
      states_(pipeline_, log_, read_models_.audit_index),
      dashboard_routes_(access_, commands_, pipeline_, states_, vault, sessions_, config_.session_ttl),
      key_routes_(access_, commands_, secrets_, pipeline_, states_),
      channel_routes_(access_, commands_, secrets_, pipeline_, states_, forwarder_, applied_waits_),
      verify_routes_(access_, commands_, secrets_, read_models_.verify_index, freshness_, pipeline_, metrics_, forwarder_),
      audit_routes_(access_, commands_, pipeline_, states_, log_, read_models_, checkpoints_, config_.rotation_age_days),
      event_routes_(access_, log_, read_models_.audit_index, config_.sse_heartbeat),
      rotation_(keyring, pipeline_),
      master_key_routes_(access_, commands_, keyring, rotation_, log_, pipeline_, forwarder_),
      backup_routes_(access_, log_, pipeline_, keyring, config_.store),
      operations_routes_(ready_, pipeline_, log_, metrics_),
      cluster_routes_(pipeline_, applied_waits_),
      verify_endpoint_(config_.service_token, read_models_.verify_index, freshness_, metrics_) {
  dashboard_routes_.add_to(router_);
  key_routes_.add_to(router_);
  channel_routes_.add_to(router_);
  verify_routes_.add_to(router_);
  audit_routes_.add_to(router_);
  event_routes_.add_to(router_);
  master_key_routes_.add_to(router_);
  backup_routes_.add_to(router_);
  operations_routes_.add_to(router_);
  cluster_routes_.add_to(router_);
  add_console_routes(router_);
  read_models_.attach(pipeline_);
  rotation_.watch([](const std::string& why) {
    std::cerr << json{{"level", "warn"}, {"msg", "master key superseded"}, {"detail", why}}.dump() + "\n";
  });
}

void Application::start() {
  read_models_.serve(pipeline_);
  ready_.store(true);
}

bool Application::answers_without_waiting(const HttpRequest& request) {
  const std::string path = request.path();
  return path == "/v1/verify" || path == "/healthz" || path == "/readyz" || path == "/metrics" ||
         path == "/openapi.json";
}

HttpResponse Application::handle(const HttpRequest& request) {
  std::promise<HttpResponse> answered;
  auto response = answered.get_future();
  handle(std::make_shared<const HttpRequest>(request), [&answered](HttpResponse r) { answered.set_value(std::move(r)); });
  return response.get();
}

void Application::handle(std::shared_ptr<const HttpRequest> request, std::move_only_function<void(HttpResponse)> done) {
  start_detached(respond(std::move(request)), std::move(done));
}

void Application::set_executor(eventstore::CommandPipeline::Post post) {
  forwarder_.set_executor(post);
  applied_waits_.set_executor(post);
  cluster_routes_.set_executor(post);
  commands_.set_executor(std::move(post));
}

void Application::advertise(const std::string& url) {
  forwarder_.set_self(url);
  log_.advertise(url);
}

std::optional<std::uint32_t> Application::deciding_partition(const RequestContext& ctx, const Router::Route& route) const {
  // Reads are answered here; a GET whose handler waits on the log runs a command like any
  // other (the SMS key's view records its disclosure) and is decided by the owner.
  if (route.method == "GET" && !route.waiting_handler) return std::nullopt;
  // A dashboard not (yet) known here goes to where its id places it: its owner knows.
  if (ctx.params.contains("d")) return pipeline_.placement_of(ctx.params.at("d"));
  if (route.pattern == "/v1/sessions") {
    auto body = nlohmann::json::parse(ctx.request.body, nullptr, false);
    if (body.is_object() && body.contains("dashboard_id") && body["dashboard_id"].is_string()) {
      return pipeline_.placement_of(body["dashboard_id"].get<std::string>());
    }
    return std::nullopt;  // the handler answers the malformed body
  }
  // One Idempotency-Key, one place that decides it: the key's partition, where the dashboard
  // is then created (DashboardRoutes), so a retry through any process finds the first answer.
  if (route.pattern == "/v1/dashboards") {
    if (const std::string key = ctx.request.header("idempotency-key"); !key.empty()) return log_.partition_for(key);
    // Otherwise it is placed in a partition this process decides. One that decides none (more
    // processes than partitions, one still joining, one that cannot use the master key any
    // more) sends it on to the owners of the partitions in turn.
    const std::uint32_t partitions = log_.partitions();
    for (std::uint32_t p = 0; p < partitions; ++p) {
      if (log_.writable(p)) return std::nullopt;
    }
    return creations_sent_on_.fetch_add(1, std::memory_order_relaxed) % partitions;
  }
  return std::nullopt;
}

// The route's answer, or the problem that stopped the request before its handler.
Task<Result> Application::answer(RequestContext& ctx, std::string& route_name) {
  KEYLEDGER_CO_TRY(match, router_.match(ctx.request.method, ctx.request.path()));
  route_name = match.route->method + " " + match.route->pattern;
  ctx.params = std::move(match.params);
  KEYLEDGER_CO_TRY(from_peer, forwarder_.from_peer(ctx));
  ctx.from_peer = from_peer;
  KEYLEDGER_CO_TRY(principal, access_.authenticate(ctx.request));
  ctx.principal = std::move(principal);
  // Checked before anything is sent on or prepared: the key goes into the events as it is.
  if (const auto it = ctx.request.headers.find("idempotency-key");
      it != ctx.request.headers.end() && !it->second.empty() && !printable_token(it->second, kMaxIdempotencyKeyLength)) {
    co_return std::unexpected(invalid_request(
        "Idempotency-Key", "Idempotency-Key must be 1 to 255 characters of printable ASCII"));
  }
  // A read after a write, perhaps one another process answered: wait for it (SPEC §10).
  if (ctx.request.method == "GET") {
    if (const std::string min_position = ctx.request.header("keyledger-min-position"); !min_position.empty()) {
      KEYLEDGER_CO_TRY(wanted, parse_min_position(min_position, log_.partitions()));
      Completion<Expected<void>> applied([&](Completion<Expected<void>>::Callback done) {
        applied_waits_.wait(std::move(wanted), kMinPositionWait, std::move(done));
      });
      Expected<void> waited = co_await applied;  // named: see KEYLEDGER_CO_AWAIT_TRY
      if (!waited) co_return std::unexpected(waited.error());
    }
  }
  // A session belongs to one dashboard: any route of another is refused before anything
  // else is looked at, so nothing about the other dashboard leaks and nothing is recorded.
  if (ctx.principal.kind == Principal::Kind::user && ctx.params.contains("d") &&
      ctx.params.at("d") != ctx.principal.dashboard_id) {
    co_return std::unexpected(forbidden("this session belongs to another dashboard"));
  }
  // Only the owner of a partition decides its commands (SPEC §10): another process sends
  // the request on to it (one hop), before its handler seals a secret or checks a password.
  if (auto partition = deciding_partition(ctx, *match.route); partition && !log_.writable(*partition)) {
    if (ctx.from_peer || !forwarder_.enabled()) co_return std::unexpected(not_owner());
    auto forwarded = forwarder_.forward(ctx, *partition);  // named: see KEYLEDGER_CO_AWAIT_TRY
    Expected<std::optional<HttpResponse>> owners_answer = co_await forwarded;
    if (!owners_answer) co_return std::unexpected(owners_answer.error());
    if (*owners_answer) co_return std::move(**owners_answer);
    // This process owns the partition now: decided here.
  }
  if (match.route->handler) co_return match.route->handler(ctx);
  auto handled = match.route->waiting_handler(ctx);  // named: see KEYLEDGER_CO_AWAIT_TRY
  Result result = co_await handled;
  co_return result;
}

Task<HttpResponse> Application::respond(std::shared_ptr<const HttpRequest> request_ptr) {
  const HttpRequest& request = *request_ptr;
  const auto started = std::chrono::steady_clock::now();
  WaitingRequest waiting(metrics_, !answers_without_waiting(request));
  std::string request_id = request.header("x-request-id");
  if (!printable_token(request_id, kMaxRequestIdLength)) request_id = crypto::uuid_v7(wall_clock_now().time_since_epoch().count());
  RequestContext ctx(request, request_id);
  std::string route_name = "unmatched";
  HttpResponse response;
  bool failed = false;
  try {
    auto answered = answer(ctx, route_name);  // named: see KEYLEDGER_CO_AWAIT_TRY
    Result result = co_await answered;
    response = result ? std::move(*result) : problem_response(result.error());
  } catch (const std::exception& e) {
    // A bug, not a refusal: refusals are values.
    std::cerr << json{{"level", "error"}, {"msg", "request failed"}, {"request_id", request_id}, {"route", route_name},
                      {"error", e.what()}}.dump() +
                     "\n";
    failed = true;
  }
  if (failed) response = problem_response({500, "internal_error", "the request failed; see the server log", "", {}});
  response.headers.emplace_back("X-Request-Id", request_id);
  if (!ctx.written.empty()) response.headers.emplace_back("Keyledger-Position", position_header(ctx.written));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.record_request(route_name, response.status, seconds);
  // One line per request; never a body, a token or a secret. Answered verifications are the
  // exception: sending services make one per message, so they are counted in /metrics
  // (keyledger_verify_total by result) instead of logged one by one.
  if (route_name == kVerifyRoute && response.status == 200) co_return response;
  std::cerr << access_line(request_id, route_name, response.status, seconds);
  co_return response;
}

void Application::sign_due_checkpoints() {
  checkpoints_.sign_due([](const std::string& dashboard, const std::string& why) {
    std::cerr << json{{"level", "warn"}, {"msg", "checkpoint not signed"}, {"dashboard_id", dashboard}, {"error", why}}
                         .dump() +
                     "\n";
  });
}

void Application::record_key_usage() {
  usecases::SendUsage send_elsewhere;
  if (forwarder_.enabled()) {
    send_elsewhere = [this](const std::string& dashboard, const domain::RecordKeyUsage& usage) {
      return forwarder_.send_usage(pipeline_.placement_of(dashboard), dashboard, usage);
    };
  }
  usecases::record_key_usage(
      pipeline_, read_models_.verify_index,
      [](const std::string& dashboard, const std::string& why) {
        std::cerr << json{{"level", "warn"}, {"msg", "key usage not recorded"}, {"dashboard_id", dashboard}, {"error", why}}
                             .dump() +
                         "\n";
      },
      send_elsewhere);
  metrics_.record_usage_interval();  // after the run: a reader of the counter sees its events
}

}  // namespace keyledger::api
