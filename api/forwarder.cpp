#include "forwarder.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/crypto.hpp"

namespace keyledger::api {

using nlohmann::json;

namespace {

constexpr auto kOwnerWait = std::chrono::seconds(3);        // brief retries while no owner answers
constexpr auto kRetryPause = std::chrono::milliseconds(50);
constexpr auto kExchangeTimeout = std::chrono::seconds(15);  // an owner's command waits on the log up to 5 s
constexpr auto kApplyWait = std::chrono::milliseconds(5000);
constexpr unsigned kThreads = 16;  // owners waited on at once; more requests queue
// The request headers a handler reads (besides those the forwarder sets itself).
const char* const kForwardedHeaders[] = {"authorization", "content-type", "idempotency-key"};
// Answer headers that describe the owner's connection or that this process sets itself.
const char* const kOwnHeaders[] = {"content-length", "content-type", "connection", "keep-alive", "transfer-encoding",
                                   "server", "date", "x-request-id", "keyledger-position"};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool says_not_owner(const HttpAnswer& answer) {
  if (answer.status != 503) return false;
  auto body = json::parse(answer.body, nullptr, false);
  return body.is_object() && body.value("code", "") == "not_owner";
}

void warn(const std::string& msg, const std::string& request_id, const std::string& detail) {
  std::cerr << json{{"level", "warn"}, {"msg", msg}, {"request_id", request_id}, {"error", detail}}.dump() + "\n";
}

}  // namespace

// Awaits one relay on the forwarder's threads; the handler resumes through the executor.
class Forwarder::Exchange {
 public:
  Exchange(Forwarder& forwarder, const RequestContext& ctx, std::uint32_t partition, std::string body)
      : forwarder_(forwarder), ctx_(ctx), partition_(partition), body_(std::move(body)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> awaiter) {
    std::lock_guard lock(forwarder_.jobs_mutex_);
    forwarder_.jobs_.push_back([this, awaiter] {
      outcome_.emplace(forwarder_.relay(ctx_, partition_, body_));
      forwarder_.post_([awaiter] { awaiter.resume(); });
    });
    forwarder_.jobs_ready_.notify_one();
  }
  Outcome await_resume() { return std::move(*outcome_); }

 private:
  Forwarder& forwarder_;
  const RequestContext& ctx_;
  std::uint32_t partition_;
  std::string body_;
  std::optional<Outcome> outcome_;
};

Forwarder::Forwarder(std::string cluster_token, eventstore::EventLog& log, const eventstore::CommandPipeline& pipeline,
                     Metrics& metrics)
    : token_(std::move(cluster_token)), log_(log), pipeline_(pipeline), metrics_(metrics) {
  if (!enabled()) return;
  for (unsigned i = 0; i < kThreads; ++i) threads_.emplace_back([this] { run_jobs(); });
}

Forwarder::~Forwarder() {
  {
    std::lock_guard lock(jobs_mutex_);
    stopping_ = true;
  }
  jobs_ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void Forwarder::run_jobs() {
  while (true) {
    std::move_only_function<void()> job;
    {
      std::unique_lock lock(jobs_mutex_);
      jobs_ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

Expected<bool> Forwarder::from_peer(RequestContext& ctx) const {
  const std::string presented = ctx.request.header("keyledger-cluster-token");
  if (presented.empty()) return false;
  if (!enabled() || !crypto::constant_time_equal(presented, token_)) {
    return std::unexpected(unauthenticated("Keyledger-Cluster-Token is not this cluster's token"));
  }
  if (const std::string client = ctx.request.header("keyledger-forwarded-for"); !client.empty() && client.size() <= 64) {
    ctx.client_ip = client;
  }
  return true;
}

Task<Expected<std::optional<HttpResponse>>> Forwarder::forward(RequestContext& ctx, std::uint32_t partition,
                                                               std::optional<std::string> body) {
  Exchange exchange(*this, ctx, partition, body ? std::move(*body) : ctx.request.body);  // named: see KEYLEDGER_CO_AWAIT_TRY
  Outcome outcome = co_await exchange;
  for (const auto& [p, offset] : outcome.written) ctx.written[p] = std::max(ctx.written[p], offset);
  co_return std::move(outcome.answer);
}

Forwarder::Outcome Forwarder::relay(const RequestContext& ctx, std::uint32_t partition, const std::string& body) {
  HttpCall call;
  call.method = ctx.request.method;
  call.body = body;
  call.timeout = kExchangeTimeout;
  for (const char* name : kForwardedHeaders) {
    if (std::string value = ctx.request.header(name); !value.empty()) call.headers.emplace_back(name, std::move(value));
  }
  call.headers.emplace_back("X-Request-Id", ctx.request_id);
  call.headers.emplace_back("Keyledger-Cluster-Token", token_);
  call.headers.emplace_back("Keyledger-Forwarded-For", ctx.client_ip);

  const auto deadline = std::chrono::steady_clock::now() + kOwnerWait;
  std::string last_problem = "no process has published that it owns the partition";
  while (true) {
    if (log_.writable(partition)) return {std::optional<HttpResponse>{}, {}};
    const auto owner = log_.owner_url(partition);
    if (owner && *owner != self_) {
      call.url = *owner + ctx.request.target;
      auto answer = http_request(call);
      if (!answer && answer.error().request_sent) {
        metrics_.record_forward(Metrics::Forwarded::failed);
        warn("a forwarded command got no answer", ctx.request_id, answer.error().sentence);
        return {std::unexpected(ApiError{502, "forwarding_failed",
                                         "the process that owns the dashboard's partition took the command but did not "
                                         "answer; it may have been applied: retry with the same Idempotency-Key",
                                         "", {{"Retry-After", "1"}}}),
                {}};
      }
      if (answer && !says_not_owner(*answer)) return finish(ctx, std::move(*answer));
      last_problem = answer ? "the process at " + *owner + " no longer owns it" : answer.error().sentence;
    } else if (owner) {
      last_problem = "this process was its owner and is handing it over";
    }
    if (std::chrono::steady_clock::now() + kRetryPause > deadline) break;
    std::this_thread::sleep_for(kRetryPause);
  }
  metrics_.record_forward(Metrics::Forwarded::no_owner);
  warn("no owner took a forwarded command", ctx.request_id, last_problem);
  return {std::unexpected(not_owner()), {}};
}

Forwarder::Outcome Forwarder::finish(const RequestContext& ctx, HttpAnswer answer) {
  metrics_.record_forward(Metrics::Forwarded::answered);
  HttpResponse response;
  response.status = answer.status;
  response.body = std::move(answer.body);
  WrittenPositions written;
  for (auto& [name, value] : answer.headers) {
    if (iequals(name, "content-type")) response.content_type = value;
    if (iequals(name, "keyledger-position")) {
      if (auto parsed = parse_min_position(value, log_.partitions())) written = std::move(*parsed);
    }
    if (std::none_of(std::begin(kOwnHeaders), std::end(kOwnHeaders), [&](const char* own) { return iequals(name, own); })) {
      response.headers.emplace_back(std::move(name), std::move(value));
    }
  }
  // Read-your-writes: answered once this process holds what the owner wrote. Past the
  // wait the answer is given all the same (the command is durable; hiding its result would
  // invite a second one), and Keyledger-Position lets the client ask for it.
  if (auto applied = await_applied(written, pipeline_, kApplyWait); !applied) {
    warn("a forwarded command's result is not applied here yet", ctx.request_id, applied.error().detail);
  }
  return {std::optional<HttpResponse>(std::move(response)), std::move(written)};
}

}  // namespace keyledger::api
