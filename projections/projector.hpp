// The projector: which event refreshes which read model. It keeps the read models `serve`
// holds beside the decider state, fed by the command pipeline: the audit index (every
// event's place, from every event, carried in snapshots), the audit trees (the Merkle tree
// of each dashboard whose proofs were asked for, following its events) and the verify index
// (every live secret, mirrored from the state). The CLI's rebuild and dashboard creation use the same
// wiring, so a snapshot always holds the same read models whoever wrote it.
#pragma once

#include <string_view>

#include "eventstore/command_pipeline.hpp"
#include "audit_index.hpp"
#include "audit_trees.hpp"
#include "verify_index.hpp"

namespace keyledger::projections {

struct Projector {
  explicit Projector(std::string_view fingerprint_pepper) : verify_index(fingerprint_pepper) {}

  // Before the pipeline recovers: the audit index follows every folded event and travels in
  // snapshots.
  void attach(eventstore::CommandPipeline& pipeline);
  // Once it has: the verify index mirrors every dashboard's keys and follows each change.
  void serve(eventstore::CommandPipeline& pipeline);

  VerifyIndex verify_index;
  AuditIndex audit_index;
  AuditTrees audit_trees;
};

}  // namespace keyledger::projections
