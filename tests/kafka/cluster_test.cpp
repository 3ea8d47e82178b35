// Many `keyledger serve` processes on one Kafka topic (SPEC §10): partition ownership by the
// owners' group, refusals for partitions owned elsewhere, every process a read replica, and
// what happens to an owner that is killed or paused. Real processes on the broker tools/test
// started; these never skip.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <memory>

#include "kafka_fixtures.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

constexpr int kPartitions = 6;

// `n` processes on one new topic of the test broker (its own directory, hence master key).
struct Cluster {
  TempDir dir;
  std::string topic;
  std::map<std::string, std::string> env;
  std::vector<std::unique_ptr<ServerProcess>> processes;

  explicit Cluster(int n, std::map<std::string, std::string> extra = {}) : env(std::move(extra)) {
    env["KEYLEDGER_STORE"] = kafka_store(required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP"), dir);
    env["KEYLEDGER_KAFKA_PARTITIONS"] = std::to_string(kPartitions);
    topic = env["KEYLEDGER_STORE"].substr(env["KEYLEDGER_STORE"].find_last_of('/') + 1);
    for (int i = 0; i < n; ++i) processes.push_back(std::make_unique<ServerProcess>(dir.path(), env));
  }
};

// The partitions a process says it owns (/metrics).
std::set<int> owned(const ApiClient& api) {
  std::set<int> partitions;
  for (int p = 0; p < kPartitions; ++p) {
    if (metric(api, "keyledger_partition_owned{partition=\"" + std::to_string(p) + "\"}") == 1) partitions.insert(p);
  }
  return partitions;
}

// Every partition owned by exactly one of the processes, each owning some.
bool split_between(const std::vector<const ApiClient*>& apis) {
  std::size_t total = 0;
  std::set<int> all;
  for (const auto* api : apis) {
    auto mine = owned(*api);
    if (mine.empty()) return false;
    total += mine.size();
    all.insert(mine.begin(), mine.end());
  }
  return total == kPartitions && all.size() == kPartitions;
}

}  // namespace

TEST_CASE("cluster: two processes on one topic split its partitions: each decides only for its own, refuses the others' with 503 not_owner, and answers verify for all") {
  Cluster cluster(2);
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  REQUIRE(metric(a, "keyledger_rebalances_total") >= 1);

  // Creation through either process succeeds: it draws ids until one falls in a partition
  // it owns. Every command for the dashboard is then that process's.
  Dashboard da = make_dashboard(a), db = make_dashboard(b);

  auto key_a = a.post(da.path + "/email/keys", {{"name", "on a"}}, da.admin);
  REQUIRE(key_a.status == 201);
  auto refused = b.post(da.path + "/email/keys", {{"name", "through b"}}, da.admin);
  REQUIRE(refused.status == 503);
  REQUIRE(refused.json["code"] == "not_owner");
  REQUIRE(refused.headers.at("retry-after") == "1");
  auto key_b = b.post(db.path + "/email/keys", {{"name", "on b"}}, db.admin);
  REQUIRE(key_b.status == 201);

  // Each process folds what the other decides: listings, verify and revocation everywhere.
  const std::string ka = key_a.json["key"], kb = key_b.json["key"];
  REQUIRE(eventually([&] { return verify(b, ka).json["valid"] == true && verify(a, kb).json["valid"] == true; }));
  REQUIRE(b.get(da.path + "/email/keys", da.admin).json["keys"].size() == 1);  // the refused one is nowhere
  REQUIRE(a.del(da.path + "/email/keys/" + key_a.json["id"].get<std::string>(), da.admin).status == 200);
  REQUIRE(eventually([&] { return verify(b, ka).json["reason"] == "revoked"; }));
  for (const auto* api : {&a, &b}) {
    for (const auto* d : {&da, &db}) REQUIRE(api->get(d->path + "/audit/verify", d->admin).json["ok"] == true);
  }
  REQUIRE(a.get(db.path + "/audit", db.admin).json["events"].size() ==
          b.get(db.path + "/audit", db.admin).json["events"].size());
  // A number's registrations are decided only by the owner of the number's own partition
  // (murmur2 of the number): through A, some numbers register and the others are refused
  // with not_owner; one registered in da can never be registered in db through B.
  std::vector<std::string> accepted;
  int elsewhere = 0;
  for (int i = 0; i < 16 && (accepted.empty() || elsewhere == 0); ++i) {
    const std::string number = "+1415555" + std::to_string(1000 + i);
    auto reply = a.post(da.path + "/sms/numbers", {{"number", number}}, da.admin);
    INFO(reply.body);
    if (reply.status == 201) {
      accepted.push_back(number);
    } else {
      REQUIRE(reply.status == 503);
      REQUIRE(reply.json["code"] == "not_owner");
      ++elsewhere;
    }
  }
  REQUIRE(!accepted.empty());
  REQUIRE(elsewhere > 0);
  REQUIRE(b.post(db.path + "/sms/numbers", {{"number", accepted.front()}}, db.admin).status != 201);
  REQUIRE(a.post(da.path + "/sms/numbers", {{"number", "not a number"}}, da.admin).status == 400);
  for (const auto* api : {&a, &b}) {
    REQUIRE(metric(*api, "keyledger_number_reservations_open") == 0);
    REQUIRE(eventually([&] {
      for (int p = 0; p < kPartitions; ++p) {
        if (metric(*api, "keyledger_partition_lag_offsets{partition=\"" + std::to_string(p) + "\"}") != 0) return false;
      }
      return true;
    }));
  }

  // The operator's list of dashboards, on either process, has every partition's.
  for (const auto* api : {&a, &b}) {
    std::set<std::string> listed;
    auto listing = api->get("/v1/dashboards?limit=1000", kOperatorToken);
    INFO(listing.body);
    for (const auto& d : listing.json["dashboards"]) listed.insert(d["id"]);
    REQUIRE(listed.contains(da.id));
    REQUIRE(listed.contains(db.id));
  }
}

