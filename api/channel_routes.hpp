// SMS numbers with their automatically assigned keys, and the dashboard's one fixed RCS key
// with its bots (SPEC §3).
#pragma once

#include "access.hpp"
#include "command_runner.hpp"
#include "dashboard_states.hpp"
#include "forwarder.hpp"
#include "key_secrets.hpp"
#include "positions.hpp"
#include "router.hpp"

namespace keyledger::api {

class ChannelRoutes {
 public:
  ChannelRoutes(const Access& access, CommandRunner& commands, KeySecrets& secrets,
                const eventstore::CommandPipeline& pipeline, const DashboardStates& states, Forwarder& forwarder,
                AppliedWaits& applied_waits)
      : access_(access), commands_(commands), secrets_(secrets), pipeline_(pipeline), states_(states),
        forwarder_(forwarder), applied_waits_(applied_waits) {}

  void add_to(Router& router);

 private:
  Task<Result> register_number(RequestContext& ctx);
  Result list_numbers(RequestContext& ctx);
  Result get_number(RequestContext& ctx);
  Task<Result> view_sms_key(RequestContext& ctx);
  Task<Result> rotate_sms_key(RequestContext& ctx);
  Task<Result> deregister_number(RequestContext& ctx);
  Result get_rcs_key(RequestContext& ctx);
  Task<Result> reveal_rcs_key(RequestContext& ctx);
  Task<Result> reissue_rcs_key(RequestContext& ctx);
  Task<Result> register_bot(RequestContext& ctx);
  Result list_bots(RequestContext& ctx);
  Task<Result> remove_bot(RequestContext& ctx);
  // Routes the help page says do not exist for a channel (SMS and RCS keys are not generated,
  // the RCS key is not rotated or revoked by users): the decider refuses and audits them.
  Task<Result> always_refused(RequestContext& ctx, domain::Command command);

  const Access& access_;
  CommandRunner& commands_;
  KeySecrets& secrets_;
  const eventstore::CommandPipeline& pipeline_;
  const DashboardStates& states_;  // now, or as_of
  Forwarder& forwarder_;  // a number another process of the cluster decides is reserved there
  AppliedWaits& applied_waits_;  // a number held in another process's partition: caught up first
};

}  // namespace keyledger::api
