// Many `keyledger serve` processes on one Kafka topic (SPEC §10): partition ownership by the
// owners' group, refusals for partitions owned elsewhere (without a cluster token) or
// forwarding to their owner (with one), every process a read replica, and
// what happens to an owner that is killed or paused. Real processes on the broker tools/test
// started; these never skip.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

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

// The members of a cluster's owners' group ("keyledger-" + topic), as the broker lists them
// (Kafka's own consumer group tool).
int group_members(const std::string& topic) {
  std::string listed;
  const std::string group = "keyledger-" + topic;
  REQUIRE(kafka_script("groups", "--bootstrap-server " + required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP") +
                                     " --describe --members --group " + group, &listed) == 0);
  INFO(listed);
  int members = 0;
  std::istringstream lines(listed);
  for (std::string line; std::getline(lines, line);) members += line.rfind(group + " ", 0) == 0 ? 1 : 0;
  return members;
}

// A process's state letter in /proc (R, S, T for stopped, Z, …); '?' when there is none.
char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto name_end = line.rfind(')');  // the name, in parentheses, may hold spaces
  return name_end != std::string::npos && name_end + 2 < line.size() ? line[name_end + 2] : '?';
}

// TCP connections on this machine to 127.0.0.1:`port` in state ESTABLISHED (/proc/net/tcp:
// remote address hex "0100007F:PORT", state 01).
int established_to(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  char remote[32];
  std::snprintf(remote, sizeof remote, "0100007F:%04X", port);
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, peer, state;
    fields >> slot >> local >> peer >> state;
    if (peer == remote && state == "01") ++count;
  }
  return count;
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

