// Every error code of SPEC §7 over HTTP: the status, the problem+json body, and that a
// refused request changed nothing.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <filesystem>
#include <tuple>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {
void require_problem(const ApiReply& reply, int status, const std::string& code) {
  INFO(reply.body);
  REQUIRE(reply.status == status);
  REQUIRE(reply.headers.at("content-type") == "application/problem+json");
  REQUIRE(reply.json["code"] == code);
  REQUIRE(reply.json["status"] == status);
  for (auto field : {"type", "title", "detail"}) REQUIRE(reply.json.contains(field));
}
}  // namespace

TEST_CASE("e2e: bad input is a 400 naming the field, and changes nothing") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto bad_permission = api.post(d.path + "/email/keys", {{"name", "k"}, {"permissions", {"mail.send", "mail.fly"}}}, d.admin);
  require_problem(bad_permission, 400, "invalid_request");
  REQUIRE(bad_permission.json["field"] == "permissions[1]");
  auto bad_cidr = api.post(d.path + "/email/keys", {{"name", "k"}, {"ip_allowlist", {"10.0.0.1/24"}}}, d.admin);
  REQUIRE(bad_cidr.json["field"] == "ip_allowlist[0]");
  REQUIRE(bad_cidr.json["detail"].get<std::string>().find("10.0.0.0/24") != std::string::npos);
  REQUIRE(api.post(d.path + "/email/keys", {{"permissions", {"all"}}}, d.admin).json["field"] == "name");
  REQUIRE(api.post(d.path + "/email/keys", {{"name", 7}}, d.admin).json["field"] == "name");
  auto not_json = api.call("POST", d.path + "/email/keys", std::nullopt, d.admin);
  require_problem(not_json, 400, "invalid_request");
  REQUIRE(api.post(d.path + "/sms/numbers", {{"number", "0800 123"}}, d.admin).json["field"] == "number");
  REQUIRE(api.post(d.path + "/email/keys/x/rotate", {{"grace_seconds", 604801}}, d.admin).json["field"] == "grace_seconds");
  REQUIRE(api.post(d.path + "/users", {{"email", "x@example.com"}, {"role", "root"}, {"password", "long enough"}}, d.admin)
              .json["field"] == "role");
  auto short_password = api.post(d.path + "/users", {{"email", "x@example.com"}, {"role", "viewer"}, {"password", "short"}}, d.admin);
  REQUIRE(short_password.json["field"] == "password");
  REQUIRE(short_password.body.find("short\"") == std::string::npos);
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].empty());
  REQUIRE(api.get(d.path + "/audit?type=EmailKeyGenerationDenied", d.admin).json["events"].empty());
  require_problem(api.get(d.path + "/audit?limit=0", d.admin), 400, "invalid_request");
}

TEST_CASE("e2e: 401, 403, 404, 405 and the 409 invariant codes") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  require_problem(api.get(d.path), 401, "unauthenticated");
  require_problem(api.get(d.path, "klsess_garbage"), 401, "unauthenticated");
  {
    // A session token changed anywhere, or without its signature, is no session.
    std::string payload_changed = d.admin;
    payload_changed[std::string("klsess_").size() + 2] ^= 1;
    require_problem(api.get(d.path, payload_changed), 401, "unauthenticated");
    require_problem(api.get(d.path, d.admin.substr(0, d.admin.find('.'))), 401, "unauthenticated");
    require_problem(api.get(d.path, d.admin.substr(0, d.admin.find('.') + 1)), 401, "unauthenticated");
    REQUIRE(api.get(d.path, d.admin).status == 200);
  }
  require_problem(api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.developer), 403, "forbidden");
  require_problem(api.get(d.path + "/email/keys/key_missing", d.admin), 404, "not_found");
  require_problem(api.del(d.path + "/email/keys/key_missing", d.admin), 404, "not_found");
  require_problem(api.call("PUT", d.path + "/email/keys", json::object(), d.admin), 405, "method_not_allowed");
  require_problem(api.post(d.path + "/users", {{"email", d.viewer_email}, {"role", "viewer"}, {"password", "long enough"}}, d.admin),
                  409, "user_exists");
  require_problem(api.post(d.path + "/sms/keys", json::object(), d.admin), 409, "sms_key_auto_assigned");
  require_problem(api.post(d.path + "/rcs/keys", json::object(), d.admin), 409, "rcs_key_fixed");
  for (int i = 0; i < 3; ++i) api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin);
  require_problem(api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin), 409, "whatsapp_key_limit_reached");
  api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
  require_problem(api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin), 409, "number_already_registered");
  std::string key_id = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["id"];
  REQUIRE(api.del(d.path + "/email/keys/" + key_id, d.admin).status == 200);
  require_problem(api.del(d.path + "/email/keys/" + key_id, d.admin), 409, "key_revoked");
  require_problem(api.post(d.path + "/email/keys/" + key_id + "/reveal", {{"password", "wrong password"}}, d.admin), 403,
                  "password_incorrect");
}

