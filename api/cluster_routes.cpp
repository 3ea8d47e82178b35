#include "cluster_routes.hpp"

#include "domain/validation.hpp"
#include "eventstore/store_error.hpp"

namespace keyledger::api {

using nlohmann::json;

namespace {

struct NumberReservation {
  std::string number;
  std::string dashboard_id;
};

// The body both routes take, from a peer only.
Expected<NumberReservation> read_reservation(const RequestContext& ctx) {
  if (!ctx.from_peer) return std::unexpected(forbidden("only the processes of this cluster may use this route"));
  Fields body = ctx.fields();
  NumberReservation r{body.required_string("number"), body.required_string("dashboard_id")};
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

Result ClusterRoutes::reserve_number(RequestContext& ctx) {
  KEYLEDGER_TRY(wanted, read_reservation(ctx));
  auto holder = pipeline_.reserve_number(wanted.number, wanted.dashboard_id);
  if (!holder) return std::unexpected(not_owner());
  return json_response(200, {{"dashboard_id", *holder}});
}

// Runs on the worker that handles it, waiting for the log: once per usage interval per
// process, it is not worth a coroutine.
Result ClusterRoutes::record_usage(RequestContext& ctx) {
  if (!ctx.from_peer) return std::unexpected(forbidden("only the processes of this cluster may use this route"));
  const json body = json::parse(ctx.request.body, nullptr, false);
  if (!body.is_object() || !body.contains("dashboard_id") || !body["dashboard_id"].is_string() || !body.contains("keys") ||
      !body["keys"].is_array()) {
    return std::unexpected(invalid_request("body", "the body must be {dashboard_id, keys: [{key_id, uses, last_used_at}]}"));
  }
  domain::RecordKeyUsage usage;
  for (const auto& k : body["keys"]) {
    if (!k.is_object() || !k.contains("key_id") || !k["key_id"].is_string() || !k.contains("uses") ||
        !k["uses"].is_number_unsigned() || !k.contains("last_used_at") || !k["last_used_at"].is_number_integer()) {
      return std::unexpected(invalid_request("keys", "each key is {key_id, uses, last_used_at (ms since the epoch)}"));
    }
    usage.usage.push_back({k["key_id"].get<std::string>(), k["uses"].get<std::uint64_t>(),
                           domain::Timestamp{std::chrono::milliseconds(k["last_used_at"].get<std::int64_t>())}});
  }
  const std::string dashboard = body["dashboard_id"].get<std::string>();
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
