// Each channel's rules over HTTP, from generation to verification, as a sending service and
// a dashboard user would meet them.
#include <catch2/catch.hpp>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {
struct Running {
  TempDir dir;
  ServerProcess server{dir.path()};
  ApiClient api{server};
};

std::string audit_count(const ApiClient& api, const Dashboard& d, const std::string& type) {
  auto page = api.get(d.path + "/audit?type=" + type, d.admin);
  return std::to_string(page.json["events"].size());
}
}  // namespace

TEST_CASE("e2e: an Email key is shown once, listed masked, verified with its permissions and IP allowlist") {
  Running r;
  auto d = make_dashboard(r.api);
  auto generated = r.api.post(d.path + "/email/keys",
                              {{"name", "billing"}, {"permissions", {"mail.send"}}, {"ip_allowlist", {"203.0.113.0/24"}}},
                              d.developer);
  REQUIRE(generated.status == 201);
  std::string key = generated.json["key"];
  std::string id = generated.json["id"];
  REQUIRE(key.rfind("kle_", 0) == 0);
  REQUIRE(generated.json["masked"] == "kle_…" + key.substr(36));
  for (auto field : {"id", "channel", "name", "masked", "status", "created_at", "permissions", "ip_allowlist"}) {
    REQUIRE(generated.json.contains(field));
  }

  auto listing = r.api.get(d.path + "/email/keys", d.viewer);
  REQUIRE(listing.status == 200);
  REQUIRE(listing.json["keys"].size() == 1);
  REQUIRE(listing.body.find(key) == std::string::npos);
  REQUIRE(r.api.get(d.path + "/email/keys/" + id, d.viewer).json["status"] == "active");

  auto ok = verify(r.api, key, "203.0.113.9", {{"permission", "mail.send"}});
  REQUIRE(ok.json == json{{"valid", true}, {"dashboard_id", d.id}, {"channel", "email"}, {"key_id", id}});
  REQUIRE(verify(r.api, key, "198.51.100.1").json["reason"] == "ip_not_allowed");
  REQUIRE(verify(r.api, key, "203.0.113.9", {{"permission", "templates.manage"}}).json["reason"] == "permission_denied");

  // Restrictions can change after generation.
  auto changed = r.api.call("PATCH", d.path + "/email/keys/" + id, json{{"ip_allowlist", json::array()}, {"permissions", {"all"}}},
                            d.admin);
  REQUIRE(changed.status == 200);
  REQUIRE(verify(r.api, key, "198.51.100.1", {{"permission", "templates.manage"}}).json["valid"] == true);
}

TEST_CASE("e2e: rotating an Email key keeps the old secret valid through the grace period only") {
  Running r;
  auto d = make_dashboard(r.api);
  auto first = r.api.post(d.path + "/email/keys", {{"name", "a"}}, d.admin);
  std::string id = first.json["id"], old_key = first.json["key"];
  auto rotated = r.api.post(d.path + "/email/keys/" + id + "/rotate", {{"grace_seconds", 3600}}, d.developer);
  REQUIRE(rotated.status == 200);
  std::string new_key = rotated.json["key"];
  REQUIRE(new_key != old_key);
  REQUIRE(rotated.json["status"] == "rotating");
  REQUIRE(verify(r.api, new_key).json["valid"] == true);
  REQUIRE(verify(r.api, old_key).json["valid"] == true);
  auto again = r.api.post(d.path + "/email/keys/" + id + "/rotate", {{"grace_seconds", 0}}, d.developer);
  REQUIRE(verify(r.api, new_key).json["reason"] == "expired");
  REQUIRE(verify(r.api, again.json["key"]).json["valid"] == true);
  REQUIRE(r.api.del(d.path + "/email/keys/" + id, d.admin).json["status"] == "revoked");
  REQUIRE(verify(r.api, again.json["key"]).json["reason"] == "revoked");
}

TEST_CASE("e2e: revealing an Email key needs the password again and is audited") {
  Running r;
  auto d = make_dashboard(r.api);
  auto generated = r.api.post(d.path + "/email/keys", {{"name", "a"}}, d.admin);
  std::string id = generated.json["id"];
  auto wrong = r.api.post(d.path + "/email/keys/" + id + "/reveal", {{"password", "not it at all"}}, d.developer);
  REQUIRE(wrong.status == 403);
  REQUIRE(wrong.json["code"] == "password_incorrect");
  REQUIRE_FALSE(wrong.json.contains("key"));
  auto right = r.api.post(d.path + "/email/keys/" + id + "/reveal", {{"password", kDeveloperPassword}}, d.developer);
  REQUIRE(right.status == 200);
  REQUIRE(right.json["key"] == generated.json["key"]);
  REQUIRE(audit_count(r.api, d, "EmailKeyRevealed") == "1");
  REQUIRE(audit_count(r.api, d, "EmailKeyRevealDenied") == "1");
}