TEST_CASE("e2e: an Idempotency-Key returns the first result, and 422 for another body") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  std::map<std::string, std::string> idem{{"Idempotency-Key", "create-billing-key"}};
  auto first = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, idem);
  REQUIRE(first.status == 201);
  auto retry = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, idem);
  REQUIRE(retry.status == 200);
  REQUIRE(retry.json["id"] == first.json["id"]);
  REQUIRE(retry.json["key"] == first.json["key"]);
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 1);
  require_problem(api.call("POST", d.path + "/email/keys", json{{"name", "other"}}, d.admin, idem), 422,
                  "idempotency_key_reused");
}

TEST_CASE("e2e: a generation or rotation retried with its Idempotency-Key answers the first one's secret, "
          "and that secret verifies") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  const std::map<std::string, std::string> generate_key{{"Idempotency-Key", "generate"}};
  auto generated = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, generate_key);
  REQUIRE(generated.status == 201);
  REQUIRE(verify(api, generated.json["key"]).json["valid"] == true);
  const std::string id = generated.json["id"];
  const std::map<std::string, std::string> rotate_key{{"Idempotency-Key", "rotate"}};
  const std::string rotate = d.path + "/email/keys/" + id + "/rotate";
  auto rotated = api.call("POST", rotate, json{{"grace_seconds", 0}}, d.admin, rotate_key);
  REQUIRE(rotated.status == 200);
  REQUIRE(rotated.json["key"] != generated.json["key"]);
  // The retry seals another secret of its own before the pipeline finds the first answer:
  // the answer must be the recorded one's, not the retry's.
  auto retried = api.call("POST", rotate, json{{"grace_seconds", 0}}, d.admin, rotate_key);
  REQUIRE(retried.status == 200);
  REQUIRE(retried.json["key"] == rotated.json["key"]);
  REQUIRE(verify(api, retried.json["key"]).json["valid"] == true);
  REQUIRE(verify(api, generated.json["key"]).json["valid"] == false);
  auto generated_again = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, generate_key);
  REQUIRE(generated_again.status == 200);
  REQUIRE(generated_again.json["key"] == generated.json["key"]);  // still the first answer, as it was then
}

TEST_CASE("e2e: a leak report of arbitrary text is answered, never a 500") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  // Multi-byte UTF-8 where the mask cuts the token (found by schemathesis).
  auto answer = api.post("/v1/leaks", json::array({{{"token", "\u00e9\u00e9\u00e9\u00e9\u20ac\u20ac"}, {"url", "u"}}}),
                         kServiceToken);
  REQUIRE(answer.status == 200);
  REQUIRE(answer.json.at(0)["label"] == "false_positive");
  REQUIRE(server.log().find("\"level\":\"error\"") == std::string::npos);
}

