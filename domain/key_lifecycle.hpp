// Rotation, revocation and reveal follow one shape for every manually generated key
// (Email, WhatsApp); only the roles, the channel and the event types differ. Internal.
#pragma once

#include <chrono>

#include "decider_support.hpp"
#include "validation.hpp"

namespace keyledger::domain::detail {

// Looks a key of `channel` up; a key of another channel is "not found" here, so an id
// cannot be used across channel routes.
inline const ApiKey* find_key(const DashboardState& s, const std::string& id, Channel channel) {
  return s.key(id, channel);
}

template <class RotatedEvent, class C>
Outcome decide_rotation(const DashboardState& s, const C& c, const Context& ctx, Channel channel,
                        std::initializer_list<Role> roles) {
  if (auto refusal = require_user<C>(s, ctx, roles, c.key_id)) return *refusal;
  auto grace = validate_grace_seconds(c.grace_seconds);
  if (!grace) return refuse(grace.error());
  const ApiKey* key = find_key(s, c.key_id, channel);
  if (!key) return not_found("no such key");
  if (key->revoked) return deny<C>(RejectionCode::key_revoked, c.key_id, "the key is revoked");
  // The new secret is valid at once; the old one until the grace period ends.
  return accept({RotatedEvent{c.key_id, c.secret, ctx.now + std::chrono::seconds(*grace)}});
}

template <class RevokedEvent, class C>
Outcome decide_revocation(const DashboardState& s, const C& c, const Context& ctx,
                          Channel channel, std::initializer_list<Role> roles) {
  if (auto refusal = require_user<C>(s, ctx, roles, c.key_id)) return *refusal;
  const ApiKey* key = find_key(s, c.key_id, channel);
  if (!key) return not_found("no such key");
  if (key->revoked) {
    return deny<C>(RejectionCode::key_revoked, c.key_id, "the key is already revoked");
  }
  return accept({RevokedEvent{c.key_id}});
}

template <class RevealedEvent, class C>
Outcome decide_reveal(const DashboardState& s, const C& c, const Context& ctx, Channel channel,
                      std::initializer_list<Role> roles) {
  if (auto refusal = require_user<C>(s, ctx, roles, c.key_id)) return *refusal;
  const ApiKey* key = find_key(s, c.key_id, channel);
  if (!key) return not_found("no such key");
  if (auto refusal = require_step_up<C>(s, ctx, c.password_matched, c.key_id)) return *refusal;
  if (key->revoked) return deny<C>(RejectionCode::key_revoked, c.key_id, "the key is revoked");
  return accept({RevealedEvent{c.key_id}});
}

}  // namespace keyledger::domain::detail
