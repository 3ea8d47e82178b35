#include "cluster_routes.hpp"

#include "access.hpp"
#include "domain/validation.hpp"
#include "eventstore/store_error.hpp"

namespace keyledger::api {

using nlohmann::json;

namespace {

struct ReservationBody {
  std::string number;
  std::string dashboard_id;
};

// The body both routes take, from a peer only.
Expected<ReservationBody> read_reservation(const RequestContext& ctx) {
  KEYLEDGER_CHECK(require_peer(ctx));
  Fields body = ctx.fields();
  ReservationBody r{body.required_string("number"), body.required_string("dashboard_id")};
  if (!body.ok()) return body.error();
  auto number = domain::validate_e164("number", r.number);
  if (!number || *number != r.number) return std::unexpected(invalid_request("number", "not a number in E.164 form"));
  return r;
}

}  // namespace

void ClusterRoutes::add_to(Router& router) {
  router.add("POST", "/v1/cluster/number-reservations", [this](RequestContext& c) { return reserve_number(c); });
  router.add("POST", "/v1/cluster/number-reservations/release", [this](RequestContext& c) { return release_number(c); });
  router.add("POST", "/v1/cluster/key-usage", [this](RequestContext& c) { return record_usage(c); });
}

// Answered once a granted reservation is recorded (a process taking the number's partition
// over then knows it).
Task<Result> ClusterRoutes::reserve_number(RequestContext& ctx) {
  auto wanted = read_reservation(ctx);
  if (!wanted) co_return std::unexpected(wanted.error());
  // Only the number's owner decides (another answers not_owner below, at once).
  const bool decides = pipeline_.decides_partition(pipeline_.partition_for(wanted->number));
  Completion<Expected<void>> current([&](Completion<Expected<void>>::Callback done) {
    if (!decides) return done({});
    applied_waits_.wait_number_current(wanted->number, wanted->dashboard_id, std::move(done));
  });
  (void)co_await current;
  using Holder = std::expected<std::string, std::error_code>;
  Completion<Holder> reservation([&](Completion<Holder>::Callback done) {
    pipeline_.reserve_number(wanted->number, wanted->dashboard_id, post_, std::move(done));
  });
  Holder holder = co_await reservation;
  if (!holder && holder.error() == eventstore::StoreErrc::not_owner) co_return std::unexpected(not_owner());
  if (!holder) {
    co_return std::unexpected(
        ApiError{503, "log_unavailable", "the reservation could not be recorded; nothing was changed", "", {{"Retry-After", "1"}}});
  }
  co_return json_response(200, {{"dashboard_id", *holder}});
}

// Runs on the worker that handles it, waiting for the log: once per usage interval per
// process, it is not worth a coroutine.
Result ClusterRoutes::record_usage(RequestContext& ctx) {
  KEYLEDGER_CHECK(require_peer(ctx));
  const json body = json::parse(ctx.request.body, nullptr, false);
  if (!body.is_object() || !body.contains("keys") || !body["keys"].is_array()) {
    return std::unexpected(invalid_request("keys", "the body must be {dashboard_id, keys: [{key_id, uses, last_used_at}]}"));
  }
  Fields top(body);
  const std::string dashboard = top.required_string("dashboard_id");
  if (!top.ok()) return top.error();
  domain::RecordKeyUsage usage;
  for (const auto& k : body["keys"]) {
    Fields key = k.is_object() ? Fields(k) : Fields::failed(invalid_request("keys", "each key is an object"));
    const std::string key_id = key.required_string("key_id");
    const auto uses = key.optional_integer("uses");
    const auto last_used_at = key.optional_integer("last_used_at");
    if (!key.ok()) return key.error();
    if (!uses || *uses < 0 || !last_used_at) {
      return std::unexpected(invalid_request("keys", "each key is {key_id, uses, last_used_at (ms since the epoch)}"));
    }
    usage.usage.push_back({key_id, static_cast<std::uint64_t>(*uses),
                           domain::Timestamp{std::chrono::milliseconds(*last_used_at)}});
  }
  auto result = pipeline_.execute(dashboard, std::move(usage),
                                  {{domain::ActorKind::system, "keyledger", ""}, ctx.request_id, "", ""});
  if (result.log_error == eventstore::StoreErrc::not_owner) return std::unexpected(not_owner());
  if (result.log_error) return std::unexpected(ApiError{503, "log_unavailable", "the usage could not be recorded", "", {{"Retry-After", "1"}}});
  if (result.outcome.rejection) return std::unexpected(not_found("no such dashboard"));
  return no_content();
}

Result ClusterRoutes::release_number(RequestContext& ctx) {
  KEYLEDGER_TRY(wanted, read_reservation(ctx));
  pipeline_.release_number_reservation(wanted.number, wanted.dashboard_id);
  return no_content();
}

}  // namespace keyledger::api
