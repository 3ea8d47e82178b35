// WhatsApp keys: admins only, at most three active per dashboard (a revoked key frees its
// slot, a rotation uses none), never disclosed at generation, revealed only with step-up.
#include "key_lifecycle.hpp"

namespace keyledger::domain::detail {

namespace {
constexpr std::initializer_list<Role> kWhatsAppRoles{Role::admin};
}

Outcome decide_one(const DashboardState& s, const GenerateWhatsAppKey& c, const Context& ctx) {
  using C = GenerateWhatsAppKey;
  if (auto refusal = require_user<C>(s, ctx, kWhatsAppRoles, c.key_id)) return *refusal;
  auto name = validate_name("name", c.name);
  if (!name) return refuse(name.error());
  if (s.keys.contains(c.key_id)) return refuse(invalid_field("key_id", "is already in use"));
  if (s.active_whatsapp_keys() >= kWhatsAppKeyLimit) {
    return deny<C>(RejectionCode::whatsapp_key_limit_reached, c.key_id,
                   "a dashboard can have at most 3 active WhatsApp keys; revoke one first");
  }
  return accept({WhatsAppKeyGenerated{c.key_id, *name, c.secret}});
}

Outcome decide_one(const DashboardState& s, const RotateWhatsAppKey& c, const Context& ctx) {
  return decide_rotation<WhatsAppKeyRotated>(s, c, ctx, Channel::whatsapp, kWhatsAppRoles);
}

Outcome decide_one(const DashboardState& s, const RevokeWhatsAppKey& c, const Context& ctx) {
  return decide_revocation<WhatsAppKeyRevoked>(s, c, ctx, Channel::whatsapp, kWhatsAppRoles);
}

Outcome decide_one(const DashboardState& s, const RevealWhatsAppKey& c, const Context& ctx) {
  return decide_reveal<WhatsAppKeyRevealed>(s, c, ctx, Channel::whatsapp, kWhatsAppRoles);
}

}  // namespace keyledger::domain::detail
