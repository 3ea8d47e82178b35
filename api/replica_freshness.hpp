// Verify fails closed on a stale replica (SPEC §10): when this process's copy of a
// partition has not been known current for longer than KEYLEDGER_MAX_STALENESS (the brokers
// away, or the copy lagging), a key of a dashboard on that partition is answered 503
// replica_stale instead of from state that may miss its revocation.
//
// The common case costs one check of the log's largest staleness; only when some partition
// is stale is the key's dashboard's partition looked up.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "problem.hpp"

namespace keyledger::api {

class ReplicaFreshness {
 public:
  ReplicaFreshness(const eventstore::EventLog& log, const eventstore::CommandPipeline& pipeline,
                   std::chrono::milliseconds limit)
      : log_(log), pipeline_(pipeline), limit_(limit) {}

  // The dashboard's partition's staleness, when it is over the limit; none for a dashboard
  // this process has no event of (a key found nowhere has an empty id).
  std::optional<std::chrono::milliseconds> stale(const std::string& dashboard_id) const;
  // 503 replica_stale with Retry-After, saying how stale.
  static ApiError stale_error(std::chrono::milliseconds staleness);

 private:
  const eventstore::EventLog& log_;
  const eventstore::CommandPipeline& pipeline_;
  std::chrono::milliseconds limit_;
};

}  // namespace keyledger::api
