// Who issues a command: a dashboard user, the platform operator, keyledger itself, or a
// sending service. A user's role is not carried here: deciders read it from the dashboard's
// state, so a stale or forged role in a request cannot grant anything.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keyledger::domain {

enum class ActorKind { user, platform_operator, system, service };

struct Actor {
  ActorKind kind = ActorKind::system;
  std::string id;  // a user's email; "operator", "system" or the service's name otherwise
  std::string ip;  // the caller's address as the API saw it; empty when not applicable

  friend bool operator==(const Actor&, const Actor&) = default;
};

// "user", "operator", "system", "service": the envelope's `actor.type`.
std::string_view to_string(ActorKind kind);
std::optional<ActorKind> parse_actor_kind(std::string_view text);

enum class Role { admin, developer, viewer };

std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

}  // namespace keyledger::domain
