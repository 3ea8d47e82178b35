#include "key_usage.hpp"

namespace keyledger::usecases {

namespace kd = keyledger::domain;

void record_key_usage(eventstore::CommandPipeline& pipeline, projections::VerifyIndex& index,
                      const std::function<void(const std::string&, const std::string&)>& report) {
  // Recorded by the dashboard's partition owner (SPEC §10): a process keeps counting the
  // verifications it serves of other owners' dashboards until it owns them.
  for (auto& [dashboard, usage] : index.drain_usage([&](const std::string& d) { return pipeline.decides_for(d); })) {
    kd::RecordKeyUsage command;
    for (auto& u : usage) command.usage.push_back({u.key_id, u.uses, u.last_used_at});
    auto result =
        pipeline.execute(dashboard, std::move(command), {{kd::ActorKind::system, "keyledger", ""}, "usage-timer", "", ""});
    if (result.log_error) report(dashboard, result.log_error.message());
  }
}

}  // namespace keyledger::usecases
