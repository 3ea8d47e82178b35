// RFC 3339 UTC timestamps with milliseconds, the envelope's `occurred_at` form:
// "2026-11-28T00:11:12.345Z".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/time.hpp"

namespace keyledger::eventstore {

std::string format_rfc3339(domain::Timestamp t);
// Accepts exactly the form format_rfc3339 writes (a "Z" zone, 3 fraction digits optional).
std::optional<domain::Timestamp> parse_rfc3339(std::string_view text);

}  // namespace keyledger::eventstore
