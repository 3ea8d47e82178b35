// The Kafka backend against a real broker: fencing of a second writer, a broker outage,
// and the topic as an outside consumer reads it. These never skip: without a broker they fail.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) FAIL(std::string(name) + " is not set: run tools/test, which starts a Kafka broker");
  return value;
}

std::string kafka_store(const std::string& bootstrap, const TempDir& dir) {
  return "kafka://" + bootstrap + "/" + dir.path().substr(dir.path().find_last_of('/') + 1);
}

int kafka_script(const std::string& verb, const std::string& dir, std::string* output = nullptr) {
  std::string command = required_env("KEYLEDGER_TEST_KAFKA_SCRIPT") + " " + verb + " " + dir + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[512];
  while (pipe && fgets(buf, sizeof buf, pipe)) out += buf;
  int status = pipe ? pclose(pipe) : -1;
  if (output) *output = out;
  return status;
}

// Runs `tools/kafka VERB DIR` and returns the bootstrap list it prints last.
std::string started_bootstrap(const std::string& verb, const std::string& dir) {
  std::string started;
  REQUIRE(kafka_script(verb, dir, &started) == 0);
  std::string bootstrap = started.substr(started.find_last_of('\n', started.size() - 2) + 1);
  bootstrap.erase(bootstrap.find_last_not_of('\n') + 1);
  return bootstrap;
}

// A broker of the test's own (tools/kafka start), for tests that stop and restart it.
struct OwnBroker {
  std::string dir;
  std::string bootstrap;
  explicit OwnBroker(std::string directory) : dir(std::move(directory)) {
    bootstrap = started_bootstrap("start", dir);
  }
  ~OwnBroker() { kafka_script("stop", dir); }
  void stop() const { REQUIRE(kafka_script("stop", dir) == 0); }
  void resume() const { REQUIRE(kafka_script("resume", dir) == 0); }
};

// Three brokers of the test's own (tools/kafka start-cluster): replication 3,
// min.insync.replicas 2. Brokers are numbered 1 to 3 as Kafka's node ids.
struct OwnCluster {
  std::string dir;
  std::string bootstrap;
  explicit OwnCluster(std::string directory) : dir(std::move(directory)) {
    bootstrap = started_bootstrap("start-cluster", dir);
  }
  ~OwnCluster() { kafka_script("stop-cluster", dir); }
  void kill(int node) const { REQUIRE(kafka_script("kill", dir + "/" + std::to_string(node)) == 0); }
};

// The node ids of a topic's partitions' leaders and each partition's replica count (kcat's
// metadata), in partition order.
std::vector<std::pair<int, std::size_t>> partition_leaders(const std::string& bootstrap, const std::string& topic) {
  FILE* pipe = popen(("kcat -b " + bootstrap + " -L -J -t " + topic).c_str(), "r");
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  REQUIRE(pclose(pipe) == 0);
  std::vector<std::pair<int, std::size_t>> leaders;
  const json metadata = json::parse(out);
  for (const auto& t : metadata["topics"]) {
    if (t["topic"] != topic) continue;
    for (const auto& p : t["partitions"]) leaders.emplace_back(p["leader"].get<int>(), p["replicas"].size());
  }
  return leaders;
}

// Eight writers generating Email keys on four dashboards as developers, until stopped: which
// keys were acknowledged (201), how many were refused with 503, and any other answer. While
// one dashboard's transaction waits on the broker, the others' commands reach the log and
// are refused at once; on one dashboard alone they would queue behind the waiting one.
struct Writers {
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<int> refused{0}, unexpected{0};
  std::vector<std::string> unexpected_answers;  // what they were, for the failure message
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;

  Writers(const ApiClient& api, const std::vector<Dashboard>& dashboards) {
    for (int w = 0; w < 8; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; !stopping; ++i) {
          ApiReply reply;
          try {
            const auto& d = dashboards[w % dashboards.size()];
            reply = api.post(d.path + "/email/keys", {{"name", "w" + std::to_string(w) + "-" + std::to_string(i)}}, d.developer);
          } catch (const std::exception& e) {
            ++unexpected;  // no answer within 30 s: not a bounded failure
            std::lock_guard lock(mutex);
            unexpected_answers.push_back(std::string("no answer: ") + e.what());
            continue;
          }
          if (reply.status == 201) {
            std::lock_guard lock(mutex);
            acknowledged.insert(reply.json["id"].get<std::string>());
          } else {
            (reply.status == 503 ? refused : unexpected)++;
            if (reply.status != 503) {
              std::lock_guard lock(mutex);
              unexpected_answers.push_back(std::to_string(reply.status) + " " + reply.body);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
      });
    }
  }
  ~Writers() { stop(); }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return acknowledged.size();
  }
  // Waits, at most `seconds`, until `more` keys past `from` were acknowledged.
  bool wait_for(std::size_t from, std::size_t more, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (count() >= from + more) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return count() >= from + more;
  }
  void stop() {
    stopping = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
};

