// The Kafka backend against a real broker: broker outages (one broker, and one of three), the
// keyring topic, and the topic as an outside consumer reads it. These never skip: without a broker they fail.
#include <catch2/catch.hpp>

#include "kafka_fixtures.hpp"

using namespace keyledger::testing;
using nlohmann::json;

TEST_CASE("kafka: with the broker down commands fail fast with 503 and change nothing, and succeed once it is back") {
  TempDir broker, dir;
  OwnBroker own(broker.path() + "/kafka");
  const std::string& bootstrap = own.bootstrap;

  ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", kafka_store(bootstrap, dir)}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  REQUIRE(api.post(d.path + "/email/keys", {{"name", "first"}}, d.admin).status == 201);

  own.stop();
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto started_at = std::chrono::steady_clock::now();
    auto refused = api.post(d.path + "/email/keys", {{"name", "while down"}}, d.admin);
    auto took = std::chrono::steady_clock::now() - started_at;
    INFO("attempt " << attempt << ": " << refused.body);
    REQUIRE(refused.status == 503);
    // The log cannot take the batch; once the process's session in the owners' group has
    // ended (the brokers away longer than its timeout) it holds no partition at all.
    REQUIRE((refused.json["code"] == "log_unavailable" || refused.json["code"] == "not_owner"));
    REQUIRE(refused.headers.count("retry-after") == 1);
    REQUIRE(took < std::chrono::seconds(20));
  }
  // Reads are served from state, which did not change; a reveal fails closed.
  REQUIRE(api.get(d.path + "/email/keys", d.admin).json["keys"].size() == 1);
  auto reveal = api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin);
  REQUIRE(reveal.status == 503);
  REQUIRE_FALSE(reveal.json.contains("key"));

  own.resume();
  ApiReply created;
  for (int attempt = 0; attempt < 30; ++attempt) {
    created = api.post(d.path + "/email/keys", {{"name", "after"}}, d.admin);
    if (created.status == 201) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  REQUIRE(created.status == 201);
  auto names = api.get(d.path + "/email/keys", d.admin).json["keys"];
  REQUIRE(names.size() == 2);
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);

  // A fresh instance reads exactly the committed history: nothing from the outage.
  server.terminate();
  ServerProcess again(dir.path(), {{"KEYLEDGER_STORE", kafka_store(bootstrap, dir)}});
  ApiClient api2(again);
  REQUIRE(api2.get(d.path + "/email/keys", d.admin).json["keys"].size() == 2);
}

TEST_CASE("kafka: with the broker away longer than KEYLEDGER_MAX_STALENESS verify fails closed with 503 replica_stale, and answers again once it is back") {
  TempDir broker, dir;
  OwnBroker own(broker.path() + "/kafka");
  ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", kafka_store(own.bootstrap, dir)}, {"KEYLEDGER_MAX_STALENESS", "1"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  const std::string key = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["key"];
  REQUIRE(verify(api, key).json["valid"] == true);
  // Known current while the broker answers: the follower's probes settle within moments.
  REQUIRE(eventually([&] {
    const double staleness = metric(api, "keyledger_partition_staleness_seconds{partition=\"0\"}");
    return staleness >= 0 && staleness < 1;
  }));
  REQUIRE(metric(api, "keyledger_verify_stale_total") == 0);

  own.stop();
  ApiReply stale;
  REQUIRE(eventually([&] {
    stale = verify(api, key);
    return stale.status == 503;
  }, std::chrono::seconds(20)));
  INFO(stale.body);
  REQUIRE(stale.json["code"] == "replica_stale");
  REQUIRE(stale.headers["retry-after"] == "1");
  REQUIRE_FALSE(stale.json.contains("valid"));
  REQUIRE(metric(api, "keyledger_verify_stale_total") >= 1);
  // A key found in no partition is refused as before: there is nothing to be stale about.
  REQUIRE(verify(api, "kl_email_" + std::string(40, 'a')).json["valid"] == false);

  own.resume();
  REQUIRE(eventually([&] { return verify(api, key).json["valid"] == true; }, std::chrono::seconds(60)));
}

