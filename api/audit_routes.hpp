// The audit trail (listing, export, chain verification, Merkle proofs, signed checkpoints), the compliance
// report, and the read models' positions and digests (SPEC §5, §7).
#pragma once

#include <functional>

#include "access.hpp"
#include "command_runner.hpp"
#include "eventstore/event_log.hpp"
#include "dashboard_states.hpp"
#include "projections/projector.hpp"
#include "router.hpp"
#include "usecases/checkpoints.hpp"

namespace keyledger::api {

class AuditRoutes {
 public:
  AuditRoutes(const Access& access, CommandRunner& commands, const eventstore::CommandPipeline& pipeline,
              const DashboardStates& states, eventstore::EventLog& log, const projections::Projector& read_models,
              usecases::CheckpointSigner& checkpoints, int rotation_age_days)
      : access_(access), commands_(commands), pipeline_(pipeline), states_(states), log_(log),
        read_models_(read_models), checkpoints_(checkpoints), rotation_age_days_(rotation_age_days) {}

  void add_to(Router& router);

 private:
  Result list_audit(RequestContext& ctx);
  Result export_audit(RequestContext& ctx);
  Result verify_audit(RequestContext& ctx);
  Result inclusion_proof(RequestContext& ctx);
  Result consistency_proof(RequestContext& ctx);
  Expected<std::uint64_t> history_size(const std::string& dashboard_id) const;
  Result with_tree(const std::string& dashboard_id, std::uint64_t size,
                   const std::function<nlohmann::json(const crypto::merkle::Tree&)>& answer) const;
  Result compliance(RequestContext& ctx);
  Task<Result> sign_checkpoint(RequestContext& ctx);
  Result latest_checkpoint(RequestContext& ctx);
  Result checkpoint_public_key(RequestContext& ctx);
  Result list_projections(RequestContext& ctx);

  const Access& access_;
  CommandRunner& commands_;
  const eventstore::CommandPipeline& pipeline_;
  const DashboardStates& states_;  // now, or as_of
  eventstore::EventLog& log_;
  const projections::Projector& read_models_;
  usecases::CheckpointSigner& checkpoints_;
  int rotation_age_days_;
};

}  // namespace keyledger::api
