// A Kafka replica kept across restarts (keyledger serve --replica-dir, SPEC §10's fast start):
// a restarted process starts from its snapshot and its kept records, reads from the brokers
// only what was committed since, and answers exactly as before; a directory whose records
// are not the topic's is not trusted. Real processes on the broker tools/test started.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "kafka_fixtures.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

// The log line (JSON) whose "msg" is `message`, from a server's stderr.
json log_entry(const std::string& log, const std::string& message) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    auto entry = json::parse(line, nullptr, false);
    if (entry.is_object() && entry.value("msg", "") == message) return entry;
  }
  return json();
}

std::map<std::string, std::string> replica_env(const std::string& store, const std::string& replica) {
  return {{"KEYLEDGER_STORE", store}, {"KEYLEDGER_REPLICA_DIR", replica}};
}

}  // namespace

TEST_CASE("kafka replica: restarted with its replica directory a process starts from its snapshot and reads only what was committed since, and keys, listings, the audit trail and its chain answer as before") {
  TempDir dir;
  const std::string store = kafka_store(required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP"), dir);
  const std::string replica = dir.path() + "/replica";
  Dashboard d;
  std::vector<std::string> keys;
  std::string revoked_id;
  json audit_before;
  {
    ServerProcess server(dir.path(), replica_env(store, replica));
    ApiClient api(server);
    d = make_dashboard(api);
    for (int i = 0; i < 30; ++i) {
      auto created = api.post(d.path + "/email/keys", {{"name", "k" + std::to_string(i)}}, d.admin);
      REQUIRE(created.status == 201);
      keys.push_back(created.json["key"]);
      if (i == 0) revoked_id = created.json["id"];
    }
    REQUIRE(api.del(d.path + "/email/keys/" + revoked_id, d.admin).status == 200);
    audit_before = api.get(d.path + "/audit?limit=1000", d.admin).json["events"];
    // A second process cannot use the same directory.
    std::string refused;
    auto env = replica_env(store, replica);
    env["KEYLEDGER_MASTER_KEY_FILE"] = dir.path() + "/master.key";
    REQUIRE(run_keyledger({"serve", "--listen", "127.0.0.1:0"}, &refused, env) != 0);
    REQUIRE(refused.find("the replica directory " + replica + " is in use by another keyledger process") != std::string::npos);
    REQUIRE(server.terminate() == 0);
    REQUIRE(!log_entry(server.log(), "snapshot written").is_null());
  }
  // While it is away another process (no replica directory) commits to the topic.
  std::string added;
  {
    ServerProcess other(dir.path(), {{"KEYLEDGER_STORE", store}});
    ApiClient api(other);
    auto created = api.post(d.path + "/email/keys", {{"name", "while away"}}, d.admin);
    REQUIRE(created.status == 201);
    added = created.json["key"];
  }
  ServerProcess again(dir.path(), replica_env(store, replica));
  ApiClient api(again);
  const json recovered = log_entry(again.log(), "log recovered");
  INFO(again.log());
  REQUIRE(recovered["snapshot_events"].get<std::uint64_t>() >= 32);  // creation, 30 keys, revocation...
  REQUIRE(recovered["replayed"].get<std::uint64_t>() < recovered["snapshot_events"].get<std::uint64_t>());
  REQUIRE(again.log().find("after the " ) != std::string::npos);  // "read N committed events ... after the M kept"
  // Everything answers as it did, with what was committed meanwhile.
  REQUIRE(verify(api, keys[0]).json["reason"] == "revoked");
  for (std::size_t i = 1; i < keys.size(); ++i) REQUIRE(verify(api, keys[i]).json["valid"] == true);
  REQUIRE(verify(api, added).json["valid"] == true);
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 31);
  auto audit_after = api.get(d.path + "/audit?limit=1000", d.admin).json["events"];
  REQUIRE(audit_after.size() > audit_before.size());
  for (std::size_t i = 0; i < audit_before.size(); ++i) REQUIRE(audit_after[i] == audit_before[i]);
  auto chain = api.get(d.path + "/audit/verify", d.admin).json;
  REQUIRE(chain["ok"] == true);
  REQUIRE(chain["events"].get<std::size_t>() == audit_after.size());
  auto proof = api.get(d.path + "/audit/proofs/inclusion?sequence=2", d.admin);
  REQUIRE(proof.status == 200);
  // Commands go on from there.
  REQUIRE(api.post(d.path + "/email/keys", {{"name", "after"}}, d.admin).status == 201);
}

TEST_CASE("kafka replica: a replica directory whose records are not the topic's (a topic made again under its name) is emptied and the topic read from its beginning") {
  TempDir dir;
  const std::string bootstrap = required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP");
  const std::string first_topic = "kafka://" + bootstrap + "/" + std::filesystem::path(dir.path()).filename().string() + "-a";
  const std::string second_topic = "kafka://" + bootstrap + "/" + std::filesystem::path(dir.path()).filename().string() + "-b";
  const std::string replica = dir.path() + "/replica";
  Dashboard first;
  {
    ServerProcess server(dir.path(), replica_env(first_topic, replica));
    ApiClient api(server);
    first = make_dashboard(api, "First");
    for (int i = 0; i < 5; ++i) REQUIRE(api.post(first.path + "/email/keys", {{"name", "k"}}, first.admin).status == 201);
  }
  Dashboard second;
  {
    ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", second_topic}});
    ApiClient api(server);
    second = make_dashboard(api, "Second");
    for (int i = 0; i < 5; ++i) REQUIRE(api.post(second.path + "/email/keys", {{"name", "k"}}, second.admin).status == 201);
  }
  // The directory says it is the second topic's: what a topic deleted and made again under
  // the same name looks like to it.
  const std::string second_name = second_topic.substr(second_topic.find_last_of('/') + 1);
  {
    std::ifstream in(replica + "/replica.json");
    json identity = json::parse(in);
    identity["topic"] = second_name;
    std::ofstream(replica + "/replica.json") << identity.dump();
  }
  ServerProcess server(dir.path(), replica_env(second_topic, replica));
  ApiClient api(server);
  INFO(server.log());
  REQUIRE(server.log().find("the replica directory " + replica + " starts afresh") != std::string::npos);
  REQUIRE(log_entry(server.log(), "log recovered")["snapshot_events"] == 0);
  REQUIRE(api.get(second.path + "/email/keys", second.admin).json["keys"].size() == 5);
  auto dashboards = api.get("/v1/dashboards", kOperatorToken).json["dashboards"];
  REQUIRE(dashboards.size() == 1);
  REQUIRE(dashboards[0]["id"] == second.id);
  REQUIRE(api.get(second.path + "/audit/verify", second.admin).json["ok"] == true);
}
