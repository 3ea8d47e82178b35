// The HTTP/1.1 server: accepts connections, applies every limit, and hands each complete
// request to one handler. The only translation unit that includes Boost.Beast.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http_message.hpp"

namespace keyledger::api {

struct ServerLimits {
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 64 * 1024;               // larger bodies get 413 (SPEC §7)
  std::chrono::seconds read_timeout{10};            // a whole request must arrive in this
  std::chrono::seconds idle_timeout{60};            // keep-alive wait for the next request
  std::chrono::seconds drain_timeout{10};           // SIGTERM: time for in-flight requests
};

// Answers a request by calling `done` once, on any thread, now or later (a command answers
// once the log has it, without holding a thread meanwhile).
using RequestHandler =
    std::function<void(std::shared_ptr<const HttpRequest> request, std::move_only_function<void(HttpResponse)> done)>;

// One route answered inside the connection, on its I/O thread, from the parsed request's
// raw parts: no generic request, no header map, no handler call (the verify hot path).
// Whatever it declines (an unexpected token or body: anything but the plain success path)
// goes the generic way, so errors are answered in one place only.
class InlineEndpoint {
 public:
  struct Request {
    std::string_view authorization;  // the Authorization header, as sent
    std::string_view request_id;     // the X-Request-Id header, as sent (may be empty)
    std::string_view body;
  };
  virtual ~InlineEndpoint() = default;
  // Writes the 200 answer's JSON body and its X-Request-Id and returns true, or returns false
  // to decline. Called on any I/O thread, concurrently.
  virtual bool answer(const Request& request, std::string& json_body, std::string& request_id) = 0;
};

struct ServerOptions {
  ServerLimits limits;
  // Requests for which this returns true are handed to the handler on the I/O thread; all
  // others on the worker pool (a handler may read the disk, or stream a long body).
  std::function<bool(const HttpRequest&)> answers_inline = [](const HttpRequest&) { return true; };
  // Threads that run handlers and continue commands once durable; none waits for the log,
  // so a few per core are enough.
  unsigned worker_threads = 4;
  // Threads that write streamed bodies (audit exports): each holds one slow reader at a
  // time, apart from the workers, so slow readers never hold up commands.
  unsigned stream_threads = 16;
  // Long-lived streams (event streams) get a thread each, up to this many at once; more are
  // answered 503 with Retry-After.
  unsigned max_long_lived_streams = 512;
  // Called once when the drain begins (SIGTERM or stop()), on the server's thread: what
  // produces long-lived streams ends them.
  std::function<void()> on_drain;
  // POST to `inline_path` is offered to `inline_endpoint` first (not owned; may be null).
  std::string inline_path = "/v1/verify";
  InlineEndpoint* inline_endpoint = nullptr;
  // Kept at the number of open connections when set (not owned; for /metrics).
  std::atomic<std::int64_t>* open_connections = nullptr;

  std::string tls_cert_file;  // HTTPS when both are set
  std::string tls_key_file;
};

class HttpServer {
 public:
  // Binds and listens on "HOST:PORT" at once; port 0 picks a free port.
  // Throws std::runtime_error when the address cannot be bound or TLS files do not load.
  HttpServer(const std::string& listen_address, RequestHandler handler, ServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address as "HOST:PORT", with the port actually chosen.
  std::string local_address() const;
  bool tls() const;

  // Serves on `threads` threads until SIGTERM/SIGINT or stop(); then stops accepting, lets
  // in-flight requests finish (up to drain_timeout) and returns. Runs on the caller's thread.
  void run(unsigned threads);
  void stop();
  // Runs `job` on the worker pool (where commands continue once durable); once run() is
  // returning, on the caller's thread.
  void post(std::move_only_function<void()> job);

  struct Impl;  // defined in http_server.cpp, beside the connection sessions that use it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyledger::api
