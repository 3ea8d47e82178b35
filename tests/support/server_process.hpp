// Runs `keyledger serve` as a child process on a free loopback port and talks HTTP/1.1 to
// it over a real socket, for end-to-end tests.
#pragma once

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace keyledger::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class ServerProcess {
 public:
  // Starts the binary with `args` after "serve" and waits for its "listening" line.
  explicit ServerProcess(std::vector<std::string> args = {},
                         std::map<std::string, std::string> env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = "", std::map<std::string, std::string> headers = {}) const;
  // Sends SIGTERM and waits; returns the exit status.
  int terminate();
  // Everything the server wrote to stderr so far.
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string address_;
  mutable std::string log_;
};

// Sends raw bytes to `address` and returns whatever comes back before the peer closes or
// `timeout_ms` passes.
std::string raw_exchange(const std::string& address, const std::string& bytes, int timeout_ms);

}  // namespace keyledger::testing