TEST_CASE("e2e: an Idempotency-Key that is not printable ASCII is refused with 400 and changes nothing, an "
          "unprintable X-Request-Id is replaced by the server's own, and the server and the dashboard go on") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  const auto audited = api.get(d.path + "/audit", d.admin).json["events"].size();
  // A byte of another encoding (such a key once wedged its dashboard: sealing the event threw
  // with the dashboard's turn taken), and one character too many.
  for (const std::string& key : {std::string("caf\xe9"), std::string(256, 'k')}) {
    auto refused = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, {{"Idempotency-Key", key}});
    require_problem(refused, 400, "invalid_request");
    REQUIRE(refused.json["field"] == "Idempotency-Key");
  }
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].empty());
  REQUIRE(api.get(d.path + "/audit", d.admin).json["events"].size() == audited);
  REQUIRE(api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, {{"Idempotency-Key", "ok key 1"}}).status == 201);

  // Such a request id once stopped the server (its log line could not be written as JSON).
  const std::string unprintable = "caf\xe9";
  for (const auto& [method, target, body, token] :
       {std::tuple<std::string, std::string, std::string, std::string>{"GET", "/healthz", "", ""},
        {"GET", d.path + "/email/keys", "", d.admin},
        {"POST", d.path + "/email/keys", R"({"name":"second"})", d.admin},
        {"POST", "/v1/verify", R"({"key":"not a key"})", kServiceToken}}) {
    std::map<std::string, std::string> headers{{"X-Request-Id", unprintable}};
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    auto answer = server.request(method, target, body, headers);
    INFO(method << " " << target);
    REQUIRE(answer.status < 500);
    REQUIRE(!answer.headers["x-request-id"].empty());
    REQUIRE(answer.headers["x-request-id"] != unprintable);
  }
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 2);
  REQUIRE(server.log().find("\"level\":\"error\"") == std::string::npos);
}

TEST_CASE("e2e: another caller reusing an Idempotency-Key gets 422, never the first caller's secret") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  std::map<std::string, std::string> idem{{"Idempotency-Key", "1"}};
  auto first = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, d.admin, idem);
  REQUIRE(first.status == 201);
  // The same request with the same key, from the developer and from the operator.
  for (const std::string& token : {d.developer, kOperatorToken}) {
    auto other = api.call("POST", d.path + "/email/keys", json{{"name", "billing"}}, token, idem);
    require_problem(other, 422, "idempotency_key_reused");
    REQUIRE(other.body.find(first.json["key"].get<std::string>()) == std::string::npos);
  }
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 1);
}

TEST_CASE("e2e: five wrong passwords lock step-up and login with 429 and Retry-After") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  for (int i = 0; i < 5; ++i) {
    require_problem(api.post(d.path + "/rcs/key/reveal", {{"password", "guess " + std::to_string(i)}}, d.developer), 403,
                    "password_incorrect");
  }
  auto locked = api.post(d.path + "/rcs/key/reveal", {{"password", kDeveloperPassword}}, d.developer);
  require_problem(locked, 429, "too_many_attempts");
  int retry_after = std::stoi(locked.headers.at("retry-after"));
  REQUIRE(retry_after > 800);
  REQUIRE(retry_after <= 900);
  REQUIRE_FALSE(locked.json.contains("key"));
  auto login = api.post("/v1/sessions", {{"dashboard_id", d.id}, {"email", d.developer_email}, {"password", kDeveloperPassword}});
  require_problem(login, 429, "too_many_attempts");
  REQUIRE(api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).status == 200);
  auto trail = api.get(d.path + "/audit?type=UserLockedOut", d.admin);
  REQUIRE(trail.json["events"].size() == 1);
}

TEST_CASE("e2e: when the log cannot take writes, commands get 503 and no secret leaves, then service resumes", "[file]") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  std::string key_id = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["id"];
  // A file size limit at the segment's current size makes every further append fail for real.
  std::uintmax_t size = std::filesystem::file_size(dir.path() + "/data/log/00000000000000000000.seg");
  rlimit tight{size, RLIM_INFINITY}, previous{};
  REQUIRE(prlimit(server.pid(), RLIMIT_FSIZE, &tight, &previous) == 0);
  auto reveal = api.post(d.path + "/email/keys/" + key_id + "/reveal", {{"password", kAdminPassword}}, d.admin);
  require_problem(reveal, 503, "log_unavailable");
  REQUIRE_FALSE(reveal.json.contains("key"));
  require_problem(api.post(d.path + "/email/keys", {{"name", "k2"}}, d.admin), 503, "log_unavailable");
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 1);
  rlimit open{RLIM_INFINITY, RLIM_INFINITY};
  REQUIRE(prlimit(server.pid(), RLIMIT_FSIZE, &open, nullptr) == 0);
  REQUIRE(api.post(d.path + "/email/keys/" + key_id + "/reveal", {{"password", kAdminPassword}}, d.admin).status == 200);
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
}
