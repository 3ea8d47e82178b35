// Key usage (SPEC §6): verifications are counted in the verify index, in memory, and
// recorded as one KeyUsageRecorded event per dashboard per interval, never one per call.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include "eventstore/command_pipeline.hpp"
#include "projections/verify_index.hpp"

namespace keyledger::usecases {

// Where the uses of a dashboard this process does not decide for go (SPEC §10: its
// partition's owner records them): true once the owner has them.
using SendUsage = std::function<std::expected<void, std::string>(const std::string& dashboard,
                                                                  const domain::RecordKeyUsage& usage)>;

// Records the uses counted since the last call; `report(dashboard, why)` for each dashboard
// whose event the log refused (those counts are lost, as a crash would lose them). The uses
// of dashboards another process decides for go to `send_elsewhere` when one is given (lost,
// and reported, when it fails); without one they keep counting here until this process
// decides for the dashboard.
void record_key_usage(eventstore::CommandPipeline& pipeline, projections::VerifyIndex& index,
                      const std::function<void(const std::string&, const std::string&)>& report,
                      const SendUsage& send_elsewhere = nullptr);

}  // namespace keyledger::usecases
