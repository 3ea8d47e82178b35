// Runs `keyledger serve` as a child process on a free loopback port and talks HTTP/1.1 to
// it over a real socket, for end-to-end tests.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <string>
#include <sys/types.h>
#include <functional>
#include <vector>

#include "support/eventually.hpp"
#include "support/test_store.hpp"

namespace keyledger::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

inline const std::string kOperatorToken = "operator-token-for-tests-0001";
inline const std::string kServiceToken = "service-token-for-tests-0001";

class ServerProcess {
 public:
  // Starts `keyledger serve` on a free loopback port with its store in `data_dir` (a master
  // key is created there on first use), the test operator and service tokens, `env` on top,
  // and `args` after "serve"; waits for its "listening" line. On the Kafka backend with
  // KEYLEDGER_TEST_CLUSTER=N, N-1 more processes serve the same store beside it, as a
  // cluster (a cluster token added): requests go to this one, which owns a share of the
  // topic's partitions and forwards to the others (or asks them to reserve a number) for
  // the rest; it returns once the others hold a share too, and throws when they do not
  // within 20 s. They are killed with it; pid() and terminate() are this one's.
  // With Started::spawned it returns at once, without waiting for anything (no address).
  enum class Started { listening, spawned };
  explicit ServerProcess(const std::string& data_dir, std::map<std::string, std::string> env = {},
                         std::vector<std::string> args = {}, Started started = Started::listening);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  // One exchange on a new connection; throws when no complete answer came, or nothing more
  // for `quiet_for`.
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = "", std::map<std::string, std::string> headers = {},
                    std::chrono::milliseconds quiet_for = std::chrono::seconds(30)) const;
  // Sends SIGTERM and waits; returns the exit status.
  int terminate();
  // Sends SIGTERM and waits at most `bound`: the exit status, or nothing (and the process
  // killed) when it did not exit in time.
  std::optional<int> terminate_within(std::chrono::milliseconds bound);
  // Everything the server wrote to stderr so far.
  std::string log() const;
  pid_t pid() const { return pid_; }

 private:
  ServerProcess() = default;  // a companion, started by spawn()
  void spawn(const std::vector<std::string>& serve_args, const std::map<std::string, std::string>& env);
  void wait_listening();
  // Kills this process if it runs, reaps it, joins its log reader: the destructor's work, and a
  // failed start's (a throwing constructor runs no destructor; companions go as members).
  void kill_and_reap();
  // Waits for this process and its companions to listen and, for a cluster, to share the
  // partitions; throws when they do not.
  void wait_started(bool https);

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string address_;
  mutable std::mutex log_mutex_;
  std::string log_;
  std::thread log_reader_;  // drains the server's stderr so it never blocks on a full pipe
  std::vector<std::unique_ptr<ServerProcess>> companions_;  // the rest of a test cluster
};

// The environment that points the CLI at the file store under `data_dir` (its data/ directory
// and master key): the store a ServerProcess of `data_dir` uses when the suite runs on files.
inline std::map<std::string, std::string> file_store_env(const std::string& data_dir) {
  return {{"KEYLEDGER_STORE", "file:" + data_dir + "/data"}, {"KEYLEDGER_MASTER_KEY_FILE", data_dir + "/master.key"}};
}

// Runs the keyledger binary with `args` and returns its exit status; output goes to `output`.
int run_keyledger(const std::vector<std::string>& args, std::string* output = nullptr,
                  const std::map<std::string, std::string>& env = {});

// Sends raw bytes to `address` and returns whatever comes back before the peer closes or
// `timeout_ms` passes.
std::string raw_exchange(const std::string& address, const std::string& bytes, int timeout_ms);

// One HTTP/1.1 request as bytes on the wire, for `raw_exchange`: a JSON body's Content-Type
// and Content-Length added for a body (and for any POST or PATCH), then `headers`;
// `Connection: close` unless `keep_alive`, for a request another follows on the connection.
std::string request_bytes(const std::string& address, const std::string& method, const std::string& target,
                          const std::string& body, std::map<std::string, std::string> headers, bool keep_alive = false);

// A connection whose receive buffer is a few KiB and which reads only when asked: a client
// that stops reading a long answer. Closed with the object.
class StalledReader {
 public:
  StalledReader(const std::string& address, const std::string& request);
  ~StalledReader();
  // Reads until `bytes` arrived (or `timeout_ms` passed); what arrived.
  std::string read_at_least(std::size_t bytes, int timeout_ms);

 private:
  int fd_ = -1;
};

}  // namespace keyledger::testing