TEST_CASE("e2e: WhatsApp keys are admin-only, at most three, and shown only after the password") {
  Running r;
  auto d = make_dashboard(r.api);
  auto by_developer = r.api.post(d.path + "/whatsapp/keys", {{"name", "support"}}, d.developer);
  REQUIRE(by_developer.status == 403);
  REQUIRE(by_developer.json["code"] == "forbidden");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto generated = r.api.post(d.path + "/whatsapp/keys", {{"name", "wa" + std::to_string(i)}}, d.admin);
    REQUIRE(generated.status == 201);
    REQUIRE_FALSE(generated.json.contains("key"));
    ids.push_back(generated.json["id"]);
  }
  auto fourth = r.api.post(d.path + "/whatsapp/keys", {{"name", "wa3"}}, d.admin);
  REQUIRE(fourth.status == 409);
  REQUIRE(fourth.json["code"] == "whatsapp_key_limit_reached");
  auto listing = r.api.get(d.path + "/whatsapp/keys", d.viewer);
  REQUIRE(listing.json["slots_used"] == 3);
  REQUIRE(listing.json["slots_total"] == 3);

  auto rotated = r.api.post(d.path + "/whatsapp/keys/" + ids[0] + "/rotate", json::object(), d.admin);
  REQUIRE(rotated.status == 200);
  REQUIRE_FALSE(rotated.json.contains("key"));
  REQUIRE(r.api.get(d.path + "/whatsapp/keys", d.viewer).json["slots_used"] == 3);

  REQUIRE(r.api.post(d.path + "/whatsapp/keys/" + ids[0] + "/reveal", {{"password", kDeveloperPassword}}, d.developer).status == 403);
  auto revealed = r.api.post(d.path + "/whatsapp/keys/" + ids[0] + "/reveal", {{"password", kAdminPassword}}, d.admin);
  REQUIRE(revealed.status == 200);
  std::string key = revealed.json["key"];
  REQUIRE(key.rfind("klw_", 0) == 0);
  REQUIRE(verify(r.api, key).json["channel"] == "whatsapp");

  REQUIRE(r.api.del(d.path + "/whatsapp/keys/" + ids[1], d.admin).status == 200);
  REQUIRE(r.api.post(d.path + "/whatsapp/keys", {{"name", "wa4"}}, d.admin).status == 201);
  REQUIRE(audit_count(r.api, d, "WhatsAppKeyGenerationDenied") == "2");
}

TEST_CASE("e2e: registering a number assigns its one SMS key, and nobody can generate one") {
  Running r;
  auto d = make_dashboard(r.api);
  auto other = make_dashboard(r.api, "Other");
  auto direct = r.api.post(d.path + "/sms/keys", json::object(), d.admin);
  REQUIRE(direct.status == 409);
  REQUIRE(direct.json["code"] == "sms_key_auto_assigned");

  auto registered = r.api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.developer);
  REQUIRE(registered.status == 201);
  REQUIRE(registered.json["number"] == "+14155550100");
  REQUIRE_FALSE((registered.json.contains("key") && registered.json["key"].is_string()));
  auto elsewhere = r.api.post(other.path + "/sms/numbers", {{"number", "+14155550100"}}, other.admin);
  REQUIRE(elsewhere.status == 409);
  REQUIRE(elsewhere.json["code"] == "number_already_registered");

  auto listing = r.api.get(d.path + "/sms/numbers", d.viewer);
  REQUIRE(listing.json["numbers"].size() == 1);
  for (auto field : {"number", "key_id", "masked", "registered_at"}) REQUIRE(listing.json["numbers"][0].contains(field));
  REQUIRE(r.api.get(d.path + "/sms/numbers/%2B14155550100", d.viewer).status == 200);

  REQUIRE(r.api.get(d.path + "/sms/numbers/%2B14155550100/key", d.viewer).status == 403);
  auto disclosed = r.api.get(d.path + "/sms/numbers/%2B14155550100/key", d.developer);
  REQUIRE(disclosed.status == 200);
  std::string key = disclosed.json["key"];
  REQUIRE(key.rfind("kls_", 0) == 0);
  REQUIRE(audit_count(r.api, d, "SmsKeyViewed") == "1");
  REQUIRE(verify(r.api, key, "203.0.113.1", {{"number", "+14155550100"}}).json["valid"] == true);
  REQUIRE(verify(r.api, key, "203.0.113.1", {{"number", "+14155550199"}}).json["reason"] == "wrong_number");

  auto rotated = r.api.post(d.path + "/sms/numbers/%2B14155550100/key/rotate", json::object(), d.admin);
  REQUIRE(rotated.status == 200);
  REQUIRE(verify(r.api, key).json["reason"] == "expired");
  REQUIRE(verify(r.api, rotated.json["key"]).json["valid"] == true);

  REQUIRE(r.api.del(d.path + "/sms/numbers/%2B14155550100", d.developer).status == 204);
  REQUIRE(verify(r.api, rotated.json["key"]).json["reason"] == "revoked");
  REQUIRE(r.api.post(other.path + "/sms/numbers", {{"number", "+14155550100"}}, other.admin).status == 201);
}

