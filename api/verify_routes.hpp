// The sending services' routes: verify by the generic path (the hot path answers inside the
// connection: verify_endpoint.hpp) and leak reports from secret scanners.
#pragma once

#include "access.hpp"
#include "command_runner.hpp"
#include "forwarder.hpp"
#include "key_secrets.hpp"
#include "metrics.hpp"
#include "projections/verify_index.hpp"
#include "replica_freshness.hpp"
#include "router.hpp"

namespace keyledger::api {

class VerifyRoutes {
 public:
  VerifyRoutes(const Access& access, CommandRunner& commands, KeySecrets& secrets,
               const projections::VerifyIndex& index, const ReplicaFreshness& freshness,
               const eventstore::CommandPipeline& pipeline, Metrics& metrics, Forwarder& forwarder)
      : access_(access),
        commands_(commands),
        secrets_(secrets),
        index_(index),
        freshness_(freshness),
        pipeline_(pipeline),
        metrics_(metrics),
        forwarder_(forwarder) {}

  void add_to(Router& router);

 private:
  Result verify(RequestContext& ctx);
  Task<Result> report_leaks(RequestContext& ctx);

  const Access& access_;
  CommandRunner& commands_;
  KeySecrets& secrets_;
  const projections::VerifyIndex& index_;
  const ReplicaFreshness& freshness_;
  const eventstore::CommandPipeline& pipeline_;
  Metrics& metrics_;
  Forwarder& forwarder_;  // a leaked token of a dashboard another process owns goes there
};

}  // namespace keyledger::api
