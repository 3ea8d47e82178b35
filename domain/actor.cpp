#include "actor.hpp"

namespace keyledger::domain {

std::string_view to_string(ActorKind kind) {
  switch (kind) {
    case ActorKind::user: return "user";
    case ActorKind::platform_operator: return "operator";
    case ActorKind::system: return "system";
    case ActorKind::service: return "service";
  }
  return "unknown";
}

std::optional<ActorKind> parse_actor_kind(std::string_view text) {
  for (ActorKind k : {ActorKind::user, ActorKind::platform_operator, ActorKind::system,
                      ActorKind::service}) {
    if (to_string(k) == text) return k;
  }
  return std::nullopt;
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::admin: return "admin";
    case Role::developer: return "developer";
    case Role::viewer: return "viewer";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view text) {
  for (Role r : {Role::admin, Role::developer, Role::viewer}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

}  // namespace keyledger::domain
