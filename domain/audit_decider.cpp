// Audit checkpoints, usage summaries and master key rotations: records the system (or the
// operator, or an admin asking for a checkpoint) adds about a dashboard, not changes to its keys.
#include "decider_support.hpp"
#include "validation.hpp"

namespace keyledger::domain::detail {

Outcome decide_one(const DashboardState& s, const SignAuditCheckpoint& c, const Context& ctx) {
  using C = SignAuditCheckpoint;
  if (!s.exists) return not_found("no such dashboard");
  bool admin = ctx.actor.kind == ActorKind::user && s.user(ctx.actor.id) && s.user(ctx.actor.id)->role == Role::admin;
  if (!admin && ctx.actor.kind != ActorKind::system && ctx.actor.kind != ActorKind::platform_operator) {
    return deny<C>(RejectionCode::forbidden, {}, "only an admin, the operator or keyledger itself may sign checkpoints");
  }
  if (c.sequence == 0 || c.head_hash.size() != 64 || c.tree_size != c.sequence || c.root_hash.size() != 64 ||
      c.signature.empty() || c.public_key.empty()) {
    return refuse(invalid_field("checkpoint", "must name a sequence, its head hash, the tree of that size and its root, "
                                              "a signature and its public key"));
  }
  return accept({AuditCheckpointSigned{c.sequence, c.head_hash, c.tree_size, c.root_hash, c.signed_at, c.public_key,
                                       c.signature}});
}

Outcome decide_one(const DashboardState& s, const RecordKeyUsage& c, const Context& ctx) {
  if (!s.exists) return not_found("no such dashboard");
  if (ctx.actor.kind != ActorKind::system) {
    return deny<RecordKeyUsage>(RejectionCode::forbidden, {}, "only keyledger itself records key usage");
  }
  KeyUsageRecorded recorded;
  for (const auto& u : c.usage) {
    if (u.uses > 0 && s.keys.contains(u.key_id)) recorded.keys.push_back({u.key_id, u.uses, u.last_used_at});
  }
  if (recorded.keys.empty()) return accept({});
  return accept({std::move(recorded)});
}

Outcome decide_one(const DashboardState& s, const RecordDataKeyRewrap& c, const Context& ctx) {
  if (!s.exists) return not_found("no such dashboard");
  if (ctx.actor.kind != ActorKind::system && ctx.actor.kind != ActorKind::platform_operator) {
    return deny<RecordDataKeyRewrap>(RejectionCode::forbidden, {}, "only the operator rotates the master key");
  }
  if (c.master_key_id.empty() || c.previous_master_key_id.empty() || c.master_key_id == c.previous_master_key_id) {
    return refuse(invalid_field("master_key_id", "must name the new master key and the previous one"));
  }
  // A closed dashboard's data key is destroyed: there was nothing to rewrap.
  if (s.closed || s.data_key_master == c.master_key_id) return accept({});
  return accept({DataKeyRewrapped{c.master_key_id, c.previous_master_key_id}});
}

}  // namespace keyledger::domain::detail
