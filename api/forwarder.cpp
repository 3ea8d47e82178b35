#include "forwarder.hpp"

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <iostream>
#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"
#include "eventstore/thread_name.hpp"

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
const std::string kReservations = "/v1/cluster/number-reservations";

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

// Awaits one job on the forwarder's threads; the handler resumes through the executor.
template <class T>
class Forwarder::OnOwnThread {
 public:
  OnOwnThread(Forwarder& forwarder, std::move_only_function<T()> job) : forwarder_(forwarder), job_(std::move(job)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> awaiter) {
    forwarder_.submit([this, awaiter] {
      result_.emplace(job_());
      forwarder_.post_([awaiter] { awaiter.resume(); });
    });
  }
  T await_resume() { return std::move(*result_); }

 private:
  Forwarder& forwarder_;
  std::move_only_function<T()> job_;
  std::optional<T> result_;
};

Forwarder::Forwarder(std::string cluster_token, eventstore::EventLog& log, const eventstore::CommandPipeline& pipeline,
                     Metrics& metrics)
    : token_(std::move(cluster_token)), log_(log), pipeline_(pipeline), metrics_(metrics) {
  if (!enabled()) return;
  for (unsigned i = 0; i < kThreads; ++i) {
    threads_.emplace_back([this] {
      name_this_thread("kl-forward");
      run_jobs();
    });
  }
}

