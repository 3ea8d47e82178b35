// The state a read route answers from: the dashboard now, or — when the request names
// `as_of` (SPEC §11) — as it was at that instant, folded from its events, with statuses,
// grace periods and age windows computed at that instant.
#pragma once

#include <functional>

#include "eventstore/command_pipeline.hpp"
#include "problem.hpp"
#include "projections/audit_index.hpp"
#include "request_context.hpp"

namespace keyledger::api {

class DashboardStates {
 public:
  DashboardStates(const eventstore::CommandPipeline& pipeline, eventstore::EventLog& log,
                  const projections::AuditIndex& index)
      : pipeline_(pipeline), log_(log), index_(index) {}

  // Calls `read(state, now)` with the state of the request's dashboard ({d}) and the instant
  // it is at. 400 for an `as_of` that is not an RFC 3339 time or is in the future; 404 when
  // the dashboard did not exist at that instant.
  Expected<void> read(const RequestContext& ctx,
                      const std::function<void(const domain::DashboardState&, domain::Timestamp now)>& read) const;

 private:
  const eventstore::CommandPipeline& pipeline_;
  eventstore::EventLog& log_;
  const projections::AuditIndex& index_;
};

}  // namespace keyledger::api
