// Signed audit checkpoints (SPEC §5): keyledger signs a dashboard's chain head with its
// Ed25519 key, on request (POST .../audit/checkpoints) and periodically for every dashboard
// whose history grew since its last checkpoint.
#pragma once

#include <functional>
#include <string>

#include "eventstore/command_pipeline.hpp"

namespace keyledger::usecases {

class CheckpointSigner {
 public:
  // `seed`: the Ed25519 seed derived from the master key.
  CheckpointSigner(eventstore::CommandPipeline& pipeline, std::string seed);

  // The command that signs the dashboard's current head (for a caller that runs it itself).
  domain::SignAuditCheckpoint checkpoint(const std::string& dashboard_id) const;
  // Signs the dashboard's current head and appends the checkpoint as `meta.actor`, waiting.
  eventstore::CommandResult sign(const std::string& dashboard_id, const eventstore::CommandMeta& meta);
  // Signs every open dashboard with events since its last checkpoint; `report(dashboard,
  // why)` for each the log refused.
  void sign_due(const std::function<void(const std::string&, const std::string&)>& report);
  // Hex of the public key that verifies every checkpoint.
  std::string public_key_hex() const;

 private:
  eventstore::CommandPipeline& pipeline_;
  std::string seed_;
};

}  // namespace keyledger::usecases
