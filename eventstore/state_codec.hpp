// A dashboard's decider state in the snapshot's binary form (binary_codec.hpp primitives).
// Fields are written in a fixed order; the snapshot format's version covers the layout, so
// any change here is a new snapshot version (older snapshots are then ignored and the log
// replayed).
#pragma once

#include "binary_codec.hpp"
#include "domain/dashboard_state.hpp"

namespace keyledger::eventstore {

void encode_state(binary::Writer& out, const domain::DashboardState& state);
// False when the bytes do not hold a state (the reader then says why: !ok()).
bool decode_state(binary::Reader& in, domain::DashboardState& state);

}  // namespace keyledger::eventstore
