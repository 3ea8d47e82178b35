// Read-your-writes positions (SPEC §10) over HTTP, on both stores: a command's answer says
// where its records are (Keyledger-Position); a read that sends that back as
// Keyledger-Min-Position is answered with the write applied, and a position this process
// has not applied, or a malformed one, is refused with the problem the spec names.
#include <catch2/catch.hpp>

#include <atomic>
#include <regex>
#include <thread>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

std::uint64_t offset_of(const std::string& position) { return std::stoull(position.substr(position.find(':') + 1)); }

}  // namespace

TEST_CASE("e2e: a command's answer gives its position, and a read that names it sees the write") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);

  auto created = api.post(d.path + "/email/keys", {{"name", "billing"}}, d.admin);
  REQUIRE(created.status == 201);
  const std::string position = created.headers["keyledger-position"];
  INFO("Keyledger-Position: " << position);
  REQUIRE(std::regex_match(position, std::regex(R"(\d+:\d+)")));

  // The position moves on with every command, a refusal's audited event included.
  auto refused = api.post(d.path + "/rcs/key/rotate", json::object(), d.admin);
  REQUIRE(refused.status == 409);
  const std::string after_refusal = refused.headers["keyledger-position"];
  REQUIRE(std::regex_match(after_refusal, std::regex(R"(\d+:\d+)")));
  if (after_refusal.substr(0, after_refusal.find(':')) == position.substr(0, position.find(':'))) {
    REQUIRE(offset_of(after_refusal) > offset_of(position));
  }
  // Reads carry none.
  REQUIRE_FALSE(api.get(d.path + "/email/keys", d.admin).headers.contains("keyledger-position"));

  auto read = api.call("GET", d.path + "/email/keys", std::nullopt, d.admin, {{"Keyledger-Min-Position", position}});
  REQUIRE(read.status == 200);
  REQUIRE(read.json["keys"].size() == 1);
  REQUIRE(read.json["keys"][0]["name"] == "billing");
  auto trail = api.call("GET", d.path + "/audit?order=desc&limit=1", std::nullopt, d.admin,
                        {{"Keyledger-Min-Position", after_refusal}});
  REQUIRE(trail.status == 200);
  REQUIRE(trail.json["events"][0]["type"] == "RcsKeyRotationDenied");
}

TEST_CASE("e2e: a position not applied here is a 503 with Retry-After, a malformed one a 400, and neither changes anything") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  const std::string position = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).headers["keyledger-position"];
  const std::string partition = position.substr(0, position.find(':'));

  auto ahead = api.call("GET", d.path + "/email/keys", std::nullopt, d.admin,
                        {{"Keyledger-Min-Position", partition + ":" + std::to_string(offset_of(position) + 1000000)}});
  REQUIRE(ahead.status == 503);
  REQUIRE(ahead.json["code"] == "position_not_applied");
  REQUIRE(ahead.headers["retry-after"] == "1");

  for (std::string bad : {"", "x", "0", "0:", ":5", "0:5,0:6", "99999:1", "0:-1", "0:1;1:2", "0:18446744073709551616"}) {
    if (bad.empty()) continue;  // no header: an ordinary read
    INFO("Keyledger-Min-Position: " << bad);
    auto reply = api.call("GET", d.path + "/email/keys", std::nullopt, d.admin, {{"Keyledger-Min-Position", bad}});
    REQUIRE(reply.status == 400);
    REQUIRE(reply.json["code"] == "invalid_request");
  }
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 1);
}

TEST_CASE("e2e: a read waiting for a position not applied yet holds no worker thread: on a server of one worker a command sent meanwhile is answered before it") {
  TempDir dir;
  ServerProcess server(dir.path(), {}, {"--workers", "1"});
  ApiClient api(server), other(server);
  auto d = make_dashboard(api);
  const std::string position = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).headers["keyledger-position"];
  const std::string ahead = position.substr(0, position.find(':')) + ":" + std::to_string(offset_of(position) + 1000000);
  std::atomic<bool> read_answered{false};
  ApiReply read;
  std::thread reader([&] {
    read = other.call("GET", d.path + "/email/keys", std::nullopt, d.admin, {{"Keyledger-Min-Position", ahead}});
    read_answered = true;
  });
  // The read is waiting (it waits a second for the position, then 503)...
  REQUIRE(eventually([&] { return metric(api, "keyledger_http_requests_in_flight") >= 1; }, std::chrono::seconds(5), std::chrono::milliseconds(1)));
  // ...and the only worker still runs commands meanwhile.
  auto created = api.post(d.path + "/email/keys", {{"name", "meanwhile"}}, d.admin);
  const bool before_the_read = !read_answered;
  reader.join();
  REQUIRE(created.status == 201);
  REQUIRE(before_the_read);
  REQUIRE(read.status == 503);
  REQUIRE(read.json["code"] == "position_not_applied");
}
