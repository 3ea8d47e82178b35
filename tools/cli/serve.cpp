// `keyledger serve`: the HTTP API over a store, with its background duties.
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/application.hpp"
#include "api/http_server.hpp"
#include "commands.hpp"
#include "eventstore/snapshot_store.hpp"
#include "eventstore/thread_name.hpp"
#include "store_access.hpp"

namespace keyledger::cli {

namespace es = keyledger::eventstore;

namespace {

// SIGTERM or SIGINT before the server listens (while the store opens, the process joins the
// owners' group and waits for its share of the partitions, and the log is read) is
// remembered here and acted on at the next step, so that the process still leaves the group
// as it stops; killed by the signal's default action, it held the partitions it had been
// given until its session timed out. A second signal stops the process at once. Once the
// HTTP server exists, its own handler takes both signals over.
std::atomic<bool> stop_requested{false};

extern "C" void remember_stop(int signal) {
  if (stop_requested.exchange(true)) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

OptionSet serve_options() {
  OptionSet options("serve");
  options.text("listen", "HOST:PORT", "where to accept connections; port 0 picks a free port", "127.0.0.1:8080")
      .text("operator-token", "TOKEN", "bearer token of the platform operator (at least 16 characters)")
      .text("service-token", "TOKEN", "bearer token of the sending services (at least 16 characters)")
      .text("tls-cert", "FILE", "HTTPS when both this and --tls-key are set")
      .text("tls-key", "FILE", "the certificate's private key")
      .number("session-ttl", "SECONDS", "how long a session token lasts", 3600)
      .number("threads", "N", "I/O threads", std::max(2u, std::thread::hardware_concurrency()))
      .number("workers", "N", "threads that run request handlers (none waits for the log)", 4)
      .number("read-timeout", "SECONDS", "time for a whole request", 10)
      .number("idle-timeout", "SECONDS", "keep-alive wait", 60)
      .number("drain-timeout", "SECONDS",
              "after SIGTERM, time in-flight requests get to finish before the server stops regardless", 10)
      .number("snapshot-every", "N", "events between snapshots (file stores, and Kafka stores with --replica-dir)", 100000)
      .text("replica-dir", "DIR",
            "on a Kafka store, keep this process's replica of the topic (its records and snapshots of its state) "
            "in DIR, so that a restart reads only what was committed since; one process per DIR (default: none, "
            "each start reads the whole topic)")
      .number("group-commit-us", "N",
              "when commands are queued behind one being made durable, wait up to N microseconds for more to "
              "join its fsync (or Kafka transaction); a lone command never waits",
              500)
      .number("checkpoint-every", "SECONDS", "sign each changed dashboard's chain head (Ed25519) this often", 3600)
      .number("sse-heartbeat", "SECONDS", "send a comment on an event stream after this long without events", 15)
      .number("usage-interval", "SECONDS",
              "record verification counts per key as one event per dashboard this often", 60)
      .number("rotation-age-days", "N", "the compliance report's rotation age", 90)
      .number("max-staleness", "SECONDS",
              "on a Kafka store, verify answers 503 replica_stale for keys of a partition this process has not "
              "known to be current for longer than this (the brokers away, or its copy lagging)",
              5)
      .text("cluster-token", "TOKEN",
            "on a Kafka cluster, the token its processes present to each other when one forwards a command to the "
            "owner of its dashboard's partition (at least 16 characters; the same on every process); without it "
            "such commands are answered 503 not_owner")
      .text("advertise", "URL",
            "on a Kafka cluster, where the other processes reach this one (default: http(s)://the listen address)")
      .number("group-session-timeout", "SECONDS",
              "on a Kafka store, how long the cluster waits for a silent process before its partitions go to "
              "the others (at least the brokers' group.min.session.timeout.ms)",
              6)
      .include(store_options());
  return options;
}

int serve(const Invocation& invocation) {
  // A full disk or a file size limit must surface as a write error (503), not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, remember_stop);
  std::signal(SIGINT, remember_stop);
  api::ServeConfig config;
  config.listen = invocation.text("listen");
  config.store = invocation.text("store");
  config.master_key_file = invocation.text("master-key-file");
  config.operator_token = invocation.text("operator-token");
  config.service_token = invocation.text("service-token");
  config.tls_cert = invocation.text("tls-cert");
  config.tls_key = invocation.text("tls-key");
  config.session_ttl = std::chrono::seconds(invocation.number("session-ttl"));
  config.threads = static_cast<unsigned>(invocation.number("threads"));
  config.workers = static_cast<unsigned>(invocation.number("workers"));
  config.read_timeout = std::chrono::seconds(invocation.number("read-timeout"));
  config.idle_timeout = std::chrono::seconds(invocation.number("idle-timeout"));
  config.drain_timeout = std::chrono::seconds(invocation.number("drain-timeout"));
  config.snapshot_every = invocation.number("snapshot-every");
  config.checkpoint_every = std::chrono::seconds(invocation.number("checkpoint-every"));
  config.sse_heartbeat = std::chrono::seconds(invocation.number("sse-heartbeat"));
  config.usage_interval = std::chrono::seconds(invocation.number("usage-interval"));
  config.rotation_age_days = static_cast<int>(invocation.number("rotation-age-days"));
  config.max_staleness = std::chrono::seconds(invocation.number("max-staleness"));
  config.cluster_token = invocation.text("cluster-token");
  config.advertise = invocation.text("advertise");
  if (config.cluster_token.size() < 16 && !config.cluster_token.empty()) {
    throw std::runtime_error("KEYLEDGER_CLUSTER_TOKEN must be at least 16 characters");
  }
  if (config.operator_token.size() < 16 && !config.operator_token.empty()) {
    throw std::runtime_error("KEYLEDGER_OPERATOR_TOKEN must be at least 16 characters");
  }
  if (config.service_token.size() < 16 && !config.service_token.empty()) {
    throw std::runtime_error("KEYLEDGER_SERVICE_TOKEN must be at least 16 characters");
  }
  if (!invocation.text("replica-dir").empty() && config.store.rfind("kafka://", 0) != 0) {
    throw std::runtime_error("--replica-dir (KEYLEDGER_REPLICA_DIR) is for Kafka stores; a file store keeps its own");
  }
  if (config.threads == 0 || config.workers == 0) throw std::runtime_error("--threads and --workers must be at least 1");

  auto started = std::chrono::steady_clock::now();
  auto store = open_store(invocation, true, [] { return stop_requested.load(); });
  if (stop_requested) {  // the store (and the owners' group) is left as it closes
    log_line({{"level", "info"}, {"msg", "stopped before serving"}});
    return 0;
  }
  api::Application app(config, *store->log, *store->pipeline, *store->vault, *store->keyring);
  recover(*store, "replaying the log");
  log_line({{"level", "info"},
            {"msg", "log recovered"},
            {"store", config.store},
            {"events", store->pipeline->events()},
            {"snapshot_events", store->snapshot_events},
            {"replayed", store->pipeline->events() - store->snapshot_events},
            {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});

  // A master key rotation a crash left pending: recorded here at start, and on a cluster
  // finished once the other processes have recorded their dashboards (retried below). Each
  // outcome is said once.
  std::string said_of_rotation;
  auto finish_pending_rotation = [&] {
    auto pending = store->keyring->pending_rotation();
    if (!pending) return;
    auto recorded = app.record_pending_rotation();
    nlohmann::json line{{"from", pending->from}, {"to", pending->to}};
    if (!recorded) {
      line.update({{"level", "error"}, {"msg", "master key rotation still pending"}, {"error", recorded.error()}});
    } else if (*recorded == usecases::MasterKeyRotation::Pending::finished) {
      line.update({{"level", "info"}, {"msg", "master key rotation finished"}});
    } else if (*recorded == usecases::MasterKeyRotation::Pending::others_to_record) {
      line.update({{"level", "info"},
                   {"msg", "master key rotation recorded here; finished once the other processes record theirs"}});
    } else {
      return;
    }
    if (line.dump() == said_of_rotation) return;
    said_of_rotation = line.dump();
    log_line(line);
  };
  finish_pending_rotation();
  app.start();

  api::ServerOptions server_options;
  server_options.limits.read_timeout = config.read_timeout;
  server_options.limits.idle_timeout = config.idle_timeout;
  server_options.limits.drain_timeout = config.drain_timeout;
  server_options.answers_inline = &api::Application::answers_without_waiting;
  server_options.inline_endpoint = app.inline_endpoint();
  server_options.open_connections = &app.metrics().open_connections();
  server_options.worker_threads = config.workers;
  server_options.tls_cert_file = config.tls_cert;
  server_options.tls_key_file = config.tls_key;
  server_options.on_drain = [&app] { app.end_streams(); };
  api::HttpServer server(
      config.listen, [&app](auto request, auto done) { app.handle(std::move(request), std::move(done)); },
      server_options);
  // The server's handler now has SIGTERM and SIGINT; one that came while the log was read is
  // handed to it (queued until it runs, and then it stops as after any SIGTERM).
  if (stop_requested) std::raise(SIGTERM);
  // Commands continue on the worker pool once durable: no thread waits for the log.
  app.set_executor([&server](std::move_only_function<void()> job) { server.post(std::move(job)); });
  app.advertise(config.advertise.empty() ? std::string(server.tls() ? "https://" : "http://") + server.local_address()
                                         : config.advertise);

  // Snapshots in the background, so that a restart replays at most snapshot_every events.
  std::mutex snapshot_mutex;
  std::condition_variable snapshot_cv;
  bool stopping = false;
  std::uint64_t snapshot_at = store->snapshot_events;
  auto take_snapshot = [&] {
    if (!store->snapshots_supported() || store->pipeline->events() == snapshot_at) return;
    auto began = std::chrono::steady_clock::now();
    if (auto written = es::write_snapshot(store->directory, *store->pipeline)) {
      snapshot_at = written->events;
      log_line({{"level", "info"}, {"msg", "snapshot written"}, {"events", written->events}, {"path", written->path},
                {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count()}});
    } else {
      log_line({{"level", "warn"}, {"msg", "snapshot failed"}, {"directory", store->directory}});
    }
  };
  // Background duties on one thread: snapshots, signed audit checkpoints, key usage.
  std::thread duties([&] {
    name_this_thread("kl-duties");
    auto next_checkpoint = std::chrono::steady_clock::now() + config.checkpoint_every;
    auto next_usage = std::chrono::steady_clock::now() + config.usage_interval;
    auto next_rotation_check = std::chrono::steady_clock::now();
    std::unique_lock lock(snapshot_mutex);
    while (!snapshot_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping; })) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next_usage) {
        app.record_key_usage();
        next_usage = now + config.usage_interval;
      }
      if (now >= next_checkpoint) {
        app.sign_due_checkpoints();
        next_checkpoint = now + config.checkpoint_every;
      }
      if (store->pipeline->events() - snapshot_at >= config.snapshot_every) take_snapshot();
      if (now >= next_rotation_check) {
        finish_pending_rotation();
        next_rotation_check = now + std::chrono::seconds(1);
      }
    }
  });

  log_line({{"level", "info"},
            {"msg", "listening"},
            {"address", server.local_address()},
            {"scheme", server.tls() ? "https" : "http"}});
  server.run(config.threads);
  {
    std::lock_guard lock(snapshot_mutex);
    stopping = true;
  }
  snapshot_cv.notify_all();
  duties.join();
  app.record_key_usage();  // the last interval's counts are not lost at shutdown
  take_snapshot();
  log_line({{"level", "info"}, {"msg", "stopped"}});
  return 0;
}

}  // namespace keyledger::cli
