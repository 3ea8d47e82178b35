// Runs a request's command on the pipeline: checks the caller may act on the dashboard,
// binds an Idempotency-Key to the caller and the request, counts the command in /metrics,
// and answers a refusal, an idempotency conflict or a log failure as the problem the API
// gives for it. The decider judges the caller's role and audits a refusal.
//
// Threading: a worker thread; blocks until the log has the command's events durable.
#pragma once

#include <string>

#include "access.hpp"
#include "crypto/crypto.hpp"
#include "eventstore/command_pipeline.hpp"
#include "metrics.hpp"
#include "problem.hpp"
#include "request_context.hpp"

namespace keyledger::api {

class CommandRunner {
 public:
  CommandRunner(eventstore::CommandPipeline& pipeline, const Access& access, Metrics& metrics,
                std::string_view idempotency_digest_key)
      : pipeline_(pipeline), access_(access), metrics_(metrics), idempotency_digest_key_(idempotency_digest_key) {}

  // The accepted command's result (or its earlier result, replayed), or the problem.
  Expected<eventstore::CommandResult> run(RequestContext& ctx, const std::string& dashboard_id, domain::Command command);
  // The problem for a result that is not accepted (also for commands run otherwise).
  Expected<eventstore::CommandResult> accepted(const RequestContext& ctx, eventstore::CommandResult result) const;

 private:
  eventstore::CommandPipeline& pipeline_;
  const Access& access_;
  Metrics& metrics_;
  crypto::HmacSha256Key idempotency_digest_key_;
};

}  // namespace keyledger::api