TEST_CASE("e2e: a refused registration does not hold its number: another dashboard can register it") {
  Running r;
  auto d = make_dashboard(r.api);
  auto other = make_dashboard(r.api, "Other");
  auto refused = r.api.post(d.path + "/sms/numbers", {{"number", "+14155550177"}}, d.viewer);
  REQUIRE(refused.status == 403);  // audited: the refusal is an event of d's
  REQUIRE(audit_count(r.api, d, "SmsNumberRegistrationDenied") == "1");
  REQUIRE(r.api.post(other.path + "/sms/numbers", {{"number", "+14155550177"}}, other.admin).status == 201);
  REQUIRE(r.api.post(d.path + "/sms/numbers", {{"number", "+14155550177"}}, d.admin).json["code"] ==
          "number_already_registered");
}

TEST_CASE("e2e: the RCS key is fixed for users, revealed with the password, reissued only by the operator") {
  Running r;
  auto d = make_dashboard(r.api);
  auto masked = r.api.get(d.path + "/rcs/key", d.viewer);
  REQUIRE(masked.status == 200);
  REQUIRE(masked.json["channel"] == "rcs");
  for (auto [method, path] : {std::pair{"POST", "/rcs/keys"}, {"POST", "/rcs/key/rotate"}, {"DELETE", "/rcs/key"}}) {
    auto refused = r.api.call(method, d.path + path, method == std::string("POST") ? std::optional<json>(json::object()) : std::nullopt, d.admin);
    REQUIRE(refused.status == 409);
    REQUIRE(refused.json["code"] == "rcs_key_fixed");
  }
  auto revealed = r.api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin);
  REQUIRE(revealed.status == 200);
  std::string key = revealed.json["key"];
  REQUIRE(r.api.post(d.path + "/rcs/bots", {{"bot_id", "bot-1"}}, d.developer).status == 201);
  REQUIRE(r.api.get(d.path + "/rcs/bots", d.developer).json["bots"].size() == 1);
  REQUIRE(verify(r.api, key, "203.0.113.1", {{"bot_id", "bot-1"}}).json["valid"] == true);
  REQUIRE(verify(r.api, key, "203.0.113.1", {{"bot_id", "bot-2"}}).json["reason"] == "unknown_bot");

  REQUIRE(r.api.post(d.path + "/rcs/key/reissue", {{"reason", "leaked"}}, d.admin).status == 403);
  auto reissued = r.api.post(d.path + "/rcs/key/reissue", {{"reason", "leaked in a public gist"}}, kOperatorToken);
  REQUIRE(reissued.status == 200);
  REQUIRE(reissued.json["id"] == masked.json["id"]);
  REQUIRE(verify(r.api, key, "203.0.113.1", {{"bot_id", "bot-1"}}).json["reason"] == "expired");
  REQUIRE(r.api.del(d.path + "/rcs/bots/bot-1", d.admin).status == 204);
}

TEST_CASE("e2e: verify tells malformed from unknown keys, and needs the service token") {
  Running r;
  REQUIRE(verify(r.api, "kle_not-a-key").json["reason"] == "malformed_key");
  REQUIRE(verify(r.api, "kle_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").json["reason"] == "malformed_key");
  auto d = make_dashboard(r.api);
  std::string key = r.api.post(d.path + "/email/keys", {{"name", "a"}}, d.admin).json["key"];
  REQUIRE(r.api.post("/v1/verify", {{"key", key}, {"source_ip", "203.0.113.1"}}, d.admin).status == 403);
  REQUIRE(r.api.post("/v1/verify", {{"key", key}, {"source_ip", "203.0.113.1"}}).status == 401);
  auto bad_ip = r.api.post("/v1/verify", {{"key", key}, {"source_ip", "300.1.1.1"}}, kServiceToken);
  REQUIRE(bad_ip.status == 400);
  REQUIRE(bad_ip.json["field"] == "source_ip");
  r.api.del(d.path, kOperatorToken);
  REQUIRE(verify(r.api, key).json["reason"] == "revoked");
}

