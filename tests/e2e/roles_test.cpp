// Who may call which route (SPEC §7's table), checked for every route and every kind of
// caller, and sessions confined to their own dashboard.
#include <catch2/catch.hpp>

#include <ctime>
#include <set>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

struct Row {
  std::string method;
  std::string path;  // {d}, {email_key}, {wa_key}, {number}, {bot} are filled in
  json body;         // "{password}" becomes the caller's password
  std::set<std::string> allowed;  // callers that are let through; "nobody" rows answer 409
  bool fixed = false;             // always 409 for whoever reaches the decider
};

std::string fill(std::string s, const std::map<std::string, std::string>& values) {
  for (auto& [k, v] : values) {
    for (std::size_t at; (at = s.find(k)) != std::string::npos;) s.replace(at, k.size(), v);
  }
  return s;
}

}  // namespace

TEST_CASE("e2e: every route admits exactly the callers the spec names") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto other = make_dashboard(api, "Other");
  std::string email_key = api.post(d.path + "/email/keys", {{"name", "a"}}, d.admin).json["id"];
  std::string wa_key = api.post(d.path + "/whatsapp/keys", {{"name", "a"}}, d.admin).json["id"];
  api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
  api.post(d.path + "/rcs/bots", {{"bot_id", "bot-1"}}, d.admin);

  const std::set<std::string> users{"admin", "developer", "viewer"};
  const std::set<std::string> writers{"admin", "developer"};
  const std::set<std::string> admin{"admin"};
  const json reveal{{"password", "{password}"}};
  std::vector<Row> rows{
      {"GET", "{d}", nullptr, users},
      {"POST", "{d}/users", {{"email", "new-{who}@example.com"}, {"role", "viewer"}, {"password", "a new password"}}, admin},
      {"GET", "{d}/users", nullptr, admin},
      {"DELETE", "{d}/users/nobody@example.com", nullptr, admin},
      {"POST", "{d}/email/keys", {{"name", "k"}}, writers},
      {"GET", "{d}/email/keys", nullptr, users},
      {"GET", "{d}/email/keys/{email_key}", nullptr, users},
      {"PATCH", "{d}/email/keys/{email_key}", {{"name", "renamed"}}, writers},
      {"POST", "{d}/email/keys/{email_key}/rotate", json::object(), writers},
      {"POST", "{d}/email/keys/{email_key}/reveal", reveal, writers},
      {"POST", "{d}/whatsapp/keys", {{"name", "w"}}, admin},
      {"GET", "{d}/whatsapp/keys", nullptr, users},
      {"GET", "{d}/whatsapp/keys/{wa_key}", nullptr, users},
      {"POST", "{d}/whatsapp/keys/{wa_key}/reveal", reveal, admin},
      {"POST", "{d}/whatsapp/keys/{wa_key}/rotate", json::object(), admin},
      {"POST", "{d}/sms/numbers", {{"number", "+1415555{n}"}}, writers},
      {"GET", "{d}/sms/numbers", nullptr, users},
      {"GET", "{d}/sms/numbers/%2B14155550100", nullptr, users},
      {"GET", "{d}/sms/numbers/%2B14155550100/key", nullptr, writers},
      {"POST", "{d}/sms/numbers/%2B14155550100/key/rotate", json::object(), admin},
      {"POST", "{d}/sms/keys", json::object(), {}, true},
      {"GET", "{d}/rcs/key", nullptr, users},
      {"POST", "{d}/rcs/key/reveal", reveal, writers},
      {"POST", "{d}/rcs/keys", json::object(), {}, true},
      {"POST", "{d}/rcs/key/rotate", json::object(), {}, true},
      {"DELETE", "{d}/rcs/key", nullptr, {}, true},
      {"POST", "{d}/rcs/key/reissue", {{"reason", "incident"}}, {"operator"}},
      {"POST", "{d}/rcs/bots", {{"bot_id", "bot-{who}"}}, writers},
      {"GET", "{d}/rcs/bots", nullptr, writers},
      {"GET", "{d}/audit", nullptr, users},
      {"GET", "{d}/audit/export", nullptr, admin},
      {"GET", "{d}/audit/verify", nullptr, admin},
      {"GET", "{d}/compliance", nullptr, {"admin", "viewer"}},
      {"POST", "/v1/verify", {{"key", "kle_x"}, {"source_ip", "203.0.113.1"}}, {"service"}},
      {"POST", "/v1/leaks", json::array(), {"service"}},
      {"POST", "/v1/dashboards", {{"name", "n"}, {"admin", {{"email", "a@b.c"}, {"password", "long enough"}}}}, {"operator"}},
      {"GET", "/v1/dashboards", nullptr, {"operator"}},
      // Destructive rows last: each allowed caller finds the target already gone (404/409).
      {"DELETE", "{d}/rcs/bots/bot-1", nullptr, writers},
      {"DELETE", "{d}/sms/numbers/%2B14155550100", nullptr, writers},
      {"DELETE", "{d}/whatsapp/keys/{wa_key}", nullptr, admin},
      {"DELETE", "{d}/email/keys/{email_key}", nullptr, writers},
  };
  const std::map<std::string, std::pair<std::string, std::string>> callers{
      {"admin", {d.admin, kAdminPassword}},          {"developer", {d.developer, kDeveloperPassword}},
      {"viewer", {d.viewer, kViewerPassword}},       {"operator", {kOperatorToken, ""}},
      {"service", {kServiceToken, ""}},             {"anonymous", {"", ""}},
      {"other-admin", {other.admin, kAdminPassword}}};
  int number = 200;
  for (const auto& row : rows) {
    for (const auto& [who, credentials] : callers) {
      std::map<std::string, std::string> values{{"{d}", d.path}, {"{email_key}", email_key}, {"{wa_key}", wa_key},
                                                {"{password}", credentials.second}, {"{who}", who},
                                                {"{n}", std::to_string(1000 + number++)}};
      std::string path = fill(row.path, values);
      std::optional<json> body;
      if (!row.body.is_null()) body = json::parse(fill(row.body.dump(), values));
      auto reply = api.call(row.method, path, body, credentials.first);
      INFO(row.method << " " << path << " by " << who << " -> " << reply.status << " " << reply.body);
      if (who == "anonymous") {
        REQUIRE(reply.status == 401);
      } else if (row.fixed && (who == "admin" || who == "developer" || who == "viewer" || who == "operator" || who == "service")) {
        REQUIRE(reply.status == 409);
      } else if (row.allowed.contains(who)) {
        REQUIRE(reply.status != 401);
        REQUIRE(reply.status != 403);
        REQUIRE(reply.status < 500);
      } else {
        REQUIRE(reply.status == 403);
        REQUIRE(reply.json["code"] == "forbidden");
      }
    }
  }
  // Closing is the operator's alone, and a closed dashboard's keys stop working.
  REQUIRE(api.del(d.path, d.admin).status == 403);
  REQUIRE(api.del(d.path, kServiceToken).status == 403);
  REQUIRE(api.del(d.path, kOperatorToken).status == 200);
  REQUIRE(api.get(d.path, d.admin).status == 401);
}

