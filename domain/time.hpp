// Time as the domain sees it: instants are passed in, never read from a clock here.
#pragma once

#include <chrono>

namespace keyledger::domain {

// Milliseconds since the Unix epoch, UTC; the envelope's `occurred_at` precision.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

}  // namespace keyledger::domain