Forwarder::~Forwarder() {
  {
    std::lock_guard lock(jobs_mutex_);
    stopping_ = true;
  }
  jobs_ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void Forwarder::submit(std::move_only_function<void()> job) {
  std::lock_guard lock(jobs_mutex_);
  jobs_.push_back(std::move(job));
  jobs_ready_.notify_one();
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
  PeerCall call{ctx.request.method, ctx.request.target, body ? std::move(*body) : ctx.request.body, {},
                ctx.request_id, ctx.client_ip};
  for (const char* name : kForwardedHeaders) {
    if (std::string value = ctx.request.header(name); !value.empty()) call.headers.emplace_back(name, std::move(value));
  }
  return relay(ctx, std::move(call), partition);
}

Task<Expected<std::optional<HttpResponse>>> Forwarder::ask_owner(RequestContext& ctx, std::uint32_t partition,
                                                                 std::string target, std::string body) {
  PeerCall call{"POST", std::move(target), std::move(body), {{"content-type", "application/json"}}, ctx.request_id,
                ctx.client_ip};
  if (std::string value = ctx.request.header("authorization"); !value.empty()) call.headers.emplace_back("authorization", value);
  return relay(ctx, std::move(call), partition);
}

Task<Expected<std::optional<HttpResponse>>> Forwarder::relay(RequestContext& ctx, PeerCall call, std::uint32_t partition) {
  using Relayed = Expected<std::optional<std::pair<HttpResponse, WrittenPositions>>>;
  OnOwnThread<Relayed> relayed(*this, [this, call = std::move(call), partition]() -> Relayed {
    KEYLEDGER_TRY(answer, exchange(call, partition));
    if (!answer) return std::nullopt;
    return relay_answer(call.request_id, std::move(*answer));
  });
  Relayed outcome = co_await relayed;  // named: see KEYLEDGER_CO_AWAIT_TRY
  if (!outcome) co_return std::unexpected(outcome.error());
  if (!*outcome) co_return std::nullopt;
  for (const auto& [p, offset] : (*outcome)->second) ctx.written[p] = std::max(ctx.written[p], offset);
  co_return std::move((*outcome)->first);
}

Task<Expected<std::optional<std::string>>> Forwarder::reserve_number(const RequestContext& ctx, std::uint32_t partition,
                                                                     const std::string& number,
                                                                     const std::string& dashboard_id) {
  PeerCall call{"POST", kReservations, json{{"number", number}, {"dashboard_id", dashboard_id}}.dump(),
                {{"content-type", "application/json"}}, ctx.request_id, ctx.client_ip};
  using Holder = Expected<std::optional<std::string>>;
  OnOwnThread<Holder> reserved(*this, [this, call = std::move(call), partition]() -> Holder {
    KEYLEDGER_TRY(answer, exchange(call, partition));
    if (!answer) return std::nullopt;
    const json body = json::parse(answer->body, nullptr, false);
    if (answer->status != 200 || !body.is_object() || !body.contains("dashboard_id") || !body["dashboard_id"].is_string()) {
      warn("a number reservation was refused", call.request_id, std::to_string(answer->status) + " " + answer->body);
      return std::unexpected(ApiError{502, "forwarding_failed",
                                      "the process that owns the number's partition did not reserve it; nothing was "
                                      "changed: retry",
                                      "", {{"Retry-After", "1"}}});
    }
    return body["dashboard_id"].get<std::string>();
  });
  Holder holder = co_await reserved;  // named: see KEYLEDGER_CO_AWAIT_TRY
  co_return holder;
}

void Forwarder::release_number(const RequestContext& ctx, std::uint32_t partition, const std::string& number,
                               const std::string& dashboard_id) {
  PeerCall call{"POST", kReservations + "/release", json{{"number", number}, {"dashboard_id", dashboard_id}}.dump(),
                {{"content-type", "application/json"}}, ctx.request_id, ctx.client_ip};
  submit([this, call = std::move(call), partition] {
    // Not released (no owner answered): the owner lets it go when it is next asked for it
    // after CommandPipeline::kRemoteReservationLifetime.
    if (auto released = exchange(call, partition); !released) {
      warn("a number reservation could not be released", call.request_id, released.error().detail);
    }
  });
}

std::expected<void, std::string> Forwarder::send_usage(std::uint32_t partition, const std::string& dashboard_id,
                                                       const domain::RecordKeyUsage& usage) {
  json keys = json::array();
  for (const auto& u : usage.usage) {
    keys.push_back({{"key_id", u.key_id}, {"uses", u.uses}, {"last_used_at", u.last_used_at.time_since_epoch().count()}});
  }
  const PeerCall call{"POST", "/v1/cluster/key-usage", json{{"dashboard_id", dashboard_id}, {"keys", keys}}.dump(),
                      {{"content-type", "application/json"}}, "usage-timer", ""};
  auto answer = exchange(call, partition);
  if (!answer) return std::unexpected(answer.error().detail);
  if (!*answer) return std::unexpected("this process owns the dashboard's partition now; the uses are lost");
  if ((*answer)->status != 204) return std::unexpected("the owner answered " + std::to_string((*answer)->status) + " " + (*answer)->body);
  return {};
}

Expected<std::optional<HttpAnswer>> Forwarder::exchange(const PeerCall& peer, std::uint32_t partition) {
  HttpCall call;
  call.method = peer.method;
  call.body = peer.body;
  call.timeout = kExchangeTimeout;
  call.headers = peer.headers;
  call.headers.emplace_back("X-Request-Id", peer.request_id);
  call.headers.emplace_back("Keyledger-Cluster-Token", token_);
  call.headers.emplace_back("Keyledger-Forwarded-For", peer.client_ip);

  const auto deadline = std::chrono::steady_clock::now() + kOwnerWait;
  std::string last_problem = "no process has published that it owns the partition";
  while (true) {
    if (log_.writable(partition)) return std::nullopt;
    const auto owner = log_.owner_url(partition);
    if (owner && *owner != self_) {
      call.url = *owner + peer.target;
      auto answer = connections_.request(call);
      if (!answer && answer.error().request_sent) {
        metrics_.record_forward(Metrics::Forwarded::failed);
        warn("a forwarded request got no answer", peer.request_id, answer.error().sentence);
        return std::unexpected(ApiError{502, "forwarding_failed",
                                        "the process that owns the dashboard's partition took the command but did not "
                                        "answer; it may have been applied: retry with the same Idempotency-Key",
                                        "", {{"Retry-After", "1"}}});
      }
      if (answer && !says_not_owner(*answer)) {
        metrics_.record_forward(Metrics::Forwarded::answered);
        return std::optional<HttpAnswer>(std::move(*answer));
      }
      last_problem = answer ? "the process at " + *owner + " no longer owns it" : answer.error().sentence;
    } else if (owner) {
      last_problem = "this process was its owner and is handing it over";
    }
    if (std::chrono::steady_clock::now() + kRetryPause > deadline) break;
    std::this_thread::sleep_for(kRetryPause);
  }
  metrics_.record_forward(Metrics::Forwarded::no_owner);
  warn("no owner took a forwarded request", peer.request_id, last_problem);
  return std::unexpected(not_owner());
}

std::pair<HttpResponse, WrittenPositions> Forwarder::relay_answer(const std::string& request_id, HttpAnswer answer) {
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
    warn("a forwarded command's result is not applied here yet", request_id, applied.error().detail);
  }
  return {std::move(response), std::move(written)};
}

}  // namespace keyledger::api
