// Time travel (SPEC §11): a dashboard as it was at an instant, folded from its own events —
// those whose occurred_at is at or before it (occurred_at never goes back within a
// dashboard, so they are a prefix of its stream). The audit index says where each is in the
// log, so only the dashboard's own events are read.
#pragma once

#include <expected>
#include <optional>
#include <string>

#include "domain/dashboard_state.hpp"
#include "eventstore/event_log.hpp"
#include "projections/audit_index.hpp"

namespace keyledger::usecases {

struct PastState {
  domain::DashboardState state;
  std::uint64_t sequence = 0;  // the events folded: 1..sequence
};

// The dashboard at `as_of`; nullopt when it did not exist yet (no event at or before it).
// An error when one of its events cannot be read back or decoded.
std::expected<std::optional<PastState>, std::string> dashboard_as_of(eventstore::EventLog& log,
                                                                     const projections::AuditIndex& index,
                                                                     const std::string& dashboard_id,
                                                                     domain::Timestamp as_of);

}  // namespace keyledger::usecases
