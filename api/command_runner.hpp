// Runs a request's command on the pipeline: checks the caller may act on the dashboard,
// binds an Idempotency-Key to the caller and the request, counts the command in /metrics,
// and answers a refusal, an idempotency conflict or a log failure as the problem the API
// gives for it. The decider judges the caller's role and audits a refusal.
//
// Threading: any thread. No thread waits while the log makes the command durable: the
// awaiting handler is resumed through the runner's executor (see set_executor).
#pragma once

#include <string>

#include "access.hpp"
#include "crypto/crypto.hpp"
#include "eventstore/command_pipeline.hpp"
#include "metrics.hpp"
#include "problem.hpp"
#include "request_context.hpp"
#include "task.hpp"

namespace keyledger::api {

class CommandRunner {
 public:
  CommandRunner(eventstore::CommandPipeline& pipeline, const Access& access, Metrics& metrics,
                std::string_view idempotency_digest_key)
      : pipeline_(pipeline), access_(access), metrics_(metrics), idempotency_digest_key_(idempotency_digest_key) {}

  // Where commands' completions run (their fold, then the rest of the handler): the HTTP
  // server's worker pool when serving; by default the log's writer thread (for callers that
  // wait, such as the CLI and the bench). Set before the first command.
  void set_executor(eventstore::CommandPipeline::Post post) { post_ = std::move(post); }

  // The accepted command's result (or its earlier result, replayed), or the problem.
  Task<Expected<eventstore::CommandResult>> run(RequestContext& ctx, const std::string& dashboard_id,
                                                domain::Command command);
  // The problem for a result that is not accepted (also for commands run otherwise).
  Expected<eventstore::CommandResult> accepted(const RequestContext& ctx, eventstore::CommandResult result) const;

 private:
  eventstore::CommandPipeline& pipeline_;
  const Access& access_;
  Metrics& metrics_;
  crypto::HmacSha256Key idempotency_digest_key_;
  eventstore::CommandPipeline::Post post_ = eventstore::CommandPipeline::inline_post();
};

}  // namespace keyledger::api
