// The one place the API seals new secrets and opens stored ones. A secret is opened only for
// a disclosure whose audit event is already durable (the caller runs the command first), and
// read from that event itself, found through the audit index.
//
// Threading: any worker thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "eventstore/secret_vault.hpp"
#include "problem.hpp"
#include "projections/audit_index.hpp"
#include "request_context.hpp"

namespace keyledger::api {

class KeySecrets {
 public:
  KeySecrets(eventstore::SecretVault& vault, const eventstore::CommandPipeline& pipeline, eventstore::EventLog& log,
             const projections::AuditIndex& audit_index)
      : vault_(vault), pipeline_(pipeline), log_(log), audit_index_(audit_index) {}

  // A new secret for a key of an existing dashboard, with its plaintext; both empty when the
  // dashboard does not exist or is closed (the decider then refuses the command).
  Expected<eventstore::IssuedSecret> issue(domain::Channel channel, const std::string& dashboard_id,
                                           const std::string& key_id);
  // The plaintext of a sealed secret.
  Expected<std::string> open(const std::string& dashboard_id, const std::string& key_id, const domain::SealedSecret& sealed);
  // The plaintext of the secret an accepted command's event recorded: the one `issued` for
  // that command when the event carries exactly its sealed bytes, without decrypting them
  // again; opened otherwise (an idempotent replay answers with the first request's secret).
  Expected<std::string> plaintext_of(const std::string& dashboard_id, const std::string& key_id,
                                     const domain::SealedSecret& recorded, const eventstore::IssuedSecret& issued);
  // 200 with the key's listing (key_views) and its current secret in `key`.
  Result disclose(const std::string& dashboard_id, const std::string& key_id);
  // Whether the body's `password` is the calling user's (400 when it has none).
  Expected<bool> step_up_password_matches(const RequestContext& ctx) const;

 private:
  eventstore::SecretVault& vault_;
  const eventstore::CommandPipeline& pipeline_;
  eventstore::EventLog& log_;
  const projections::AuditIndex& audit_index_;
};

}  // namespace keyledger::api
