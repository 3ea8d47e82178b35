// Dashboards, users and sessions (SPEC §7).
#pragma once

#include "access.hpp"
#include "command_runner.hpp"
#include "dashboard_states.hpp"
#include "config.hpp"
#include "eventstore/secret_vault.hpp"
#include "router.hpp"
#include "session_tokens.hpp"

namespace keyledger::api {

class DashboardRoutes {
 public:
  DashboardRoutes(const Access& access, CommandRunner& commands, const eventstore::CommandPipeline& pipeline,
                  const DashboardStates& states, eventstore::SecretVault& vault, const SessionTokens& sessions,
                  std::chrono::seconds session_ttl)
      : access_(access), commands_(commands), pipeline_(pipeline), states_(states), vault_(vault), sessions_(sessions),
        session_ttl_(session_ttl) {}

  void add_to(Router& router);

 private:
  Task<Result> create_dashboard(RequestContext& ctx);
  Result list_dashboards(RequestContext& ctx);
  Result get_dashboard(RequestContext& ctx);
  Task<Result> close_dashboard(RequestContext& ctx);
  Task<Result> create_session(RequestContext& ctx);
  Task<Result> add_user(RequestContext& ctx);
  Result list_users(RequestContext& ctx);
  Task<Result> remove_user(RequestContext& ctx);

  const Access& access_;
  CommandRunner& commands_;
  const eventstore::CommandPipeline& pipeline_;
  const DashboardStates& states_;  // now, or as_of
  eventstore::SecretVault& vault_;
  const SessionTokens& sessions_;
  std::chrono::seconds session_ttl_;
};

}  // namespace keyledger::api
