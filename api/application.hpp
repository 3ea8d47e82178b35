// The HTTP API of SPEC §7 assembled from its parts: who may call (Access), how a command runs
// (CommandRunner), where secrets are sealed and opened (KeySecrets), one route group per
// concern, each given only what it uses, and the router they fill once. Handlers see plain
// HttpRequest/HttpResponse values and return errors as values; Beast stays in
// http_server.cpp.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "access.hpp"
#include "audit_routes.hpp"
#include "backup_routes.hpp"
#include "channel_routes.hpp"
#include "cluster_routes.hpp"
#include "command_runner.hpp"
#include "config.hpp"
#include "console_routes.hpp"
#include "dashboard_routes.hpp"
#include "event_routes.hpp"
#include "forwarder.hpp"
#include "http_message.hpp"
#include "key_routes.hpp"
#include "key_secrets.hpp"
#include "master_key_routes.hpp"
#include "metrics.hpp"
#include "operations_routes.hpp"
#include "positions.hpp"
#include "replica_freshness.hpp"
#include "router.hpp"
#include "session_tokens.hpp"
#include "verify_endpoint.hpp"
#include "verify_routes.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "eventstore/keyring.hpp"
#include "eventstore/secret_vault.hpp"
#include "projections/projector.hpp"
#include "usecases/checkpoints.hpp"
#include "usecases/master_key_rotation.hpp"

namespace keyledger::api {

class Application {
 public:
  // Opens nothing itself: the store's parts are built by the caller (see tools/cli/serve.cpp).
  // Subscribes its read models to the pipeline: construct it before the store recovers.
  Application(ServeConfig config, eventstore::EventLog& log, eventstore::CommandPipeline& pipeline,
              eventstore::SecretVault& vault, eventstore::Keyring& keyring);
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Mirrors the recovered state into the verify index and becomes ready; call once, after
  // the store recovered and before serving.
  void start();
  // Answers one request: route, authenticate, run the handler, count and log the request.
  // `done` gets the answer on the thread the handler finished on: the caller's, or for a
  // command the executor's (set_executor) once the log has it. Threading: any thread.
  void handle(std::shared_ptr<const HttpRequest> request, std::move_only_function<void(HttpResponse)> done);
  // The same, waiting for the answer (the bench's seeding, tests).
  HttpResponse handle(const HttpRequest& request);
  // Where commands continue once durable (see CommandRunner::set_executor).
  void set_executor(eventstore::CommandPipeline::Post post);
  // Where this process answers HTTP, for the other processes of a cluster to forward commands
  // to (SPEC §10): published by the log for every partition this process owns. Once, before
  // serving.
  void advertise(const std::string& url);
  // Requests answered without waiting on the log run on the I/O threads.
  static bool answers_without_waiting(const HttpRequest& request);

  const std::vector<Router::Route>& routes() const { return router_.routes(); }

  // Background duties of `serve` (each runs on the caller's thread):
  // signs a checkpoint for every open dashboard whose history grew since its last one;
  void sign_due_checkpoints();
  // records the verifications counted since the last call, one KeyUsageRecorded per dashboard.
  void record_key_usage();
  // At start, before serving, and then among the duties while one is pending: records a
  // master key rotation a crash left pending (the keyring finished rewrapping when the store
  // opened) in the dashboards this process decides, and ends it once all have it (see
  // MasterKeyRotation::record_pending). Why not, when an event could not be appended (the
  // rotation then stays pending; the next call, or the operator's next request, finishes it).
  std::expected<usecases::MasterKeyRotation::Pending, std::string> record_pending_rotation() {
    return rotation_.record_pending();
  }
  Metrics& metrics() { return metrics_; }
  // Ends the live event streams (the server's drain calls it).
  void end_streams() { event_routes_.end_streams(); }
  // The verify hot path, for the server to answer inside the connection (see verify_endpoint.hpp).
  InlineEndpoint* inline_endpoint() { return &verify_endpoint_; }

 private:
  Task<HttpResponse> respond(std::shared_ptr<const HttpRequest> request);
  Task<Result> answer(RequestContext& ctx, std::string& route_name);
  // The partition whose owner decides the request's command, for a request that runs one on
  // a known place: a dashboard's route, a login, a creation with an Idempotency-Key, or any
  // creation through a process that decides no partition.
  std::optional<std::uint32_t> deciding_partition(const RequestContext& ctx, const Router::Route& route) const;

  ServeConfig config_;
  eventstore::EventLog& log_;
  eventstore::CommandPipeline& pipeline_;
  SessionTokens sessions_;
  projections::Projector read_models_;
  Metrics metrics_;
  Forwarder forwarder_;
  AppliedWaits applied_waits_;  // Keyledger-Min-Position
  ReplicaFreshness freshness_;
  Access access_;
  CommandRunner commands_;
  KeySecrets secrets_;
  usecases::CheckpointSigner checkpoints_;
  DashboardStates states_;
  DashboardRoutes dashboard_routes_;
  KeyRoutes key_routes_;
  ChannelRoutes channel_routes_;
  VerifyRoutes verify_routes_;
  AuditRoutes audit_routes_;
  EventRoutes event_routes_;
  usecases::MasterKeyRotation rotation_;
  MasterKeyRoutes master_key_routes_;
  BackupRoutes backup_routes_;
  std::atomic<bool> ready_{false};
  mutable std::atomic<std::uint32_t> creations_sent_on_{0};  // picks the partition of the next one
  OperationsRoutes operations_routes_;
  ClusterRoutes cluster_routes_;
  Router router_;  // filled once by the route groups in the constructor, read-only after
  VerifyEndpoint verify_endpoint_;
};

}  // namespace keyledger::api
