// The dashboard decider: decide(state, command) -> events | rejection.
//
// A refusal can still produce events: SPEC §5 audits every denied attempt, so a refused
// command usually yields one `…Denied` event together with the rejection. Bad input
// (invalid_request) and unknown targets (not_found) yield no event and change nothing.
#pragma once

#include <optional>
#include <vector>

#include "actor.hpp"
#include "commands.hpp"
#include "dashboard_state.hpp"
#include "events.hpp"
#include "rejection.hpp"
#include "time.hpp"

namespace keyledger::domain {

struct Context {
  Actor actor;
  Timestamp now;
};

struct Outcome {
  std::vector<Event> events;            // to append, even when refused (audit events)
  std::optional<Rejection> rejection;   // set when the command was refused

  bool accepted() const { return !rejection.has_value(); }
};

Outcome decide(const DashboardState& state, const Command& command, const Context& context);

}  // namespace keyledger::domain
