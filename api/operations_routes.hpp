// What operators and their tooling read: liveness, readiness, Prometheus metrics, and the
// OpenAPI document. Answered on the I/O threads: none of them waits on the log.
#pragma once

#include <atomic>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "metrics.hpp"
#include "router.hpp"

namespace keyledger::api {

class OperationsRoutes {
 public:
  OperationsRoutes(const std::atomic<bool>& ready, const eventstore::CommandPipeline& pipeline,
                   const eventstore::EventLog& log, const Metrics& metrics)
      : ready_(ready), pipeline_(pipeline), log_(log), metrics_(metrics) {}

  void add_to(Router& router);

 private:
  Result readyz() const;
  Result metrics() const;

  const std::atomic<bool>& ready_;
  const eventstore::CommandPipeline& pipeline_;
  const eventstore::EventLog& log_;
  const Metrics& metrics_;
};

}  // namespace keyledger::api
