#include "key_usage.hpp"

namespace keyledger::usecases {

namespace kd = keyledger::domain;

void record_key_usage(eventstore::CommandPipeline& pipeline, projections::VerifyIndex& index,
                      const std::function<void(const std::string&, const std::string&)>& report,
                      const SendUsage& send_elsewhere) {
  // Recorded by the dashboard's partition owner (SPEC §10): the verifications this process
  // serves of other owners' dashboards are sent to them, or keep counting until it owns them.
  for (auto& [dashboard, usage] :
       index.drain_usage([&](const std::string& d) { return send_elsewhere || pipeline.decides_for(d); })) {
    kd::RecordKeyUsage command;
    for (auto& u : usage) command.usage.push_back({u.key_id, u.uses, u.last_used_at});
    if (send_elsewhere && !pipeline.decides_for(dashboard)) {
      if (auto sent = send_elsewhere(dashboard, command); !sent) report(dashboard, sent.error());
      continue;
    }
    auto result =
        pipeline.execute(dashboard, std::move(command), {{kd::ActorKind::system, "keyledger", ""}, "usage-timer", "", ""});
    if (result.log_error) report(dashboard, result.log_error.message());
  }
}

}  // namespace keyledger::usecases
