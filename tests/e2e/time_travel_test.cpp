// Time travel over HTTP (SPEC §11): `as_of` on the dashboard, its key listings, SMS numbers,
// RCS key and compliance report answers as things were at that instant. The instants and
// what was true then come from the audit trail's own occurred_at, so commands that share a
// millisecond cannot make the expectations wrong.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "eventstore/rfc3339.hpp"
#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;
namespace es = keyledger::eventstore;

namespace {

std::string at(const std::string& instant) { return "?as_of=" + instant; }

std::map<std::string, std::string> statuses(const json& listing) {
  std::map<std::string, std::string> out;
  for (const auto& key : listing["keys"]) out[key["id"]] = key["status"];
  return out;
}

}  // namespace

TEST_CASE("e2e: as_of answers the dashboard, its keys, numbers, RCS key and compliance as they were then") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto first = api.post(d.path + "/email/keys", {{"name", "first"}}, d.admin);
  REQUIRE(first.status == 201);
  const std::string a = first.json["id"];
  REQUIRE(api.post(d.path + "/email/keys/" + a + "/rotate", {{"grace_seconds", 3600}}, d.admin).status == 200);
  REQUIRE(api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin).status == 201);
  auto second = api.post(d.path + "/email/keys", {{"name", "second"}}, d.admin);
  REQUIRE(second.status == 201);
  REQUIRE(api.del(d.path + "/email/keys/" + a, d.admin).status == 200);
  auto whatsapp = api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin);
  REQUIRE(whatsapp.status == 201);

  // What the trail says happened, and when.
  auto trail = api.get(d.path + "/audit?limit=200", d.admin);
  REQUIRE(trail.status == 200);
  std::vector<json> events(trail.json["events"].begin(), trail.json["events"].end());
  REQUIRE(events.size() >= 8);
  auto true_at = [&](const std::string& instant) {
    const auto t = *es::parse_rfc3339(instant);
    std::map<std::string, std::string> email;  // key → status (the rotation's grace lasts an hour)
    std::set<std::string> numbers;
    for (const auto& e : events) {
      if (*es::parse_rfc3339(e["occurred_at"].get<std::string>()) > t) continue;
      const std::string type = e["type"];
      if (type == "EmailKeyGenerated") email[e["data"]["key_id"]] = "active";
      if (type == "EmailKeyRevoked") email[e["data"]["key_id"]] = "revoked";
      if (type == "EmailKeyRotated") email[e["data"]["key_id"]] = "rotating";
      if (type == "SmsNumberRegistered") numbers.insert(e["data"]["number"].get<std::string>());
    }
    return std::pair{email, numbers};
  };

  std::set<std::string> instants;
  for (const auto& e : events) instants.insert(e["occurred_at"].get<std::string>());
  for (const auto& instant : instants) {
    INFO("as_of " << instant);
    auto [email, numbers] = true_at(instant);
    auto listing = api.get(d.path + "/email/keys" + at(instant), d.viewer);
    REQUIRE(listing.status == 200);
    REQUIRE(statuses(listing.json) == email);
    for (const auto& key : listing.json["keys"]) {
      if (key["status"] == "rotating") REQUIRE(key.contains("previous_valid_until"));  // grace as of then
      if (key["status"] == "active") REQUIRE_FALSE(key.contains("previous_valid_until"));
    }
    auto sms = api.get(d.path + "/sms/numbers" + at(instant), d.viewer);
    REQUIRE(sms.status == 200);
    std::set<std::string> listed;
    for (const auto& n : sms.json["numbers"]) listed.insert(n["number"].get<std::string>());
    REQUIRE(listed == numbers);
    auto dashboard = api.get(d.path + at(instant), d.viewer);
    REQUIRE(dashboard.status == 200);
    std::size_t active = 0;
    for (auto& [id, status] : email) active += status != "revoked";
    REQUIRE(dashboard.json["keys"]["email"] == active);
    REQUIRE(dashboard.json["keys"]["sms"] == numbers.size());
    REQUIRE(api.get(d.path + "/rcs/key" + at(instant), d.viewer).json["status"] == "active");
    auto report = api.get(d.path + "/compliance" + at(instant), d.admin);
    REQUIRE(report.status == 200);
    REQUIRE(report.json["generated_at"] == instant);
  }
  // Now, and as_of now: the same listing.
  auto now_listing = api.get(d.path + "/whatsapp/keys", d.viewer);
  const std::string last = *instants.rbegin();
  REQUIRE(statuses(api.get(d.path + "/whatsapp/keys" + at(last), d.viewer).json) == statuses(now_listing.json));
  REQUIRE(statuses(now_listing.json).size() == 1);

  // Before the dashboard existed: 404. Not a time, or in the future: 400 naming as_of.
  const auto created = *es::parse_rfc3339(*instants.begin());
  REQUIRE(api.get(d.path + "/email/keys" + at(es::format_rfc3339(created - std::chrono::milliseconds(1))), d.viewer).status == 404);
  REQUIRE(api.get(d.path + at(es::format_rfc3339(created - std::chrono::hours(24))), d.viewer).status == 404);
  for (const std::string bad : {"yesterday", "2026-13-01T00:00:00Z"}) {
    auto reply = api.get(d.path + "/email/keys" + at(bad), d.viewer);
    REQUIRE(reply.status == 400);
    REQUIRE(reply.json["field"] == "as_of");
  }
  REQUIRE(api.get(d.path + "/compliance" + at("2999-01-01T00:00:00Z"), d.admin).status == 400);
}