TEST_CASE("cluster: an owner killed with SIGKILL: the survivor owns its partitions within the session timeout and a second, keeps its own throughout, and has every acknowledged command once") {
  Cluster cluster(2, {{"KEYLEDGER_USAGE_INTERVAL", "1"}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a), db = make_dashboard(b);
  auto before = b.post(db.path + "/email/keys", {{"name", "before"}}, db.admin);
  REQUIRE(before.status == 201);
  // Verified on the process that does not own it: the uses are kept there, not dropped,
  // and recorded once that process owns the dashboard's partition.
  REQUIRE(eventually([&] { return verify(a, before.json["key"]).json["valid"] == true; }));
  for (int i = 0; i < 2; ++i) REQUIRE(verify(a, before.json["key"]).json["valid"] == true);

  const std::vector<Dashboard> written{da};
  Writers writers(a, written);  // through the survivor, to a partition it owns all along
  const bool writing = writers.wait_for(0, 20, 30);
  INFO("refused " << writers.refused << ", unexpected " << writers.unexpected << ": "
                  << (writers.unexpected_answers.empty() ? "" : writers.unexpected_answers.front()));
  REQUIRE(writing);
  REQUIRE(kill(cluster.processes[1]->pid(), SIGKILL) == 0);
  const auto killed_at = std::chrono::steady_clock::now();
  std::string taken;
  REQUIRE(eventually(
      [&] {
        auto reply = a.post(db.path + "/email/keys", {{"name", "after"}}, db.admin);
        if (reply.status == 201) taken = reply.json["id"];
        return reply.status == 201;
      },
      std::chrono::seconds(30)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  INFO("the killed owner's partitions took commands again after " << seconds << " s");
  REQUIRE(seconds < 6 + 1 + 3);  // the session timeout (6 s), SPEC's second, and room for a loaded machine
  const std::size_t at_takeover = writers.count();
  REQUIRE(writers.wait_for(at_takeover, 20, 30));
  writers.stop();
  INFO("unexpected answers: " << writers.unexpected_answers.size());
  REQUIRE(writers.unexpected == 0);
  REQUIRE(writers.refused == 0);  // cooperative: a survivor's own partitions are never revoked

  std::set<std::string> acknowledged = writers.acknowledged;
  acknowledged.insert(before.json["id"].get<std::string>());
  acknowledged.insert(taken);
  require_each_once(required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP"), cluster.topic, acknowledged);
  const std::string before_path = db.path + "/email/keys/" + before.json["id"].get<std::string>();
  REQUIRE(eventually([&] { return a.get(before_path, db.admin).json["uses"] == 3; }));
  REQUIRE(verify(a, before.json["key"]).json["valid"] == true);
  REQUIRE(a.get(db.path + "/email/keys", db.admin).json["keys"].size() == 2);
  REQUIRE(a.get(da.path + "/email/keys", da.admin).json["keys"].size() == writers.acknowledged.size());
  for (const auto* d : {&da, &db}) REQUIRE(a.get(d->path + "/audit/verify", d->admin).json["ok"] == true);
}

TEST_CASE("cluster: an owner paused past its session timeout loses its partitions, and resumed it appends nothing for them and follows their new owner") {
  Cluster cluster(2);
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard db = make_dashboard(b);
  REQUIRE(b.post(db.path + "/email/keys", {{"name", "before"}}, db.admin).status == 201);

  const pid_t paused = cluster.processes[1]->pid();
  REQUIRE(kill(paused, SIGSTOP) == 0);
  std::string taken_key;
  const bool taken = eventually(
      [&] {
        auto reply = a.post(db.path + "/email/keys", {{"name", "taken over"}}, db.admin);
        if (reply.status == 201) taken_key = reply.json["key"];
        return reply.status == 201;
      },
      std::chrono::seconds(30));
  REQUIRE(kill(paused, SIGCONT) == 0);
  REQUIRE(taken);

  // Resumed, it still believes for a moment that the partition is its own: whatever it
  // decides, the new owner fenced its writer, so nothing of it reaches the topic. (Once it
  // has heard that it lost the partition it rejoins, and may be given a share again.)
  ApiReply zombie;
  try {
    zombie = b.post(db.path + "/email/keys", {{"name", "zombie"}}, db.admin);
  } catch (const std::exception& e) {
    FAIL(e.what() << "\n" << notes_of(*cluster.processes[1]));
  }
  REQUIRE(zombie.status == 503);
  // Either its commit was refused (fenced) or it had already heard it lost the partition.
  REQUIRE((zombie.json["code"] == "not_owner" || metric(b, "keyledger_fenced_appends_total") >= 1));
  REQUIRE(eventually([&] { return verify(b, taken_key).json["valid"] == true; }));
  for (const auto* api : {&a, &b}) {
    auto keys = api->get(db.path + "/email/keys", db.admin).json["keys"];
    REQUIRE(keys.size() == 2);
    for (const auto& k : keys) REQUIRE(k["name"] != "zombie");
    REQUIRE(api->get(db.path + "/audit/verify", db.admin).json["ok"] == true);
  }
  require_each_once(required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP"), cluster.topic, {});
}
