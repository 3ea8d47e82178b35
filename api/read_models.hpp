// The read models `serve` keeps beside the decider state, and how the command pipeline feeds
// them: the audit index (every event's place, from every event, carried in snapshots) and
// the verify index (every live secret, mirrored from the state). The CLI's rebuild uses the
// same wiring, so a snapshot always holds the same read models whoever wrote it.
#pragma once

#include <string_view>

#include "eventstore/command_pipeline.hpp"
#include "projections/audit_index.hpp"
#include "projections/verify_index.hpp"

namespace keyledger::api {

struct ReadModels {
  explicit ReadModels(std::string_view fingerprint_pepper) : verify_index(fingerprint_pepper) {}

  // Before the pipeline recovers: the audit index follows every folded event and travels in
  // snapshots.
  void attach(eventstore::CommandPipeline& pipeline);
  // Once it has: the verify index mirrors every dashboard's keys and follows each change.
  void serve(eventstore::CommandPipeline& pipeline);

  projections::VerifyIndex verify_index;
  projections::AuditIndex audit_index;
};

}  // namespace keyledger::api
