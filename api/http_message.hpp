// Plain request and response values exchanged between the Beast server and the route
// handlers, so that handlers compile without Boost and are testable as functions.
#pragma once

#include <functional>
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::api {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote_ip;

  std::string path() const { return target.substr(0, target.find('?')); }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A caller's header value that the server writes back or records (X-Request-Id in the answer,
// the log and the events' correlation id; an Idempotency-Key in the events): 1 to
// `max_length` characters of visible ASCII, or space. Anything else (a control character, a
// byte of another encoding) is not taken as it is.
inline bool printable_token(std::string_view value, std::size_t max_length) {
  return !value.empty() && value.size() <= max_length &&
         std::ranges::all_of(value, [](unsigned char c) { return c >= 0x20 && c <= 0x7e; });
}

// The longest X-Request-Id kept; a longer or unprintable one is replaced by the server's own.
inline constexpr std::size_t kMaxRequestIdLength = 128;
// The longest Idempotency-Key accepted.
inline constexpr std::size_t kMaxIdempotencyKeyLength = 255;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is produced piece by piece and sent chunked, so a large answer is
  // never held whole in memory; `body` is then ignored. Each call fills `chunk` and returns
  // false once there is nothing more. Called on a worker thread.
  std::function<bool(std::string& chunk)> stream;
  // A stream that lasts as long as its reader stays (Server-Sent Events): produced on a
  // thread of its own, whose calls to `stream` may wait for what comes next.
  bool long_lived = false;
};

}  // namespace keyledger::api
