// The operator's list of dashboards (GET /v1/dashboards, SPEC §10), on both stores.
#include <catch2/catch.hpp>

#include <set>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

TEST_CASE("e2e: the operator lists every dashboard, open and closed, a page at a time") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) {
    auto reply = api.post("/v1/dashboards", {{"name", "D" + std::to_string(i)},
                                             {"admin", {{"email", "ada@example.com"}, {"password", "a long admin password"}}}},
                          kOperatorToken);
    REQUIRE(reply.status == 201);
    created.insert(reply.json["id"].get<std::string>());
  }
  const std::string closed = *created.begin();
  REQUIRE(api.del("/v1/dashboards/" + closed, kOperatorToken).status == 200);

  // Pages of two, each after the last id of the one before, in id order, every dashboard once.
  std::vector<std::string> listed;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    auto reply = api.get("/v1/dashboards?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), kOperatorToken);
    REQUIRE(reply.status == 200);
    for (const auto& d : reply.json["dashboards"]) {
      listed.push_back(d["id"]);
      REQUIRE(d["status"] == (d["id"] == closed ? "closed" : "open"));
      REQUIRE(d["name"].get<std::string>().starts_with("D"));
    }
    if (reply.json["next_cursor"].is_null()) break;
    cursor = reply.json["next_cursor"];
  }
  REQUIRE(std::set<std::string>(listed.begin(), listed.end()) == created);
  REQUIRE(std::is_sorted(listed.begin(), listed.end()));
  REQUIRE(listed.size() == created.size());

  // The operator's alone; a bad limit is a 400.
  auto d = make_dashboard(api);
  REQUIRE(api.get("/v1/dashboards", d.admin).status == 403);
  REQUIRE(api.get("/v1/dashboards", kServiceToken).status == 403);
  REQUIRE(api.get("/v1/dashboards", "").status == 401);
  for (const char* bad : {"0", "1001", "x", "-1"}) {
    auto reply = api.get(std::string("/v1/dashboards?limit=") + bad, kOperatorToken);
    REQUIRE(reply.status == 400);
    REQUIRE(reply.json["field"] == "limit");
  }
  REQUIRE(api.get("/v1/dashboards", kOperatorToken).json["dashboards"].size() == created.size() + 1);
}
