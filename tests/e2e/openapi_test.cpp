#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {
std::set<std::string> documented(const json& doc) {
  std::set<std::string> routes;
  for (auto& [path, operations] : doc["paths"].items()) {
    for (auto& [method, operation] : operations.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      routes.insert(upper + " " + path);
    }
  }
  return routes;
}
}  // namespace

TEST_CASE("e2e: /openapi.json documents exactly the routes the server answers") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto reply = api.get("/openapi.json");
  REQUIRE(reply.status == 200);
  REQUIRE(reply.json["openapi"] == "3.1.0");
  auto routes = documented(reply.json);
  REQUIRE(routes.size() >= 46);
  // Every documented route is answered by a handler (not the 404 of an unknown route).
  for (const auto& route : routes) {
    auto space = route.find(' ');
    std::string method = route.substr(0, space), path = route.substr(space + 1);
    for (auto [param, value] : {std::pair{"{d}", "dsh_x"}, {"{id}", "key_x"}, {"{email}", "a@b.c"},
                                {"{number}", "%2B14155550100"}, {"{bot_id}", "bot"}}) {
      if (auto at = path.find(param); at != std::string::npos) path.replace(at, std::string(param).size(), value);
    }
    auto answer = api.call(method, path, method == "GET" || method == "DELETE" ? std::nullopt : std::optional<json>(json::object()));
    INFO(route << " -> " << answer.body);
    REQUIRE_FALSE((answer.status == 404 && answer.json["detail"].get<std::string>().rfind("no route", 0) == 0));
    REQUIRE(answer.status != 405);
  }
  // Every route the server answers is documented: probe the server's route table through
  // the document's own paths with every other method.
  for (const auto& route : routes) {
    std::string path = route.substr(route.find(' ') + 1);
    for (std::string method : {"GET", "POST", "PATCH", "DELETE"}) {
      if (routes.contains(method + " " + path)) continue;
      std::string concrete = path;
      for (auto [param, value] : {std::pair{"{d}", "dsh_x"}, {"{id}", "key_x"}, {"{email}", "a@b.c"},
                                  {"{number}", "%2B1"}, {"{bot_id}", "bot"}}) {
        if (auto at = concrete.find(param); at != std::string::npos) concrete.replace(at, std::string(param).size(), value);
      }
      auto answer = api.call(method, concrete, method == "POST" || method == "PATCH" ? std::optional<json>(json::object()) : std::nullopt);
      INFO(method << " " << path << " answered " << answer.status << " but is not documented");
      REQUIRE(answer.status == 405);
    }
  }
}

TEST_CASE("e2e: /metrics reports requests, commands, verify results and log appends") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  std::string key = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["key"];
  verify(api, key);
  verify(api, "kle_garbage");
  auto metrics = api.get("/metrics");
  REQUIRE(metrics.status == 200);
  REQUIRE(metrics.headers["content-type"].rfind("text/plain", 0) == 0);
  for (auto expected : {"keyledger_http_requests_total{route=\"POST /v1/dashboards/{d}/email/keys\",status=\"201\"} 1",
                        "keyledger_commands_total{type=\"EmailKeyGenerationDenied\",outcome=\"accepted\"} 1",
                        "keyledger_verify_total{reason=\"valid\"} 1", "keyledger_verify_total{reason=\"malformed_key\"} 1",
                        "keyledger_log_append_duration_seconds_count", "keyledger_http_request_duration_seconds_bucket"}) {
    INFO(expected);
    REQUIRE(metrics.body.find(expected) != std::string::npos);
  }
  // The log's durability counters: every accepted command was one batch, covered by a sync.
  auto counter = [&](const std::string& name) {
    auto at = metrics.body.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stoull(metrics.body.substr(at + name.size() + 2));
  };
  auto batches = counter("keyledger_log_batches_total");
  auto syncs = counter("keyledger_log_syncs_total");
  CHECK(batches >= 7);  // dashboard, 3 log-ins, 2 users, 1 key
  CHECK(syncs >= 1);
  CHECK(syncs <= batches);
}

TEST_CASE("e2e: every operation is named as a person would call it, once", "[file]") {
  // Clients generated from /openapi.json take their method names from operationId.
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto doc = api.get("/openapi.json").json;
  std::set<std::string> names;
  for (auto& [path, operations] : doc["paths"].items()) {
    for (auto& [method, operation] : operations.items()) {
      INFO(method << " " << path);
      std::string name = operation.at("operationId");
      REQUIRE(names.insert(name).second);
      REQUIRE(std::islower(static_cast<unsigned char>(name[0])));
      REQUIRE(std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
    }
  }
  for (const char* expected : {"createEmailKey", "revealWhatsAppKey", "registerSmsNumber", "revealRcsKey", "verifyKey",
                               "verifyAuditChain"}) {
    REQUIRE(names.contains(expected));
  }
}
