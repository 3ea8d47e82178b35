#include "cluster_routes.hpp"

#include "domain/validation.hpp"

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
}

Result ClusterRoutes::reserve_number(RequestContext& ctx) {
  KEYLEDGER_TRY(wanted, read_reservation(ctx));
  auto holder = pipeline_.reserve_number(wanted.number, wanted.dashboard_id);
  if (!holder) return std::unexpected(not_owner());
  return json_response(200, {{"dashboard_id", *holder}});
}

Result ClusterRoutes::release_number(RequestContext& ctx) {
  KEYLEDGER_TRY(wanted, read_reservation(ctx));
  pipeline_.release_number_reservation(wanted.number, wanted.dashboard_id);
  return no_content();
}

}  // namespace keyledger::api
