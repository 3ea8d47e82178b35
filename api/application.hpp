// The HTTP API of SPEC §7 over the store: authentication, the route table, and one handler
// per route. Handlers see plain HttpRequest/HttpResponse values; Beast stays in
// http_server.cpp. Route handlers are grouped by concern in *_routes.cpp.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "eventstore/keyring.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/secret_vault.hpp"
#include "http_message.hpp"
#include "metrics.hpp"
#include "projections/projector.hpp"
#include "session_tokens.hpp"
#include "usecases/dashboards.hpp"
#include "verify_endpoint.hpp"

namespace keyledger::api {

// Who is calling, from the bearer token.
struct Principal {
  enum class Kind { anonymous, platform_operator, service, user } kind = Kind::anonymous;
  std::string dashboard_id;  // users only
  std::string email;         // users only
};

// An error answered as problem+json; thrown by handlers and request parsing.
struct ApiError {
  int status;
  std::string code;
  std::string detail;
  std::string field;  // for invalid_request
  std::vector<std::pair<std::string, std::string>> headers;
};

struct RequestContext {
  const HttpRequest& request;
  std::map<std::string, std::string> params;  // path parameters, percent-decoded
  std::map<std::string, std::string> query;
  Principal principal;
  std::string request_id;
  bool honours_idempotency_key = true;  // false where one request runs several commands
  const nlohmann::json& body() const;  // parsed on first use; 400 when not a JSON object
  mutable std::optional<nlohmann::json> parsed_body;
};

class Application {
 public:
  using Handler = HttpResponse (Application::*)(RequestContext&);
  struct Route {
    std::string method;
    std::string pattern;  // "/v1/dashboards/{d}/email/keys/{id}"
    Handler handler;
  };

  // Opens nothing itself: the store's parts are built by the caller (see tools/cli/serve.cpp).
  // Subscribes its read models to the pipeline: construct it before the store recovers.
  Application(ServeConfig config, eventstore::EventLog& log, eventstore::CommandPipeline& pipeline,
              eventstore::SecretVault& vault, const eventstore::MasterKey& master_key);

  // Mirrors the recovered state into the verify index and becomes ready; call once, after
  // the store recovered and before serving.
  void start();
  HttpResponse handle(const HttpRequest& request);
  // Requests answered without waiting on the log run on the I/O threads.
  static bool answers_without_waiting(const HttpRequest& request);

  static const std::vector<Route>& routes();

  // Background duties of `serve` (each runs on the caller's thread):
  // signs a checkpoint for every open dashboard whose history grew since its last one;
  void sign_due_checkpoints();
  // records the verifications counted since the last call, one KeyUsageRecorded per dashboard.
  void record_key_usage();
  Metrics& metrics() { return metrics_; }
  // The verify hot path, for the server to answer inside the connection (see verify_endpoint.hpp).
  InlineEndpoint* inline_endpoint() { return &verify_endpoint_; }
  void set_ready(bool ready) { ready_.store(ready); }

 private:
  // --- plumbing (application.cpp) ---
  Principal authenticate(const HttpRequest& request) const;
  // The caller's role in the dashboard named by the path; throws 401/403/404 as due.
  domain::Role require_member(const RequestContext& ctx, std::initializer_list<domain::Role> roles) const;
  void require_principal(const RequestContext& ctx, Principal::Kind kind) const;
  domain::Actor actor_of(const RequestContext& ctx) const;
  eventstore::CommandResult run(RequestContext& ctx, const std::string& dashboard_id, domain::Command command);
  // Throws the problem for a refused or failed command.
  void throw_if_refused(const RequestContext& ctx, const eventstore::CommandResult& result);
  bool step_up_password_matches(const RequestContext& ctx);
  // A new secret for an existing dashboard, sealed; empty when the dashboard does not exist
  // or is closed (the decider then refuses the command).
  domain::SealedSecret issue_secret(domain::Channel channel, const std::string& dashboard_id, const std::string& key_id);
  std::string open_secret(const std::string& dashboard_id, const std::string& key_id, const domain::SealedSecret& s);
  // A key's listing with its current secret: for disclosures, once the event recording
  // the disclosure is durable.
  nlohmann::json key_with_secret(const std::string& dashboard_id, const std::string& key_id);
  nlohmann::json key_json(std::string_view key_id, const domain::ApiKey& key, domain::Timestamp now) const;
  nlohmann::json key_json(const std::string& dashboard_id, const std::string& key_id) const;