TEST_CASE("kafka: closing a dashboard writes a tombstone for its data key on the compacted keyring topic") {
  TempDir dir;
  std::string bootstrap = required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP");
  std::string store = kafka_store(bootstrap, dir);
  ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", store}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  std::string key = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["key"];
  REQUIRE(api.del(d.path, kOperatorToken).status == 200);
  std::string topic = store.substr(store.find_last_of('/') + 1) + "-keyring";
  std::string command = "kcat -b " + bootstrap + " -C -t " + topic + " -e -q -f '%k=%S\\n'";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  REQUIRE(pclose(pipe) == 0);
  REQUIRE(out.find(d.id + "=-1") != std::string::npos);  // kcat prints a null value's size as -1
  REQUIRE(out.find(key) == std::string::npos);
  server.terminate();
  // Restarted, the dashboard's secrets stay unreadable: its data key is gone.
  ServerProcess again(dir.path(), {{"KEYLEDGER_STORE", store}});
  ApiClient api2(again);
  REQUIRE(verify(api2, key).json["reason"] == "revoked");
}

TEST_CASE("kafka: a 10-second broker outage under load loses no acknowledged event and duplicates none") {
  TempDir broker, dir;
  OwnBroker own(broker.path() + "/kafka");
  const std::string& bootstrap = own.bootstrap;
  std::string store = kafka_store(bootstrap, dir);
  ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", store}});
  ApiClient api(server);
  std::vector<Dashboard> dashboards;
  for (int i = 0; i < 4; ++i) dashboards.push_back(make_dashboard(api));

  // A command whose transaction was committing when the broker went away is answered once
  // its outcome is known (a 503 before that could be a lie: the commit may land): after the
  // broker is back and its transaction coordinator has reloaded, which on a loaded machine is
  // more than the 30 s the other clients here wait; the next command of its dashboard waits
  // for it. Other new commands meanwhile are refused at once (the first test above bounds that).
  ApiClient patient(server, std::chrono::seconds(120));
  Writers writers(patient, dashboards);
  REQUIRE(writers.wait_for(0, 20, 60));  // writing before the outage
  own.stop();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  own.resume();
  const std::size_t before_outage_end = writers.count();
  // Writes resume without restarting keyledger (the coordinator may take a while to reload).
  const bool resumed = writers.wait_for(before_outage_end, 21, 60);
  writers.stop();
  INFO(notes_of(server));
  INFO("slowest answer " << writers.slowest_answer.count() << " ms, slowest refusal " << writers.slowest_refusal.count()
                         << " ms");
  for (auto& answer : writers.unexpected_answers) UNSCOPED_INFO("unexpected answer: " << answer);
  REQUIRE(writers.unexpected == 0);
  REQUIRE(writers.refused > 0);
  REQUIRE(resumed);
  server.terminate();

  std::map<std::string, int> generated;
  require_each_once(bootstrap, store.substr(store.find_last_of('/') + 1), writers.acknowledged, &generated);
  // A fresh instance sees the same history.
  ServerProcess again(dir.path(), {{"KEYLEDGER_STORE", store}});
  ApiClient api2(again);
  std::size_t listed = 0;
  for (auto& d : dashboards) {
    listed += api2.get(d.path + "/email/keys", d.admin).json["keys"].size();
    REQUIRE(api2.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
  }
  REQUIRE(listed == generated.size());
}

TEST_CASE("kafka: with three brokers, one killed under load: commands go on and every acknowledged one is on the topic once") {
  TempDir brokers, dir;
  OwnCluster cluster(brokers.path() + "/kafka");
  std::string store = kafka_store(cluster.bootstrap, dir);
  const std::string topic = store.substr(store.find_last_of('/') + 1);
  ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", store}, {"KEYLEDGER_KAFKA_REPLICATION", "3"}});
  ApiClient api(server);
  std::vector<Dashboard> dashboards;
  for (int i = 0; i < 4; ++i) dashboards.push_back(make_dashboard(api));
  const auto leaders = partition_leaders(cluster.bootstrap, topic);
  INFO("topic " << topic);
  REQUIRE(leaders.size() == 3);
  for (const auto& [leader, replicas] : leaders) REQUIRE(replicas == 3);

  Writers writers(api, dashboards);
  REQUIRE(writers.wait_for(0, 50, 60));
  // SIGKILL the leader of the topic's first partition: no controlled shutdown, no handover.
  cluster.kill(leaders.front().first);
  const std::size_t at_kill = writers.count();
  const bool went_on = writers.wait_for(at_kill, 100, 90);
  writers.stop();
  INFO(notes_of(server));
  for (auto& answer : writers.unexpected_answers) UNSCOPED_INFO("unexpected answer: " << answer);
  REQUIRE(writers.unexpected == 0);  // 503s while leaders move are allowed, nothing else
  REQUIRE(went_on);
  for (const auto& [leader, replicas] : partition_leaders(cluster.bootstrap, topic)) {
    REQUIRE(leader != leaders.front().first);
  }
  server.terminate();
  require_each_once(cluster.bootstrap, topic, writers.acknowledged);
}

TEST_CASE("kafka: with two of three brokers killed (no quorum) commands fail with 503 and change nothing, verify fails closed past KEYLEDGER_MAX_STALENESS and never finds a revoked key valid, and all resumes when they return") {
  TempDir brokers, dir;
  OwnCluster cluster(brokers.path() + "/kafka");
  ServerProcess server(dir.path(), {{"KEYLEDGER_STORE", kafka_store(cluster.bootstrap, dir)},
                                    {"KEYLEDGER_KAFKA_REPLICATION", "3"},
                                    {"KEYLEDGER_MAX_STALENESS", "2"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto live = api.post(d.path + "/email/keys", {{"name", "live"}}, d.admin);
  auto revoked = api.post(d.path + "/email/keys", {{"name", "revoked"}}, d.admin);
  REQUIRE(live.status == 201);
  REQUIRE(revoked.status == 201);
  REQUIRE(api.del(d.path + "/email/keys/" + revoked.json["id"].get<std::string>(), d.admin).status == 200);

  cluster.kill(2);
  cluster.kill(3);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto started_at = std::chrono::steady_clock::now();
    auto refused = api.post(d.path + "/email/keys", {{"name", "without a quorum"}}, d.admin);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
    INFO("attempt " << attempt << " after " << took << " s: " << refused.body);
    REQUIRE(refused.status == 503);
    REQUIRE((refused.json["code"] == "log_unavailable" || refused.json["code"] == "not_owner"));
    REQUIRE(refused.headers.count("retry-after") == 1);
    REQUIRE(took < 15);  // the command timeout (5 s) and the transaction's abort, not a hang
    REQUIRE(verify(api, revoked.json["key"]).json["valid"] != true);
  }
  // Past KEYLEDGER_MAX_STALENESS the live key is no longer answered from old state.
  REQUIRE(eventually([&] { return verify(api, live.json["key"]).json["code"] == "replica_stale"; }));
  REQUIRE(verify(api, revoked.json["key"]).json["valid"] != true);

  cluster.resume({2, 3});
  REQUIRE(eventually([&] { return api.post(d.path + "/email/keys", {{"name", "after"}}, d.admin).status == 201; },
                     std::chrono::seconds(90)));
  REQUIRE(eventually([&] { return verify(api, live.json["key"]).json["valid"] == true; }));
  REQUIRE(verify(api, revoked.json["key"]).json["reason"] == "revoked");
  std::multiset<std::string> names;
  const auto listing = api.get(d.path + "/email/keys", d.admin);
  for (const auto& k : listing.json["keys"]) names.insert(k["name"].get<std::string>());
  INFO(listing.body);
  REQUIRE(listing.status == 200);
  REQUIRE(names.count("without a quorum") == 0);
  REQUIRE(names.count("after") == 1);
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
}
