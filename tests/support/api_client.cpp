#include "api_client.hpp"

#include <stdexcept>

namespace keyledger::testing {

using nlohmann::json;

ApiReply ApiClient::call(const std::string& method, const std::string& path, const std::optional<json>& body,
                         const std::string& token, std::map<std::string, std::string> headers) const {
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  auto reply = server_.request(method, path, body ? body->dump() : "", headers, patience_);
  ApiReply out{reply.status, json::parse(reply.body, nullptr, false), reply.headers, reply.body};
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

std::string log_in(const ApiClient& api, const std::string& dashboard_id, const std::string& email,
                   const std::string& password) {
  auto r = api.post("/v1/sessions", {{"dashboard_id", dashboard_id}, {"email", email}, {"password", password}});
  if (r.status != 201) throw std::runtime_error("login failed: " + r.body);
  return r.json["token"];
}

Dashboard make_dashboard(const ApiClient& api, const std::string& name) {
  static int counter = 0;
  std::string suffix = std::to_string(++counter);
  Dashboard d;
  d.admin_email = "ada" + suffix + "@example.com";
  d.developer_email = "dev" + suffix + "@example.com";
  d.viewer_email = "vic" + suffix + "@example.com";
  auto created = api.post("/v1/dashboards", {{"name", name}, {"admin", {{"email", d.admin_email}, {"password", kAdminPassword}}}},
                          kOperatorToken);
  if (created.status != 201) throw std::runtime_error("dashboard creation failed: " + created.body);
  d.id = created.json["id"];
  d.path = "/v1/dashboards/" + d.id;
  d.admin = log_in(api, d.id, d.admin_email, kAdminPassword);
  for (auto [email, role, password] : {std::tuple{d.developer_email, "developer", kDeveloperPassword},
                                       std::tuple{d.viewer_email, "viewer", kViewerPassword}}) {
    auto added = api.post(d.path + "/users", {{"email", email}, {"role", role}, {"password", password}}, d.admin);
    if (added.status != 201) throw std::runtime_error("adding a user failed: " + added.body);
  }
  d.developer = log_in(api, d.id, d.developer_email, kDeveloperPassword);
  d.viewer = log_in(api, d.id, d.viewer_email, kViewerPassword);
  return d;
}

double metric(const ApiClient& api, const std::string& series) {
  const std::string text = api.get("/metrics").body;
  for (std::size_t at = text.find(series + " "); at != std::string::npos; at = text.find(series + " ", at + 1)) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
  }
  return -1;
}

ApiReply verify(const ApiClient& api, const std::string& key, const std::string& source_ip, json extra) {
  extra["key"] = key;
  extra["source_ip"] = source_ip;
  return api.post("/v1/verify", extra, kServiceToken);
}

}  // namespace keyledger::testing
