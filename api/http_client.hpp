// keyledger's one HTTP client (Boost.Beast, in this translation unit only): one request per
// connection, the answer's body either kept or handed to a sink piece by piece, so that a
// backup of any size never sits in memory. Used by the CLI's `keyledger backup` and by a
// cluster process forwarding a command to its partition's owner (forwarder.hpp).
#pragma once

#include <chrono>
#include <expected>
#include <functional>
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
  std::chrono::seconds timeout{60};  // for connecting, sending, and each read
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

}  // namespace keyledger::api
