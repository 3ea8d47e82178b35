// The CLI's one HTTP client (Boost.Beast, in this translation unit only): a GET whose body is
// handed to a sink piece by piece, so that a backup of any size never sits in memory.
#pragma once

#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::cli {

struct Download {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error_body;  // the body of an answer other than 200 (problem+json)
};

// GET `url` (http:// or https://; for https the server's certificate is checked against the
// system's CAs, or `ca_file` when given). With status 200 the body goes to `sink`, which
// returns false to stop; otherwise it is kept in error_body. A sentence when the connection
// fails or ends before the body does.
std::expected<Download, std::string> http_get(const std::string& url,
                                              const std::vector<std::pair<std::string, std::string>>& headers,
                                              const std::string& ca_file,
                                              const std::function<bool(std::string_view)>& sink);

}  // namespace keyledger::cli
