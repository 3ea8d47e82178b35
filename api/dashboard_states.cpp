#include "dashboard_states.hpp"

#include "eventstore/rfc3339.hpp"
#include "usecases/time_travel.hpp"

namespace keyledger::api {

namespace es = keyledger::eventstore;

Expected<void> DashboardStates::read(
    const RequestContext& ctx, const std::function<void(const domain::DashboardState&, domain::Timestamp)>& read) const {
  const std::string& dashboard = ctx.param("d");
  const domain::Timestamp now = pipeline_.now();
  auto as_of_text = ctx.query.find("as_of");
  if (as_of_text == ctx.query.end()) {
    bool found = false;
    pipeline_.with_dashboard(dashboard, [&](const es::DashboardView& v) {
      found = true;
      read(v.state, now);
    });
    if (!found) return std::unexpected(not_found("no such dashboard"));
    return {};
  }
  const auto as_of = es::parse_rfc3339(as_of_text->second);
  if (!as_of) return std::unexpected(invalid_request("as_of", "as_of must be an RFC 3339 UTC time"));
  if (*as_of > now) return std::unexpected(invalid_request("as_of", "as_of is in the future: the answer is not known yet"));
  auto past = usecases::dashboard_as_of(log_, index_, dashboard, *as_of);
  if (!past) return std::unexpected(ApiError{503, "log_unavailable", "the dashboard's history cannot be read: " + past.error(), "", {}});
  if (!*past) return std::unexpected(not_found("the dashboard did not exist at " + as_of_text->second));
  read((*past)->state, *as_of);
  return {};
}

}  // namespace keyledger::api
