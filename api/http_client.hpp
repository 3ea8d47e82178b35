// keyledger's one HTTP client (Boost.Beast, in this translation unit only): one request per
// connection (http_request), or connections kept open between requests (HttpConnections);
// the answer's body either kept or handed to a sink piece by piece, so that a backup of any
// size never sits in memory. Used by the CLI's `keyledger backup` and by a cluster process
// forwarding a command to its partition's owner (forwarder.hpp).
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::api {

struct HttpCall {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For https: the server's certificate is checked against the system's CAs, or this file's.
  std::string ca_file;
  // For sending (an https:// exchange's TLS handshake included), and for each read of up to
  // a megabyte of the answer. (Beast's deadlines bound asynchronous operations only: an
  // http:// exchange waits for its socket with poll, an https:// one has its socket shut
  // down when the time is up.)
  std::chrono::seconds timeout{60};
};

struct HttpAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the body, unless a sink took it (a 2xx answer, when one was given)
};

struct HttpFailure {
  std::string sentence;
  bool request_sent = false;  // the server may have acted on the request
};

// Returns false to stop reading.
using BodySink = std::function<bool(std::string_view)>;

// Sends `call` on a new connection and reads the answer. A 2xx answer's body goes to `sink`
// when one is given; any other body is kept in the answer (at most 1 MiB of it). A failure
// when the connection fails or ends before the answer does.
std::expected<HttpAnswer, HttpFailure> http_request(const HttpCall& call, const BodySink& sink = nullptr);

// http_request for a caller that sends many requests to a few servers (the forwarder, to its
// peers): an http:// connection whose answer allowed it is kept open for the next request to
// the same host and port, for up to `keep_for` after it was last used (well below any
// server's keep-alive idle timeout), and reused only while the server has not closed it (a
// server that stopped or was killed has: its kernel sent the close). What a failure means is
// as for http_request: a request written on a kept connection counts as sent. https:// calls
// go through http_request. Any thread; each request has a connection to itself.
class HttpConnections {
 public:
  explicit HttpConnections(std::chrono::milliseconds keep_for = std::chrono::seconds(2));
  ~HttpConnections();
  HttpConnections(const HttpConnections&) = delete;
  HttpConnections& operator=(const HttpConnections&) = delete;

  std::expected<HttpAnswer, HttpFailure> request(const HttpCall& call);

 private:
  struct Kept;
  std::unique_ptr<Kept> kept_;
};

}  // namespace keyledger::api
