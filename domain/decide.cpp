#include "decide.hpp"

#include "decider_support.hpp"

namespace keyledger::domain {

Outcome decide(const DashboardState& state, const Command& command, const Context& context) {
  return std::visit([&](const auto& c) { return detail::decide_one(state, c, context); }, command);
}

namespace detail {

void append_lockout_if_due(const User& user, const Context& ctx, std::vector<Event>& events) {
  if (user.failures_within_window(ctx.now) + 1 >= kLockoutFailures) {
    events.push_back(UserLockedOut{user.email, ctx.now + kLockoutDuration});
  }
}

}  // namespace detail
}  // namespace keyledger::domain
