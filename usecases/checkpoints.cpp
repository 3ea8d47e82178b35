#include "checkpoints.hpp"

#include "crypto/crypto.hpp"
#include "eventstore/rfc3339.hpp"

namespace keyledger::usecases {

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;

CheckpointSigner::CheckpointSigner(es::CommandPipeline& pipeline, std::string seed)
    : pipeline_(pipeline), seed_(std::move(seed)) {}

kd::SignAuditCheckpoint CheckpointSigner::checkpoint(const std::string& dashboard_id) const {
  std::uint64_t sequence = 0;
  std::string head;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    sequence = v.sequence;
    head = v.head_hash;
  });
  const std::string signed_at = es::format_rfc3339(pipeline_.now());
  const std::string signature = crypto::ed25519_sign(seed_, kd::checkpoint_text(dashboard_id, sequence, head, signed_at));
  return kd::SignAuditCheckpoint{sequence, head, signed_at, public_key_hex(), crypto::to_hex(signature)};
}

es::CommandResult CheckpointSigner::sign(const std::string& dashboard_id, const es::CommandMeta& meta) {
  return pipeline_.execute(dashboard_id, checkpoint(dashboard_id), meta);
}

void CheckpointSigner::sign_due(const std::function<void(const std::string&, const std::string&)>& report) {
  for (const auto& id : pipeline_.dashboard_ids()) {
    bool due = false;
    pipeline_.with_dashboard(id, [&](const es::DashboardView& v) {
      // A checkpoint is itself an event: only the events after the last one make a new one due.
      const std::uint64_t covered = v.state.last_checkpoint ? v.state.last_checkpoint->sequence + 1 : 0;
      due = !v.state.closed && v.sequence > covered;
    });
    if (!due) continue;
    auto result = sign(id, {{kd::ActorKind::system, "keyledger", ""}, "checkpoint-timer", "", ""});
    if (result.log_error) report(id, result.log_error.message());
  }
}

std::string CheckpointSigner::public_key_hex() const { return crypto::to_hex(crypto::ed25519_public_key(seed_)); }

}  // namespace keyledger::usecases
