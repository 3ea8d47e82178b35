// Signed audit checkpoints (SPEC §5, §11): keyledger signs a dashboard's chain head and the
// root of its Merkle tree (checkpoint v2) with its Ed25519 key, on request
// (POST .../audit/checkpoints) and periodically for every dashboard whose history grew since
// its last checkpoint.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include "eventstore/command_pipeline.hpp"
#include "projections/projector.hpp"

namespace keyledger::usecases {

class CheckpointSigner {
 public:
  // `seed`: the Ed25519 seed derived from the master key. The roots come from the read
  // models' audit trees, which read the events they lack from `log`.
  CheckpointSigner(eventstore::CommandPipeline& pipeline, eventstore::EventLog& log,
                   const projections::Projector& read_models, std::string seed);

  // The command that signs the dashboard's current head (for a caller that runs it itself;
  // an empty one for a dashboard that does not exist), or why not (its chain does not link).
  std::expected<domain::SignAuditCheckpoint, std::string> checkpoint(const std::string& dashboard_id) const;
  // Signs every open dashboard with events since its last checkpoint; `report(dashboard,
  // why)` for each that could not be signed.
  void sign_due(const std::function<void(const std::string&, const std::string&)>& report);
  // Hex of the public key that verifies every checkpoint.
  std::string public_key_hex() const;

 private:
  eventstore::CommandPipeline& pipeline_;
  eventstore::EventLog& log_;
  const projections::Projector& read_models_;
  std::string seed_;
};

}  // namespace keyledger::usecases
