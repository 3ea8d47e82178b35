// Key usage (SPEC §6): verifications are counted in the verify index, in memory, and
// recorded as one KeyUsageRecorded event per dashboard per interval, never one per call.
#pragma once

#include <functional>
#include <string>

#include "eventstore/command_pipeline.hpp"
#include "projections/verify_index.hpp"

namespace keyledger::usecases {

// Records the uses counted since the last call; `report(dashboard, why)` for each dashboard
// whose event the log refused (those counts are lost, as a crash would lose them).
void record_key_usage(eventstore::CommandPipeline& pipeline, projections::VerifyIndex& index,
                      const std::function<void(const std::string&, const std::string&)>& report);

}  // namespace keyledger::usecases
