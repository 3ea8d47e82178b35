// `keyledger serve` configuration (SPEC §8): each field comes from a KEYLEDGER_* variable or
// the flag of the same name in kebab case.
#pragma once

#include <chrono>
#include <string>

namespace keyledger::api {

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";
  std::string store = "file:./keyledger-data";
  std::string master_key_file;
  std::string operator_token;
  std::string service_token;
  std::string tls_cert;
  std::string tls_key;
  std::chrono::seconds session_ttl{3600};
  unsigned threads = 2;           // I/O threads; blocking work runs on the worker pool
  unsigned workers = 4;           // threads that run request handlers (none waits for the log)
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds drain_timeout{10};  // SIGTERM: time in-flight requests get to finish
  std::uint64_t snapshot_every = 100000;  // events between automatic snapshots
  std::chrono::seconds checkpoint_every{3600};  // signed audit checkpoints
  std::chrono::seconds usage_interval{60};      // one KeyUsageRecorded per dashboard and interval
  int rotation_age_days = 90;                   // compliance: Email and WhatsApp keys older than this
  std::chrono::milliseconds sse_heartbeat{15000};  // a comment on an event stream after this long without events
  std::chrono::milliseconds max_staleness{5000};   // verify fails closed past it (SPEC §10, Kafka replicas)
  std::string cluster_token;  // between the processes of a Kafka cluster: forwarding (SPEC §10)
  std::string advertise;      // where the others reach this process; default: the listen address
};

}  // namespace keyledger::api
