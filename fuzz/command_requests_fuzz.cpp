// The request JSON of every command: arbitrary bodies sent to every route that changes state,
// through the same handlers, pipeline and file store as `keyledger serve` (in process, the
// store in RAM). The first input byte picks the route, the second the caller (a dashboard
// admin, the operator, the sending service, nobody) and whether an Idempotency-Key is sent;
// the rest is the body.
//
// Properties: no request is answered with a 5xx; every answer is JSON, and every 4xx a
// problem+json with a `code`.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/application.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/store.hpp"
#include "fuzz_support.hpp"

namespace api = keyledger::api;
namespace es = keyledger::eventstore;
using keyledger::fuzz::fail;
using nlohmann::json;

namespace {

const std::string kOperatorToken = "fuzz-operator-token-000000000001";
const std::string kServiceToken = "fuzz-service-token-0000000000001";
const std::string kPassword = "fuzz admin password";

struct Target {
  std::string method;
  std::string path;
};

struct Fixture {
  std::unique_ptr<es::Store> store;
  std::unique_ptr<api::Application> app;
  std::string admin_token;
  std::vector<Target> targets;  // every state-changing route, with real ids in its path
};
Fixture* fixture = nullptr;

json call(const std::string& method, const std::string& target, const json& body, const std::string& token,
          int expected) {
  api::HttpRequest request{method, target, {{"content-type", "application/json"}}, body.is_null() ? "" : body.dump(),
                           "127.0.0.1"};
  if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
  auto response = fixture->app->handle(request);
  if (response.status != expected) fail("fixture: " + method + " " + target + " answered " + response.body);
  return response.body.empty() ? json() : json::parse(response.body);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A dashboard with a key or number on every channel, so that paths name real things; a
// second dashboard for closing, so that closing the first does not end the run's reach.
void set_up() {
  std::string dir = keyledger::fuzz::scratch_directory("commands");
  std::string key_file = dir + "/master.key";
  if (auto written = es::write_new_master_key(key_file); !written) fail(written.error());
  api::ServeConfig config;
  config.store = "file:" + dir + "/data";
  config.master_key_file = key_file;
  config.operator_token = kOperatorToken;
  config.service_token = kServiceToken;
  config.session_ttl = std::chrono::hours(24);
  auto store = es::Store::open(config.store, config.master_key_file, {});
  if (!store) fail(store.error());
  fixture = new Fixture{std::move(*store), nullptr, {}, {}};
  fixture->app = std::make_unique<api::Application>(config, *fixture->store->log, *fixture->store->pipeline,
                                                    *fixture->store->vault, *fixture->store->keyring);
  if (auto recovered = fixture->store->recover(); !recovered) fail(recovered.error());
  fixture->app->start();

  auto dashboard = [](const std::string& admin) {
    return call("POST", "/v1/dashboards", {{"name", "fuzz"}, {"admin", {{"email", admin}, {"password", kPassword}}}},
                kOperatorToken, 201)["id"].get<std::string>();
  };
  std::string d = dashboard("admin@fuzz.example");
  std::string closable = dashboard("admin@closable.example");
  fixture->admin_token = call("POST", "/v1/sessions", {{"dashboard_id", d}, {"email", "admin@fuzz.example"}, {"password", kPassword}},
                              "", 201)["token"];
  std::string path = "/v1/dashboards/" + d;
  const std::string& token = fixture->admin_token;
  call("POST", path + "/users", {{"email", "dev@fuzz.example"}, {"role", "developer"}, {"password", kPassword}}, token, 201);
  std::string email_key = call("POST", path + "/email/keys", {{"name", "fuzz"}}, token, 201)["id"];
  std::string whatsapp_key = call("POST", path + "/whatsapp/keys", {{"name", "fuzz"}}, token, 201)["id"];
  call("POST", path + "/sms/numbers", {{"number", "+15550000001"}}, token, 201);
  call("POST", path + "/rcs/bots", {{"bot_id", "fuzz-bot@example"}}, token, 201);

  for (const auto& route : fixture->app->routes()) {
    if (route.method == "GET" || route.method == "HEAD") continue;
    std::string p = route.pattern;
    p = replace_all(p, "/v1/dashboards/{d}", p == "/v1/dashboards/{d}" ? "/v1/dashboards/" + closable : path);
    p = replace_all(p, "/email/keys/{id}", "/email/keys/" + email_key);
    p = replace_all(p, "/whatsapp/keys/{id}", "/whatsapp/keys/" + whatsapp_key);
    p = replace_all(p, "{number}", "%2B15550000001");
    p = replace_all(p, "{bot_id}", "fuzz-bot@example");
    p = replace_all(p, "{email}", "dev@fuzz.example");
    if (p.find('{') != std::string::npos) fail("no fixture for a parameter of " + route.pattern);
    fixture->targets.push_back({route.method, p});
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_up();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Target& target = fixture->targets[data[0] % fixture->targets.size()];
  api::HttpRequest request{target.method, target.path, {{"content-type", "application/json"}},
                           std::string(keyledger::fuzz::as_text(data + 2, size - 2)), "127.0.0.1"};
  static const std::string* callers[] = {&fixture->admin_token, &kOperatorToken, &kServiceToken, nullptr};
  if (const std::string* token = callers[data[1] % 4]) request.headers["authorization"] = "Bearer " + *token;
  if (data[1] & 4) request.headers["idempotency-key"] = "fuzz-" + std::to_string(data[1] >> 3);

  api::HttpResponse response = fixture->app->handle(request);
  std::string what = target.method + " " + target.path + " with " + request.body;
  if (response.status >= 500) fail(what + " answered " + std::to_string(response.status) + ": " + response.body);
  if (response.stream) return 0;
  if (response.status == 204) return 0;
  auto body = json::parse(response.body, nullptr, false);
  if (body.is_discarded()) fail(what + " answered a body that is not JSON: " + response.body);
  if (response.status >= 400) {
    if (response.content_type != "application/problem+json" || !body.contains("code")) {
      fail(what + " answered a 4xx that is not a problem: " + response.body);
    }
  }
  return 0;
}
