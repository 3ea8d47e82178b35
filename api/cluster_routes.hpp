// What the processes of a Kafka cluster ask each other (SPEC §10), answered only to a peer
// (a request carrying this cluster's Keyledger-Cluster-Token): reserving an SMS number for a
// registration another process decides, by the owner of the number's own partition, and
// letting such a reservation go; recording the key usage another process counted, by the
// owner of the dashboard's partition.
#pragma once

#include "eventstore/command_pipeline.hpp"
#include "positions.hpp"
#include "router.hpp"
#include "task.hpp"

namespace keyledger::api {

class ClusterRoutes {
 public:
  ClusterRoutes(eventstore::CommandPipeline& pipeline, AppliedWaits& applied_waits)
      : pipeline_(pipeline), applied_waits_(applied_waits) {}

  void add_to(Router& router);
  // Where a reservation's answer resumes once the log recorded it: the server's worker pool.
  void set_executor(eventstore::CommandPipeline::Post post) { post_ = std::move(post); }

 private:
  Task<Result> reserve_number(RequestContext& ctx);
  Result release_number(RequestContext& ctx);
  Result record_usage(RequestContext& ctx);

  eventstore::CommandPipeline& pipeline_;
  AppliedWaits& applied_waits_;  // a number held in another process's partition: caught up first
  eventstore::CommandPipeline::Post post_ = eventstore::CommandPipeline::inline_post();
};

}  // namespace keyledger::api
