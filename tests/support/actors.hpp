// The actors unit tests issue commands as: the platform operator and a dashboard's admin.
#pragma once

#include "domain/actor.hpp"

namespace keyledger::testing {

inline const domain::Actor kOperator{domain::ActorKind::platform_operator, "operator", "127.0.0.1"};
inline const domain::Actor kAdmin{domain::ActorKind::user, "ada@example.com", "127.0.0.1"};

}  // namespace keyledger::testing