TEST_CASE("e2e: sessions log in, expire, and end when the user is removed") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_SESSION_TTL", "1"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto session = api.post("/v1/sessions", {{"dashboard_id", d.id}, {"email", d.viewer_email}, {"password", kViewerPassword}});
  REQUIRE(session.status == 201);
  for (auto field : {"token", "expires_at", "role"}) REQUIRE(session.json.contains(field));
  REQUIRE(session.json["role"] == "viewer");
  std::string token = session.json["token"];
  // Valid until expires_at, refused from then on: judged against the clock read after each
  // request, so a slow machine cannot make the test wrong.
  auto parse_time = [](const std::string& rfc3339) {
    std::tm tm{};
    strptime(rfc3339.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(std::stoi(rfc3339.substr(20, 3)));
  };
  const auto expires_at = parse_time(session.json["expires_at"]);
  auto first = api.get(d.path, token);
  if (std::chrono::system_clock::now() < expires_at) REQUIRE(first.status == 200);
  ApiReply expired;
  REQUIRE(eventually([&] {
    expired = api.get(d.path, token);
    return expired.status == 401;
  }));
  REQUIRE(std::chrono::system_clock::now() >= expires_at);
  REQUIRE(expired.json["code"] == "unauthenticated");

  auto fresh_admin = log_in(api, d.id, d.admin_email, kAdminPassword);
  auto dev = log_in(api, d.id, d.developer_email, kDeveloperPassword);
  REQUIRE(api.del(d.path + "/users/" + d.developer_email, fresh_admin).status == 204);
  REQUIRE(api.get(d.path, dev).status == 401);
  auto failed = api.post("/v1/sessions", {{"dashboard_id", d.id}, {"email", d.developer_email}, {"password", kDeveloperPassword}});
  REQUIRE(failed.status == 401);
  auto forged = api.get(d.path, dev.substr(0, dev.size() - 2) + "xx");
  REQUIRE(forged.status == 401);
}

TEST_CASE("e2e: a session of one dashboard is refused on every route of another") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto mine = make_dashboard(api);
  auto theirs = make_dashboard(api, "Theirs");
  int checked = 0;
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", ""}, {"GET", "/email/keys"}, {"POST", "/email/keys"}, {"GET", "/whatsapp/keys"},
           {"POST", "/whatsapp/keys"}, {"GET", "/sms/numbers"}, {"POST", "/sms/numbers"}, {"GET", "/rcs/key"},
           {"POST", "/rcs/key/reveal"}, {"GET", "/rcs/bots"}, {"GET", "/users"}, {"POST", "/users"},
           {"GET", "/audit"}, {"GET", "/audit/export"}, {"GET", "/audit/verify"}, {"GET", "/compliance"}}) {
    auto reply = api.call(method, theirs.path + path,
                          method == "POST" ? std::optional<json>(json{{"name", "x"}, {"password", kAdminPassword}}) : std::nullopt,
                          mine.admin);
    INFO(method << " " << path << " " << reply.body);
    REQUIRE(reply.status == 403);
    ++checked;
  }
  REQUIRE(checked == 16);
  // Nothing was recorded in the other dashboard's trail by those attempts.
  auto trail = api.get(theirs.path + "/audit?actor=" + mine.admin_email, theirs.admin);
  REQUIRE(trail.json["events"].empty());
}
