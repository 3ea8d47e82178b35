#include "checkpoints.hpp"

#include "crypto/crypto.hpp"
#include "crypto/merkle.hpp"
#include "eventstore/rfc3339.hpp"

namespace keyledger::usecases {

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;

CheckpointSigner::CheckpointSigner(es::CommandPipeline& pipeline, es::EventLog& log,
                                   const projections::Projector& read_models, std::string seed)
    : pipeline_(pipeline), log_(log), read_models_(read_models), seed_(std::move(seed)) {}

std::expected<kd::SignAuditCheckpoint, std::string> CheckpointSigner::checkpoint(const std::string& dashboard_id) const {
  std::optional<std::uint64_t> folded;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) { folded = v.sequence; });
  if (!folded) return kd::SignAuditCheckpoint{};  // no such dashboard: the decider says so
  // The tree's size, head and root are taken together: events folded meanwhile are in all three.
  auto head = read_models_.audit_trees.head(dashboard_id, *folded, log_, read_models_.audit_index);
  if (!head) return std::unexpected(std::move(head.error()));
  const std::string root = crypto::merkle::to_hex(head->root);
  const std::string signed_at = es::format_rfc3339(pipeline_.now());
  const std::string signature =
      crypto::ed25519_sign(seed_, kd::checkpoint_text(dashboard_id, head->size, head->hash, head->size, root, signed_at));
  return kd::SignAuditCheckpoint{head->size, head->hash, head->size, root, signed_at, public_key_hex(),
                                 crypto::to_hex(signature)};
}

void CheckpointSigner::sign_due(const std::function<void(const std::string&, const std::string&)>& report) {
  for (const auto& id : pipeline_.dashboard_ids()) {
    if (!pipeline_.decides_for(id)) continue;  // its partition's owner signs it (SPEC §10)
    bool due = false;
    pipeline_.with_dashboard(id, [&](const es::DashboardView& v) {
      // A checkpoint is itself an event: only the events after the last one make a new one due.
      const std::uint64_t covered = v.state.last_checkpoint ? v.state.last_checkpoint->sequence + 1 : 0;
      due = !v.state.closed && v.sequence > covered;
    });
    if (!due) continue;
    auto command = checkpoint(id);
    if (!command) {
      report(id, command.error());
      continue;
    }
    auto result = pipeline_.execute(id, std::move(*command), {{kd::ActorKind::system, "keyledger", ""}, "checkpoint-timer", "", ""});
    if (result.log_error) report(id, result.log_error.message());
  }
}

std::string CheckpointSigner::public_key_hex() const { return crypto::to_hex(crypto::ed25519_public_key(seed_)); }

}  // namespace keyledger::usecases