TEST_CASE("e2e: verify answers alike whether read inside the connection or by the generic route") {
  // A body of plain strings is answered inline (http_server's InlineEndpoint); the same body
  // with a JSON escape in it is declined there and answered by the generic route. Both must
  // give the same answers.
  Running r;
  auto d = make_dashboard(r.api);
  std::string key = r.api.post(d.path + "/email/keys",
                               {{"name", "a"}, {"permissions", {"mail.send"}}, {"ip_allowlist", {"203.0.113.0/24"}}},
                               d.admin).json["key"];
  r.api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
  std::string sms = r.api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin).json["key"];
  auto metrics_valid = [&] {
    auto text = r.api.get("/metrics").body;
    auto at = text.find("keyledger_verify_total{reason=\"valid\"} ");
    return std::stoull(text.substr(at + std::string("keyledger_verify_total{reason=\"valid\"} ").size()));
  };
  const auto before = metrics_valid();
  std::vector<json> bodies{
      {{"key", key}, {"source_ip", "203.0.113.7"}, {"permission", "mail.send"}},
      {{"key", key}, {"source_ip", "198.51.100.7"}},
      {{"key", key}, {"source_ip", "203.0.113.7"}, {"permission", "webhooks.manage"}},
      {{"key", sms}, {"source_ip", "198.51.100.7"}, {"number", "+14155550100"}, {"bot_id", nullptr}},
      {{"key", sms}, {"source_ip", "198.51.100.7"}, {"number", "+14155550199"}},
      {{"key", "kle_" + std::string(36, 'A')}, {"source_ip", "198.51.100.7"}},
      {{"key", std::string("klw_") + key.substr(4)}, {"source_ip", "198.51.100.7"}, {"unknown", {1, 2}}},
  };
  for (const auto& body : bodies) {
    INFO(body.dump());
    const std::string plain = body.dump();
    std::string escaped = plain;
    escaped.replace(escaped.find("\"source_ip\":\"") + 13, 1, "\\u003" + std::string(1, plain[plain.find("\"source_ip\":\"") + 13]));
    auto inline_answer = r.server.request("POST", "/v1/verify", plain, {{"Authorization", "Bearer " + kServiceToken}, {"X-Request-Id", "req-a"}});
    auto generic_answer = r.server.request("POST", "/v1/verify", escaped, {{"Authorization", "Bearer " + kServiceToken}, {"X-Request-Id", "req-a"}});
    REQUIRE(inline_answer.status == 200);
    REQUIRE(generic_answer.status == 200);
    REQUIRE(inline_answer.body == generic_answer.body);
    REQUIRE(inline_answer.headers["content-type"] == generic_answer.headers["content-type"]);
    REQUIRE(inline_answer.headers["x-request-id"] == "req-a");
    REQUIRE(generic_answer.headers["x-request-id"] == "req-a");
  }
  REQUIRE(metrics_valid() == before + 4);  // the valid answers of both routes are counted
}

TEST_CASE("e2e: a leak report revokes a live key at once and is audited") {
  Running r;
  auto d = make_dashboard(r.api);
  std::string key = r.api.post(d.path + "/email/keys", {{"name", "a"}}, d.admin).json["key"];
  std::string rcs = r.api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).json["key"];
  auto report = r.api.post("/v1/leaks",
                           json::array({{{"token", key}, {"type", "keyledger_email"}, {"url", "https://github.com/o/r"}, {"source", "content"}},
                                        {{"token", rcs}, {"type", "keyledger_rcs"}, {"url", "https://gist.github.com/x"}, {"source", "gist"}},
                                        {{"token", "kle_noise"}, {"type", "keyledger_email"}}}),
                           kServiceToken);
  REQUIRE(report.status == 200);
  REQUIRE(report.json[0]["label"] == "true_positive");
  REQUIRE(report.json[0]["action"] == "revoked");
  REQUIRE(report.json[1]["action"] == "flagged_for_operator");
  REQUIRE(report.json[2]["label"] == "false_positive");
  REQUIRE(report.body.find(key) == std::string::npos);
  REQUIRE(verify(r.api, key).json["reason"] == "revoked");
  REQUIRE(verify(r.api, rcs).json["valid"] == true);
  REQUIRE(audit_count(r.api, d, "KeyLeakReported") == "2");
}
