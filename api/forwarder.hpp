// Any process answers any request (SPEC §10): a command for a partition another process of
// the cluster owns is sent on, one hop, to that owner — found where it published its address
// (EventLog::owner_url) — with the caller's bearer token, Idempotency-Key and address, and
// the cluster token that tells the owner the request comes from a peer. The forwarding
// process answers with the owner's answer once it has itself applied what the command wrote
// (its Keyledger-Position), so a client that stays on one process reads its own writes.
// The same way, a process registering an SMS number asks the owner of the number's
// partition to reserve it (POST /v1/cluster/number-reservations).
//
// No owner known, an owner that does not answer the connection, or one that says it is not
// the owner (any more): tried again every 50 ms for up to 3 s, then 503 not_owner with
// Retry-After; nothing was sent that could have acted. An owner that took the request but
// gave no answer: 502 forwarding_failed (the command may have been applied: a retry with
// the same Idempotency-Key is safe). A forwarded request is never forwarded again.
//
// Threading: any thread; the exchanges run on the forwarder's own threads (each waits on
// one owner at a time, on a connection kept open between requests: HttpConnections), and
// the awaiting handler resumes on the executor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "http_client.hpp"
#include "http_message.hpp"
#include "metrics.hpp"
#include "positions.hpp"
#include "problem.hpp"
#include "request_context.hpp"
#include "task.hpp"

namespace keyledger::api {

class Forwarder {
 public:
  // Forwards nothing, and trusts no peer, when `cluster_token` is empty.
  Forwarder(std::string cluster_token, eventstore::EventLog& log, const eventstore::CommandPipeline& pipeline,
            Metrics& metrics);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  bool enabled() const { return !token_.empty(); }
  // Where this process answers (never forwarded to). Set once, before serving.
  void set_self(std::string url) { self_ = std::move(url); }
  // Where the awaiting handler resumes (the worker pool when serving). Set before serving.
  void set_executor(eventstore::CommandPipeline::Post post) { post_ = std::move(post); }

  // Whether the request was forwarded by a peer: it carries this cluster's token (401 when it
  // carries another). The request's client address is then the one the peer sent.
  Expected<bool> from_peer(RequestContext& ctx) const;

  // The owner's answer to the request (with `body` instead of the request's own when given:
  // one part of a request that spans partitions), once this process applied what it wrote;
  // nothing when this process came to own the partition meanwhile (the caller decides it here).
  Task<Expected<std::optional<HttpResponse>>> forward(RequestContext& ctx, std::uint32_t partition,
                                                      std::optional<std::string> body = std::nullopt);
  // The same for a request of the handler's own to the owner: POST `target` with the JSON
  // `body`, the caller's Authorization and address.
  Task<Expected<std::optional<HttpResponse>>> ask_owner(RequestContext& ctx, std::uint32_t partition,
                                                        std::string target, std::string body);

  // Has the owner of `partition` (the number's) reserve `number` for `dashboard_id`: the
  // dashboard the number belongs to now (`dashboard_id` when granted); nothing when this
  // process came to own the partition meanwhile (it reserves the number itself then).
  Task<Expected<std::optional<std::string>>> reserve_number(const RequestContext& ctx, std::uint32_t partition,
                                                            const std::string& number, const std::string& dashboard_id);
  // Sends a dashboard's key usage counted here to the owner of its partition, which records
  // it (POST /v1/cluster/key-usage), waiting for the answer on the caller's thread (the
  // background duties', never a handler's). Why not, when it did not get there.
  std::expected<void, std::string> send_usage(std::uint32_t partition, const std::string& dashboard_id,
                                              const domain::RecordKeyUsage& usage);
  // Lets that reservation go (the registration was refused or failed), without waiting.
  void release_number(const RequestContext& ctx, std::uint32_t partition, const std::string& number,
                      const std::string& dashboard_id);

 private:
  // One request to a partition's owner.
  struct PeerCall {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string request_id, client_ip;
  };
  template <class T>
  class OnOwnThread;
  // forward()'s and ask_owner()'s exchange, on the forwarder's threads.
  Task<Expected<std::optional<HttpResponse>>> relay(RequestContext& ctx, PeerCall call, std::uint32_t partition);
  // The owner's answer; nothing when this process owns the partition now; the problem when
  // none answered (see above).
  Expected<std::optional<HttpAnswer>> exchange(const PeerCall& call, std::uint32_t partition);
  // A forwarded command's answer, once what it wrote is applied here.
  std::pair<HttpResponse, WrittenPositions> relay_answer(const std::string& request_id, HttpAnswer answer);
  void submit(std::move_only_function<void()> job);
  void run_jobs();

  std::string token_;
  std::string self_;
  eventstore::EventLog& log_;
  const eventstore::CommandPipeline& pipeline_;
  Metrics& metrics_;
  eventstore::CommandPipeline::Post post_ = eventstore::CommandPipeline::inline_post();
  HttpConnections connections_;  // to the owners, kept open between requests

  std::mutex jobs_mutex_;
  std::condition_variable jobs_ready_;
  std::deque<std::move_only_function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: started once the rest is in place
};

}  // namespace keyledger::api