  // --- dashboards, users, sessions (dashboard_routes.cpp) ---
  HttpResponse create_dashboard(RequestContext&);
  HttpResponse get_dashboard(RequestContext&);
  HttpResponse close_dashboard(RequestContext&);
  HttpResponse create_session(RequestContext&);
  HttpResponse add_user(RequestContext&);
  HttpResponse list_users(RequestContext&);
  HttpResponse remove_user(RequestContext&);
  // --- Email and WhatsApp (key_routes.cpp) ---
  HttpResponse generate_email_key(RequestContext&);
  HttpResponse list_email_keys(RequestContext&);
  HttpResponse get_email_key(RequestContext&);
  HttpResponse change_email_key(RequestContext&);
  HttpResponse rotate_email_key(RequestContext&);
  HttpResponse reveal_email_key(RequestContext&);
  HttpResponse revoke_email_key(RequestContext&);
  HttpResponse generate_whatsapp_key(RequestContext&);
  HttpResponse list_whatsapp_keys(RequestContext&);
  HttpResponse get_whatsapp_key(RequestContext&);
  HttpResponse reveal_whatsapp_key(RequestContext&);
  HttpResponse rotate_whatsapp_key(RequestContext&);
  HttpResponse revoke_whatsapp_key(RequestContext&);
  // --- SMS and RCS (channel_routes.cpp) ---
  HttpResponse register_number(RequestContext&);
  HttpResponse list_numbers(RequestContext&);
  HttpResponse get_number(RequestContext&);
  HttpResponse view_sms_key(RequestContext&);
  HttpResponse rotate_sms_key(RequestContext&);
  HttpResponse deregister_number(RequestContext&);
  HttpResponse generate_sms_key(RequestContext&);
  HttpResponse get_rcs_key(RequestContext&);
  HttpResponse reveal_rcs_key(RequestContext&);
  HttpResponse generate_rcs_key(RequestContext&);
  HttpResponse rotate_rcs_key(RequestContext&);
  HttpResponse revoke_rcs_key(RequestContext&);
  HttpResponse reissue_rcs_key(RequestContext&);
  HttpResponse register_bot(RequestContext&);
  HttpResponse list_bots(RequestContext&);
  HttpResponse remove_bot(RequestContext&);
  // --- verify and leaks (verify_routes.cpp) ---
  HttpResponse verify(RequestContext&);
  HttpResponse report_leaks(RequestContext&);
  // --- audit and compliance (audit_routes.cpp) ---
  HttpResponse list_audit(RequestContext&);
  HttpResponse export_audit(RequestContext&);
  HttpResponse verify_audit(RequestContext&);
  HttpResponse compliance(RequestContext&);
  HttpResponse sign_checkpoint(RequestContext&);
  HttpResponse latest_checkpoint(RequestContext&);
  HttpResponse checkpoint_public_key(RequestContext&);
  HttpResponse list_projections(RequestContext&);
  // Signs the dashboard's current head as `actor`; the appended result.
  eventstore::CommandResult sign(const std::string& dashboard_id, const domain::Actor& actor,
                                 const std::string& request_id);
  // --- operations (application.cpp) ---
  HttpResponse healthz(RequestContext&);
  HttpResponse readyz(RequestContext&);
  HttpResponse get_metrics(RequestContext&);
  HttpResponse openapi(RequestContext&);

  ServeConfig config_;
  eventstore::EventLog& log_;
  eventstore::CommandPipeline& pipeline_;
  eventstore::SecretVault& vault_;
  std::string checkpoint_seed_;
  SessionTokens sessions_;
  projections::Projector read_models_;
  crypto::HmacSha256Key idempotency_digest_key_;
  Metrics metrics_;
  VerifyEndpoint verify_endpoint_;
  std::atomic<bool> ready_{false};
};

// The API's answer to a use case that did not run its command.
ApiError problem_of(const usecases::Problem& problem);
// Renders an ApiError as problem+json.
HttpResponse problem_response(const ApiError& error);
HttpResponse json_response(int status, const nlohmann::json& body);

}  // namespace keyledger::api
