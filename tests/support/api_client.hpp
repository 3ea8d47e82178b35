// A JSON client for the keyledger API over real sockets, and the dashboard every scenario
// starts from.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server_process.hpp"

namespace keyledger::testing {

struct ApiReply {
  int status = 0;
  nlohmann::json json;  // null when the body is not JSON
  std::map<std::string, std::string> headers;
  std::string body;
};

class ApiClient {
 public:
  // `patience`: how long an exchange may go without a byte before it counts as unanswered.
  explicit ApiClient(const ServerProcess& server, std::chrono::milliseconds patience = std::chrono::seconds(30))
      : server_(server), patience_(patience) {}

  ApiReply call(const std::string& method, const std::string& path, const std::optional<nlohmann::json>& body = std::nullopt,
                const std::string& token = "", std::map<std::string, std::string> headers = {}) const;
  ApiReply get(const std::string& path, const std::string& token = "") const { return call("GET", path, std::nullopt, token); }
  ApiReply post(const std::string& path, const nlohmann::json& body, const std::string& token = "") const {
    return call("POST", path, body, token);
  }
  ApiReply del(const std::string& path, const std::string& token = "") const { return call("DELETE", path, std::nullopt, token); }

 private:
  const ServerProcess& server_;
  std::chrono::milliseconds patience_;
};

inline const std::string kAdminPassword = "admin password one";
inline const std::string kDeveloperPassword = "developer password two";
inline const std::string kViewerPassword = "viewer password three";

// A dashboard with an admin, a developer and a viewer, each logged in.
struct Dashboard {
  std::string id;
  std::string path;  // "/v1/dashboards/<id>"
  std::string admin, developer, viewer;  // session tokens
  std::string admin_email, developer_email, viewer_email;
};

Dashboard make_dashboard(const ApiClient& api, const std::string& name = "Acme");
std::string log_in(const ApiClient& api, const std::string& dashboard_id, const std::string& email,
                   const std::string& password);
// The value of one series of /metrics (e.g. "keyledger_http_requests_in_flight"), or -1.
double metric(const ApiClient& api, const std::string& series);

// Verifies a key as the sending services do.
ApiReply verify(const ApiClient& api, const std::string& key, const std::string& source_ip = "203.0.113.10",
                nlohmann::json extra = nlohmann::json::object());

}  // namespace keyledger::testing