TEST_CASE("cluster: three processes, one killed with SIGKILL while 32 clients send commands through the other two: its partitions are owned again within the session timeout and a second, the survivors' own never stop, every acknowledged command is on the topic once and its key verifies on both survivors") {
  Cluster cluster(3, {{"KEYLEDGER_USAGE_INTERVAL", "1"}, {"KEYLEDGER_CLUSTER_TOKEN", "cluster token of the failover test"}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]), c(*cluster.processes[2]);
  REQUIRE(eventually([&] { return split_between({&a, &b, &c}); }, std::chrono::seconds(30)));
  Dashboard da = make_dashboard(a), db = make_dashboard(b), dc = make_dashboard(c);
  auto before = c.post(dc.path + "/email/keys", {{"name", "before"}}, dc.admin);
  REQUIRE(before.status == 201);
  // Verified three times on each process that does not own it: each sends its uses to the
  // owner, which records them; they survive the owner.
  const std::string before_path = dc.path + "/email/keys/" + before.json["id"].get<std::string>();
  for (const auto* api : {&a, &b}) {
    REQUIRE(eventually([&] { return verify(*api, before.json["key"]).json["valid"] == true; }));
    for (int i = 0; i < 2; ++i) REQUIRE(verify(*api, before.json["key"]).json["valid"] == true);
  }
  REQUIRE(eventually([&] { return c.get(before_path, dc.admin).json["uses"] == 6; }));

  // Sixteen clients through each survivor, to all three dashboards: the victim's through
  // forwarding.
  const std::vector<Dashboard> dashboards{da, db, dc};
  Writers through_a(a, dashboards, 16), through_b(b, dashboards, 16);
  const bool writing = through_a.wait_for(0, 20, 30) && through_b.wait_for(0, 20, 30);
  INFO("refused " << through_a.refused + through_b.refused << ", unexpected " << through_a.unexpected + through_b.unexpected);
  REQUIRE(writing);
  REQUIRE(kill(cluster.processes[2]->pid(), SIGKILL) == 0);
  const auto killed_at = std::chrono::steady_clock::now();
  std::string taken;
  REQUIRE(eventually(
      [&] {
        auto reply = a.post(dc.path + "/email/keys", {{"name", "after"}}, dc.admin);
        if (reply.status == 201) taken = reply.json["id"];
        return reply.status == 201;
      },
      std::chrono::seconds(30)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  INFO("the killed owner's partitions took commands again after " << seconds << " s");
  REQUIRE(seconds < 6 + 1 + 3);  // the session timeout (6 s), SPEC's second, and room for a loaded machine
  const std::size_t at_takeover_a = through_a.count(), at_takeover_b = through_b.count();
  REQUIRE(through_a.wait_for(at_takeover_a, 20, 30));
  REQUIRE(through_b.wait_for(at_takeover_b, 20, 30));
  through_a.stop();
  through_b.stop();
  for (auto* writers : {&through_a, &through_b}) {
    INFO("unexpected answers: " << writers->unexpected_answers.size() << " "
                                << (writers->unexpected_answers.empty() ? "" : writers->unexpected_answers.front()));
    REQUIRE(writers->unexpected == 0);
    // Cooperative: the survivors' own partitions are never revoked, nor their forwarding
    // to each other held up; only the victim's dashboard waited for its new owner.
    REQUIRE(writers->refused_by_dashboard[da.id] == 0);
    REQUIRE(writers->refused_by_dashboard[db.id] == 0);
  }

  std::map<std::string, std::string> keys = through_a.keys;
  keys.insert(through_b.keys.begin(), through_b.keys.end());
  std::set<std::string> acknowledged{before.json["id"].get<std::string>(), taken};
  for (const auto& [id, key] : keys) acknowledged.insert(id);
  INFO(keys.size() << " keys acknowledged");
  REQUIRE(keys.size() > 60);
  require_each_once(required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP"), cluster.topic, acknowledged);
  for (const auto* api : {&a, &b}) {
    for (const auto& [id, key] : keys) {
      INFO("key " << id);
      REQUIRE(eventually([&] { return verify(*api, key).json["valid"] == true; }));
    }
    for (const auto* d : {&da, &db, &dc}) REQUIRE(api->get(d->path + "/audit/verify", d->admin).json["ok"] == true);
  }
  REQUIRE(a.get(before_path, dc.admin).json["uses"] == 6);
  REQUIRE(b.get(before_path, dc.admin).json["uses"] == 6);
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

TEST_CASE("cluster: with a cluster token any process takes any dashboard's command: forwarded one hop to the owner, answered once applied here, a leak report answered per token by each token's owner, and one Idempotency-Key creates one dashboard whichever process it reaches") {
  const std::string cluster_token = "cluster token of the forwarding test";
  Cluster cluster(2, {{"KEYLEDGER_CLUSTER_TOKEN", cluster_token}, {"KEYLEDGER_USAGE_INTERVAL", "1"}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a);  // in a partition A owns

  // Through B: forwarded to A, and answered once B holds the result (no Min-Position needed).
  auto key = b.post(da.path + "/email/keys", {{"name", "through b"}}, da.admin);
  INFO(key.body);
  REQUIRE(key.status == 201);
  REQUIRE(key.headers.contains("keyledger-position"));
  REQUIRE(b.get(da.path + "/email/keys", da.admin).json["keys"].size() == 1);
  REQUIRE(verify(b, key.json["key"]).json["valid"] == true);
  REQUIRE(metric(b, "keyledger_forwarded_commands_total{outcome=\"answered\"}") == 1);
  REQUIRE(metric(a, "keyledger_forwarded_commands_total{outcome=\"answered\"}") == 0);
  // Verifications B serves are recorded by A, the owner, within an interval or two.
  for (int i = 0; i < 2; ++i) REQUIRE(verify(b, key.json["key"]).json["valid"] == true);  // 3 with the one above
  const std::string key_path = da.path + "/email/keys/" + key.json["id"].get<std::string>();
  REQUIRE(eventually([&] { return a.get(key_path, da.admin).json["uses"] == 3 && b.get(key_path, da.admin).json["uses"] == 3; }));
  // Refusals travel back as the owner gave them (and are audited there, once).
  auto denied = b.post(da.path + "/email/keys", {{"name", "a viewer's"}}, da.viewer);
  REQUIRE(denied.status == 403);
  // A login through B is decided by A; its session works on both.
  const std::string session = log_in(b, da.id, da.admin_email, kAdminPassword);
  REQUIRE(a.get(da.path + "/email/keys", session).status == 200);
  REQUIRE(b.del(da.path + "/email/keys/" + key.json["id"].get<std::string>(), session).status == 200);
  REQUIRE(verify(b, key.json["key"]).json["reason"] == "revoked");
  // The SMS key's view is a GET that records its disclosure: a command, decided by the owner
  // too (it was refused 503 not_owner on every process but the owner before 2026-12-02).
  auto registered = b.post(da.path + "/sms/numbers", {{"number", "+14155550123"}}, da.admin);
  INFO(registered.body);
  REQUIRE(registered.status == 201);
  auto viewed = b.get(da.path + "/sms/numbers/%2B14155550123/key", da.admin);
  INFO(viewed.body);
  REQUIRE(viewed.status == 200);
  REQUIRE(verify(b, viewed.json["key"]).json["valid"] == true);

  // Between processes: a wrong cluster token is refused, and a peer's request is never
  // forwarded again (one hop): a non-owner answers it not_owner. Neither changes anything.
  auto forged = a.call("POST", da.path + "/email/keys", json{{"name", "forged"}}, da.admin,
                       {{"Keyledger-Cluster-Token", "not this cluster's token at all"}});
  REQUIRE(forged.status == 401);
  auto peer = b.call("POST", da.path + "/email/keys", json{{"name", "second hop"}}, da.admin,
                     {{"Keyledger-Cluster-Token", cluster_token}});
  REQUIRE(peer.status == 503);
  REQUIRE(peer.json["code"] == "not_owner");
  REQUIRE(a.get(da.path + "/email/keys", da.admin).json["keys"].size() == 1);
  REQUIRE(a.get(da.path + "/audit/verify", da.admin).json["ok"] == true);

  // A leak report spanning both processes' dashboards is answered per token, each token's
  // revocation decided by its owner.
  Dashboard db = make_dashboard(b);
  const std::string leaked_a = a.post(da.path + "/email/keys", {{"name", "leaked, on a"}}, da.admin).json["key"];
  const std::string leaked_b = b.post(db.path + "/email/keys", {{"name", "leaked, on b"}}, db.admin).json["key"];
  REQUIRE(eventually([&] { return verify(a, leaked_b).json["valid"] == true; }));
  auto leaks = a.post("/v1/leaks",
                      json::array({{{"token", leaked_b}, {"type", "keyledger_email"}, {"url", "https://github.com/o/r"}},
                                   {{"token", "kle_noise"}, {"type", "keyledger_email"}},
                                   {{"token", leaked_a}, {"type", "keyledger_email"}, {"url", "https://gist.github.com/x"}}}),
                      kServiceToken);
  INFO(leaks.body);
  REQUIRE(leaks.status == 200);
  REQUIRE(leaks.json.size() == 3);
  REQUIRE(leaks.json[0]["action"] == "revoked");
  REQUIRE(leaks.json[1]["label"] == "false_positive");
  REQUIRE(leaks.json[2]["action"] == "revoked");
  REQUIRE(verify(a, leaked_b).json["reason"] == "revoked");  // applied on a before it answered
  for (const auto* api : {&a, &b}) {
    REQUIRE(eventually([&] { return verify(*api, leaked_b).json["reason"] == "revoked"; }));
    REQUIRE(eventually([&] { return verify(*api, leaked_a).json["reason"] == "revoked"; }));
  }

  // One Idempotency-Key, sent at once through both processes: one dashboard, which both
  // answers name (a retry during the first answer's decision may be told to come back).
  const json body{{"name", "Once"}, {"admin", {{"email", "once@example.com"}, {"password", kAdminPassword}}}};
  for (int round = 0; round < 8; ++round) {
    const std::string idempotency_key = "creation-" + std::to_string(round);
    auto create = [&](const ApiClient& api) {
      ApiReply reply;
      eventually([&] {
        reply = api.call("POST", "/v1/dashboards", body, kOperatorToken, {{"Idempotency-Key", idempotency_key}});
        return reply.status != 409;
      });
      return reply;
    };
    ApiReply through_a, through_b;
    std::thread other([&] { through_b = create(b); });
    through_a = create(a);
    other.join();
    INFO(through_a.body << "\n" << through_b.body);
    REQUIRE(std::set<int>{through_a.status, through_b.status} == std::set<int>{200, 201});
    REQUIRE(through_a.json["id"] == through_b.json["id"]);
  }
  std::size_t named_once = 0;
  auto listing = a.get("/v1/dashboards?limit=1000", kOperatorToken);
  INFO(listing.body);
  for (const auto& d : listing.json["dashboards"]) named_once += d["name"] == "Once";
  REQUIRE(named_once == 8);
}

TEST_CASE("cluster: a connection kept open to an owner is not used once the owner is killed: a command forwarded right after is retried on new connections and answered not_owner, nothing sent, and taken once the partition has a new owner") {
  Cluster cluster(2, {{"KEYLEDGER_CLUSTER_TOKEN", "cluster token of the kept connection test"}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a);  // in a partition A owns
  // B forwards a command to A, and keeps the connection for the next one (for two seconds).
  REQUIRE(b.post(da.path + "/email/keys", {{"name", "before"}}, da.admin).status == 201);
  REQUIRE(kill(cluster.processes[0]->pid(), SIGKILL) == 0);
  // kill() returns before A is gone, and A's close of the connection reaches B's end a little
  // later still (the kernel's loopback delivery): a command sent meanwhile is written on a
  // connection that looks open and is rightly answered 502 (it may have reached A). Waited
  // for here: no connection to A's port left established.
  const std::string a_port = cluster.processes[0]->address().substr(cluster.processes[0]->address().rfind(':') + 1);
  REQUIRE(eventually([&] { return established_to(std::stoi(a_port)) == 0; }));
  // A's kernel closed the connection; written on, it would take the request and then fail
  // (502 forwarding_failed: "it may have been applied"). B sees it closed, connects anew, is
  // refused, retries for its 3 s, and says no owner took it (the group gives A's partitions
  // to B only when A's 6 s session ends).
  auto after = b.post(da.path + "/email/keys", {{"name", "after the kill"}}, da.admin);
  INFO(after.body);
  REQUIRE(after.status == 503);
  REQUIRE(after.json["code"] == "not_owner");
  REQUIRE(metric(b, "keyledger_forwarded_commands_total{outcome=\"failed\"}") == 0);
  // Once B owns A's partitions it decides the command itself.
  REQUIRE(eventually([&] { return b.post(da.path + "/email/keys", {{"name", "taken over"}}, da.admin).status == 201; },
                     std::chrono::seconds(30)));
  REQUIRE(b.get(da.path + "/email/keys", da.admin).json["keys"].size() == 2);
}

TEST_CASE("cluster: a command forwarded to an owner that was stopped (SIGSTOP) is answered 502 forwarding_failed once the exchange's 15 s are up, while the owner is still stopped, instead of waiting for it to resume") {
  Cluster cluster(2, {{"KEYLEDGER_CLUSTER_TOKEN", "cluster token of the stopped owner test"}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a);  // in a partition A owns
  REQUIRE(b.post(da.path + "/email/keys", {{"name", "before"}}, da.admin).status == 201);
  const pid_t owner = cluster.processes[0]->pid();
  REQUIRE(kill(owner, SIGSTOP) == 0);
  // Resumed once answered, or after 40 s at the latest, so that a client that waits for the
  // owner ends (and fails below) rather than hangs.
  std::mutex mutex;
  std::condition_variable answered_cv;
  bool answered = false;
  std::thread resume([&] {
    std::unique_lock lock(mutex);
    answered_cv.wait_for(lock, std::chrono::seconds(40), [&] { return answered; });
    kill(owner, SIGCONT);
  });
  const auto sent_at = std::chrono::steady_clock::now();
  auto reply = b.post(da.path + "/email/keys", {{"name", "to a stopped owner"}}, da.admin);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count();
  const char owner_state = process_state(owner);  // 'T': still stopped when the answer came
  {
    std::lock_guard lock(mutex);
    answered = true;
  }
  answered_cv.notify_one();
  resume.join();
  INFO(reply.body << " after " << seconds << " s");
  REQUIRE(reply.status == 502);
  REQUIRE(reply.json["code"] == "forwarding_failed");
  REQUIRE(owner_state == 'T');
  REQUIRE(metric(b, "keyledger_forwarded_commands_total{outcome=\"failed\"}") == 1);
}

TEST_CASE("cluster: an owner stopped with SIGTERM leaves the group and its partitions take commands on another process within two seconds") {
  Cluster cluster(2);
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard db = make_dashboard(b);
  REQUIRE(eventually([&] { return a.get(db.path, db.admin).status == 200; }));
  REQUIRE(kill(cluster.processes[1]->pid(), SIGTERM) == 0);
  const auto stopped_at = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return a.post(db.path + "/email/keys", {{"name", "handed over"}}, db.admin).status == 201; },
                     std::chrono::seconds(20)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  INFO("handed over after " << seconds << " s");
  REQUIRE(seconds < 2 + 2);  // SPEC's 2 s (1.2 s measured on an idle machine), and room for a loaded one
  REQUIRE(owned(a).size() == kPartitions);
}

TEST_CASE("cluster: a process sent SIGTERM while it joins, before it listens, still leaves the group: the partitions it was given are taken by the other process within two seconds") {
  Cluster cluster(1);
  ApiClient a(*cluster.processes[0]);
  REQUIRE(eventually([&] { return owned(a).size() == kPartitions; }, std::chrono::seconds(20)));
  ServerProcess joining(cluster.dir.path(), cluster.env, {}, ServerProcess::Started::spawned);
  // Given its share (the first process let go of it), it waits for the group to be quiet for
  // two seconds before it listens: the moment to stop it.
  REQUIRE(eventually([&] { return joining.log().find("this process now writes partition") != std::string::npos; },
                     std::chrono::seconds(30), std::chrono::milliseconds(5)));
  REQUIRE(owned(a).size() < kPartitions);
  const auto stopped_at = std::chrono::steady_clock::now();
  const auto status = joining.terminate_within(std::chrono::seconds(20));
  INFO(joining.log());
  REQUIRE(status == 0);
  REQUIRE(joining.log().find("\"msg\":\"stopped before serving\"") != std::string::npos);
  REQUIRE(joining.log().find("\"msg\":\"listening\"") == std::string::npos);
  REQUIRE(eventually([&] { return owned(a).size() == kPartitions; }, std::chrono::seconds(20),
                     std::chrono::milliseconds(5)));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  INFO("taken back after " << seconds << " s");
  // Killed by SIGTERM's default action before, it held them for the session timeout (6 s).
  REQUIRE(seconds < 2 + 2);  // SPEC's 2 s, and room for a loaded machine, as above
}

TEST_CASE("cluster: a process that owns no partition sends a dashboard's creation on to an owner, and leaves the owners' group as it stops, so that the group does not wait for its session to end") {
  Cluster cluster(0, {{"KEYLEDGER_CLUSTER_TOKEN", "cluster token of the spare process test"}});
  cluster.env["KEYLEDGER_KAFKA_PARTITIONS"] = "1";
  ServerProcess owner(cluster.dir.path(), cluster.env);
  ApiClient a(owner);
  REQUIRE(eventually([&] { return metric(a, "keyledger_partition_owned{partition=\"0\"}") == 1; }));
  ServerProcess spare(cluster.dir.path(), cluster.env);  // the one partition stays where it is
  ApiClient b(spare);
  REQUIRE(metric(b, "keyledger_partition_owned{partition=\"0\"}") == 0);
  // It has no partition to place a new dashboard in: the owner of one creates it.
  Dashboard d = make_dashboard(b);
  REQUIRE(a.get(d.path, d.admin).status == 200);
  REQUIRE(group_members(cluster.topic) == 2);
  REQUIRE(spare.terminate() == 0);
  // Gone from the group as it exits, not once its session (6 s) ends: librdkafka 2.0.2 sends
  // no LeaveGroup for a cooperative member holding nothing unless it unsubscribes first.
  REQUIRE(group_members(cluster.topic) == 1);
}

TEST_CASE("cluster: one number registered at once into two dashboards whose partitions have different owners, 25 rounds: exactly one registration wins each round, the other is refused and audited, no reservation stays open, and a number deregistered is the other dashboard's at once") {
  Cluster cluster(2, {{"KEYLEDGER_CLUSTER_TOKEN", "cluster token of the reservation test"}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a), db = make_dashboard(b);  // each in a partition its process owns
  REQUIRE(eventually([&] { return a.get(db.path, db.admin).status == 200 && b.get(da.path, da.admin).status == 200; }));
  std::map<std::string, int> wins;
  for (int round = 0; round < 25; ++round) {
    // Each number's own partition is owned by one of the two: both ways are exercised.
    const std::string number = "+1415556" + std::to_string(1000 + round);
    ApiReply through_a, through_b;
    std::thread other([&] { through_b = b.post(db.path + "/sms/numbers", {{"number", number}}, db.admin); });
    through_a = a.post(da.path + "/sms/numbers", {{"number", number}}, da.admin);
    other.join();
    INFO("round " << round << "\n" << through_a.body << "\n" << through_b.body);
    REQUIRE(std::multiset<int>{through_a.status, through_b.status} == std::multiset<int>{201, 409});
    const ApiReply& loser = through_a.status == 409 ? through_a : through_b;
    REQUIRE(loser.json["code"] == "number_already_registered");
    ++wins[through_a.status == 201 ? da.id : db.id];
  }
  // Every number belongs to exactly one dashboard, the same on both processes; every
  // loser's refusal is in its dashboard's audit trail.
  for (const auto* api : {&a, &b}) {
    REQUIRE(eventually([&] {
      return api->get(da.path + "/sms/numbers", da.admin).json["numbers"].size() == static_cast<std::size_t>(wins[da.id]) &&
             api->get(db.path + "/sms/numbers", db.admin).json["numbers"].size() == static_cast<std::size_t>(wins[db.id]);
    }));
  }
  const auto denied = [&](const Dashboard& d) {
    return a.get(d.path + "/audit?type=SmsNumberRegistrationDenied&limit=100", d.admin).json["events"].size();
  };
  REQUIRE(eventually([&] { return denied(da) + denied(db) == 25; }));
  for (const auto* api : {&a, &b}) {
    REQUIRE(eventually([&] { return metric(*api, "keyledger_number_reservations_open") == 0; }));
  }
  // A number deregistered is free again for the other dashboard at once: deregistered
  // through its holder's owner, then registered through the other's owner, which learns of
  // the deregistration only from the topic (its refusal would rest on old news).
  const auto da_numbers = a.get(da.path + "/sms/numbers", da.admin).body;
  for (int round = 0; round < 25; ++round) {
    const std::string number = "+1415556" + std::to_string(1000 + round);
    const bool a_holds = da_numbers.find(number) != std::string::npos;
    const ApiClient& holders_owner = a_holds ? a : b;
    const ApiClient& others_owner = a_holds ? b : a;
    const Dashboard& holder = a_holds ? da : db;
    const Dashboard& other = a_holds ? db : da;
    REQUIRE(holders_owner.del(holder.path + "/sms/numbers/%2B" + number.substr(1), holder.admin).status == 204);
    auto moved = others_owner.post(other.path + "/sms/numbers", {{"number", number}}, other.admin);
    INFO("number " << number << ": " << moved.body);
    REQUIRE(moved.status == 201);
  }
}

TEST_CASE("cluster: a number reserved for a registration still in flight when the number's owner is killed stays reserved on its new owner: another dashboard's registration is refused, the reserved one's accepted, and the reservation's record ends released") {
  const std::string cluster_token = "cluster token of the reservation failover test";
  Cluster cluster(2, {{"KEYLEDGER_CLUSTER_TOKEN", cluster_token}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard reserved_for = make_dashboard(a), other = make_dashboard(a);
  // B reserves, as the owner of the number's partition, what A asks for a registration A
  // decides (A's half of which never comes here: A is the test). A number of a partition A
  // owns is refused with not_owner and changes nothing.
  std::string number;
  const auto asked_at = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && number.empty(); ++i) {
    const std::string candidate = "+1415557" + std::to_string(1000 + i);
    auto reply = b.call("POST", "/v1/cluster/number-reservations", json{{"number", candidate}, {"dashboard_id", reserved_for.id}},
                        "", {{"Keyledger-Cluster-Token", cluster_token}});
    INFO(reply.body);
    REQUIRE((reply.status == 200 || reply.status == 503));
    if (reply.status == 200) {
      REQUIRE(reply.json["dashboard_id"] == reserved_for.id);
      number = candidate;
    }
  }
  REQUIRE(!number.empty());
  REQUIRE(metric(b, "keyledger_number_reservations_open") == 1);

  // The number's owner dies before the registration comes; A takes its partitions.
  REQUIRE(kill(cluster.processes[1]->pid(), SIGKILL) == 0);
  REQUIRE(eventually([&] { return owned(a).size() == kPartitions; }, std::chrono::seconds(30)));
  // Within the reservation's 30 s, another dashboard cannot have the number...
  auto refused = a.post(other.path + "/sms/numbers", {{"number", number}}, other.admin);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked_at).count();
  INFO("the second registration came " << seconds << " s after the reservation\n" << refused.body);
  REQUIRE(seconds < 25);  // otherwise the reservation could have lapsed: this test would prove nothing
  REQUIRE(refused.status == 409);
  REQUIRE(refused.json["code"] == "number_already_registered");
  // ...and the dashboard it was reserved for can.
  auto registered = a.post(reserved_for.path + "/sms/numbers", {{"number", number}}, reserved_for.admin);
  INFO(registered.body);
  REQUIRE(registered.status == 201);
  REQUIRE(metric(a, "keyledger_number_reservations_open") == 0);
  // The reservation's records: reserved by B, released by A once the registration was folded.
  const std::string command = "kcat -b " + required_env("KEYLEDGER_TEST_KAFKA_BOOTSTRAP") + " -C -t " + cluster.topic +
                              "-numbers -e -q -X isolation.level=read_committed -f '%k\\t%s\\n'";
  std::vector<json> records;
  REQUIRE(eventually([&] {
    records.clear();
    FILE* pipe = popen(command.c_str(), "r");
    char line[4096];
    while (fgets(line, sizeof line, pipe)) {
      const std::string text(line);
      if (text.starts_with(number + "\t")) records.push_back(json::parse(text.substr(text.find('\t') + 1)));
    }
    pclose(pipe);
    return !records.empty() && records.back()["state"] == "released";
  }));
  REQUIRE(records.front()["state"] == "reserved");
  REQUIRE(records.front()["dashboard_id"] == reserved_for.id);
}

TEST_CASE("cluster: a master key rotation through one process is adopted by every partition's owner, each recording it in its own dashboards, and afterwards a dashboard another process created keeps its secrets readable after that process is killed, and only the new key file starts a process") {
  const std::string cluster_token = "cluster token of the master key test";
  Cluster cluster(2, {{"KEYLEDGER_CLUSTER_TOKEN", cluster_token}});
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a), db = make_dashboard(b);  // each in a partition its process owns
  REQUIRE(eventually([&] { return a.get(db.path, db.admin).status == 200 && b.get(da.path, da.admin).status == 200; }));
  const std::string rcs_b = b.post(db.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, db.admin).json["key"];
  const std::string old_id = a.get("/v1/master-key", kOperatorToken).json["master_key_id"];
  const std::string next_key = cluster.dir.path() + "/next.key";
  REQUIRE(run_keyledger({"keygen", next_key}) == 0);

  auto rotated = a.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, kOperatorToken);
  INFO(rotated.body);
  REQUIRE(rotated.status == 200);
  REQUIRE(rotated.json["dashboards_recorded"] == 2);  // a's own and, through b, b's
  const std::string new_id = rotated.json["master_key_id"];
  REQUIRE(new_id != old_id);
  for (const auto* api : {&a, &b}) {
    auto key = api->get("/v1/master-key", kOperatorToken);
    REQUIRE(key.json["master_key_id"] == new_id);
    REQUIRE(key.json["rotation"].is_null());
  }
  for (const Dashboard* d : {&da, &db}) {
    REQUIRE(eventually([&] {
      return a.get(d->path + "/audit?type=DataKeyRewrapped", d->admin).json["events"].size() == 1 &&
             b.get(d->path + "/audit?type=DataKeyRewrapped", d->admin).json["events"].size() == 1;
    }));
  }
  REQUIRE(b.post(db.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, db.admin).json["key"] == rcs_b);

  // A dashboard b creates now has its data key wrapped by the new key, which a reads once it
  // owns the partition.
  Dashboard dc = make_dashboard(b, "After");
  const std::string rcs_c = b.post(dc.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, dc.admin).json["key"];
  REQUIRE(!rcs_c.empty());
  REQUIRE(eventually([&] { return a.get(dc.path, dc.admin).status == 200; }));
  REQUIRE(kill(cluster.processes[1]->pid(), SIGKILL) == 0);
  REQUIRE(eventually([&] { return owned(a).size() == kPartitions; }, std::chrono::seconds(20)));
  auto revealed = a.post(dc.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, dc.admin);
  INFO(revealed.body);
  REQUIRE(revealed.json["key"] == rcs_c);
  REQUIRE(a.post(db.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, db.admin).json["key"] == rcs_b);

  // The old key file no longer opens the store.
  auto env = cluster.env;
  env["KEYLEDGER_MASTER_KEY_FILE"] = cluster.dir.path() + "/master.key";
  std::string refused;
  REQUIRE(run_keyledger({"serve", "--listen", "127.0.0.1:0"}, &refused, env) != 0);
  REQUIRE(refused.find("right master key") != std::string::npos);
}

TEST_CASE("cluster: a process that owns no partition while another rotates the master key takes none afterwards: once the owner stops, a process started with the new key file owns the partition and the first forwards to it") {
  Cluster cluster(0, {{"KEYLEDGER_CLUSTER_TOKEN", "cluster token of the superseded spare test"}});
  cluster.env["KEYLEDGER_KAFKA_PARTITIONS"] = "1";
  auto owner = std::make_unique<ServerProcess>(cluster.dir.path(), cluster.env);
  ApiClient a(*owner);
  REQUIRE(eventually([&] { return metric(a, "keyledger_partition_owned{partition=\"0\"}") == 1; }));
  ServerProcess spare(cluster.dir.path(), cluster.env);  // the one partition stays where it is
  ApiClient b(spare);
  REQUIRE(metric(b, "keyledger_partition_owned{partition=\"0\"}") == 0);
  Dashboard d = make_dashboard(b);  // a process that owns no partition sends a creation on
  const std::string next_key = cluster.dir.path() + "/next.key";
  REQUIRE(run_keyledger({"keygen", next_key}) == 0);
  auto rotated = a.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, kOperatorToken);
  INFO(rotated.body);
  REQUIRE(rotated.status == 200);  // the spare owns no partition: it is not asked
  REQUIRE(eventually([&] { return spare.log().find("decides for no partition") != std::string::npos; }));
  REQUIRE(eventually([&] { return group_members(cluster.topic) == 1; }, std::chrono::seconds(20)));
  // The owner stops: the spare, which cannot create a data key any more, does not take the
  // partition; a process started with the new key file does, and the spare forwards to it.
  REQUIRE(owner->terminate() == 0);
  owner.reset();
  auto env = cluster.env;
  env["KEYLEDGER_MASTER_KEY_FILE"] = next_key;
  ServerProcess successor(cluster.dir.path(), env);
  ApiClient c(successor);
  REQUIRE(eventually([&] { return metric(c, "keyledger_partition_owned{partition=\"0\"}") == 1; }, std::chrono::seconds(20)));
  REQUIRE(metric(b, "keyledger_partition_owned{partition=\"0\"}") == 0);
  const json creation{{"name", "After the rotation"}, {"admin", {{"email", "after@example.com"}, {"password", kAdminPassword}}}};
  auto created = b.post("/v1/dashboards", creation, kOperatorToken);
  INFO(created.body);
  REQUIRE(created.status == 201);
  auto key = b.post(d.path + "/email/keys", {{"name", "after the rotation"}}, d.developer);
  INFO(key.body);
  REQUIRE(key.status == 201);
  REQUIRE(eventually([&] { return verify(b, key.json["key"]).json["valid"] == true; }));
}

TEST_CASE("cluster: a process that was not asked to adopt a rotated master key creates no data key once it sees the rotation recorded, says so, and creates them again restarted with the new key file") {
  Cluster cluster(2);  // no cluster token: the rotating process cannot reach the other
  ApiClient a(*cluster.processes[0]), b(*cluster.processes[1]);
  REQUIRE(eventually([&] { return split_between({&a, &b}); }, std::chrono::seconds(20)));
  Dashboard da = make_dashboard(a);
  REQUIRE(eventually([&] { return b.get(da.path, da.admin).status == 200; }));
  const std::string next_key = cluster.dir.path() + "/next.key";
  REQUIRE(run_keyledger({"keygen", next_key}) == 0);
  auto rotated = a.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, kOperatorToken);
  INFO(rotated.body);
  REQUIRE(rotated.status == 200);  // b decides no dashboard: a records the only one
  REQUIRE(eventually([&] { return b.get(da.path + "/audit?type=DataKeyRewrapped", da.admin).json["events"].size() == 1; }));
  const json creation{{"name", "Stale"}, {"admin", {{"email", "stale@example.com"}, {"password", kAdminPassword}}}};
  auto refused = b.post("/v1/dashboards", creation, kOperatorToken);
  INFO(refused.body);
  REQUIRE(refused.status == 503);
  REQUIRE(cluster.processes[1]->log().find("master key superseded") != std::string::npos);
  // Restarted with the new key file, it creates dashboards again.
  cluster.processes[1].reset();
  auto env = cluster.env;
  env["KEYLEDGER_MASTER_KEY_FILE"] = next_key;
  ServerProcess restarted(cluster.dir.path(), env);
  ApiClient c(restarted);
  REQUIRE(eventually([&] { return c.post("/v1/dashboards", creation, kOperatorToken).status == 201; }, std::chrono::seconds(20)));
}