// Every acknowledged key's generation is on the topic exactly once, and no event twice
// (read_committed, as an outside consumer reads it).
void require_each_once(const std::string& bootstrap, const std::string& topic, const std::set<std::string>& acknowledged,
                       std::map<std::string, int>* generated_out = nullptr) {
  std::string command = "kcat -b " + bootstrap + " -C -t " + topic +
                        " -e -q -X isolation.level=read_committed -f '%h\\t%s\\n'";
  FILE* pipe = popen(command.c_str(), "r");
  std::map<std::string, int> event_ids, generated;
  char line[16384];
  while (fgets(line, sizeof line, pipe)) {
    std::string text(line);
    auto id_at = text.find("ce_id=");
    REQUIRE(id_at != std::string::npos);
    ++event_ids[text.substr(id_at + 6, 36)];
    auto tab = text.find('\t');
    auto envelope = json::parse(text.substr(tab + 1), nullptr, false);
    if (!envelope.is_discarded() && envelope["type"] == "EmailKeyGenerated") ++generated[envelope["data"]["key_id"]];
  }
  REQUIRE(pclose(pipe) == 0);
  for (auto& [id, n] : event_ids) {
    INFO("event " << id);
    REQUIRE(n == 1);
  }
  for (auto& key : acknowledged) {
    INFO("key " << key);
    REQUIRE(generated[key] == 1);
  }
  if (generated_out) *generated_out = std::move(generated);
}

// The server's log without the request lines and refused batches: what it noted.
std::string notes_of(const ServerProcess& server) {
  std::string notes;
  std::istringstream lines(server.log());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"msg\":\"request\"") == std::string::npos && line.find("refused a batch") == std::string::npos) {
      notes += line + "\n";
    }
  }
  return notes;
}

}  // namespace

TEST_CASE("kafka: a second instance with the same transactional id fences the first, which never appends again but follows it as a read replica") {
  TempDir dir;
  std::map<std::string, std::string> env{{"KEYLEDGER_STORE", kafka_store(required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP"), dir)},
                                         {"KEYLEDGER_KAFKA_TRANSACTIONAL_ID", "keyledger-fencing-" + dir.path().substr(dir.path().size() - 6)}};
  ServerProcess first(dir.path(), env);
  ApiClient a(first);
  auto d = make_dashboard(a);
  REQUIRE(a.post(d.path + "/email/keys", {{"name", "before"}}, d.admin).status == 201);

  ServerProcess second(dir.path(), env);  // takes over the transactional id
  ApiClient b(second);
  auto refused = a.post(d.path + "/email/keys", {{"name", "zombie"}}, d.admin);
  REQUIRE(refused.status == 503);
  REQUIRE(refused.json["code"] == "log_unavailable");
  REQUIRE(a.post(d.path + "/email/keys", {{"name", "zombie again"}}, d.admin).status == 503);
  // Said in its log (read from its stderr by another thread, so waited for with a bound).
  REQUIRE(eventually([&] { return first.log().find("fenced") != std::string::npos; }));

  // The new instance has every event the first committed, and none of its refused ones.
  auto listing = b.get(d.path + "/email/keys", d.admin);
  REQUIRE(listing.json["keys"].size() == 1);
  REQUIRE(listing.json["keys"][0]["name"] == "before");
  auto after = b.post(d.path + "/email/keys", {{"name", "after"}}, d.admin);
  REQUIRE(after.status == 201);
  REQUIRE(b.get(d.path + "/audit/verify", d.admin).json["ok"] == true);

  // The fenced instance folds what the new writer commits: its key verifies there, and once
  // revoked there it is refused here too (SPEC §10: every process is a read replica).
  const std::string key = after.json["key"];
  REQUIRE(eventually([&] { return verify(a, key).json["valid"] == true; }));
  REQUIRE(a.get(d.path + "/email/keys", d.admin).json["keys"].size() == 2);
  REQUIRE(b.del(d.path + "/email/keys/" + after.json["id"].get<std::string>(), d.admin).status == 200);
  REQUIRE(eventually([&] { return verify(a, key).json["reason"] == "revoked"; }));
  REQUIRE(a.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
  REQUIRE(a.get(d.path + "/audit", d.admin).json["events"].size() == b.get(d.path + "/audit", d.admin).json["events"].size());
}

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
    REQUIRE(refused.json["code"] == "log_unavailable");
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

  Writers writers(api, dashboards);
  REQUIRE(writers.wait_for(0, 20, 60));  // writing before the outage
  own.stop();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  own.resume();
  const std::size_t before_outage_end = writers.count();
  // Writes resume without restarting keyledger (the coordinator may take a while to reload).
  const bool resumed = writers.wait_for(before_outage_end, 21, 60);
  writers.stop();
  INFO(notes_of(server));
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
