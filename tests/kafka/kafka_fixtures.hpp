// What the Kafka test suites share: the broker tools/test started (or one of a test's own,
// or three), writers that count what was acknowledged, and the topic read back as an outside
// consumer reads it.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

namespace keyledger::testing {

using nlohmann::json;

inline std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) FAIL(std::string(name) + " is not set: run tools/test, which starts a Kafka broker");
  return value;
}

inline std::string kafka_store(const std::string& bootstrap, const TempDir& dir) {
  return "kafka://" + bootstrap + "/" + dir.path().substr(dir.path().find_last_of('/') + 1);
}

inline int kafka_script(const std::string& verb, const std::string& dir, std::string* output = nullptr) {
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
inline std::string started_bootstrap(const std::string& verb, const std::string& dir) {
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
  // The given brokers started again, all at once.
  void resume(std::initializer_list<int> nodes) const {
    std::string dirs;
    for (int node : nodes) dirs += (dirs.empty() ? "" : " ") + dir + "/" + std::to_string(node);
    REQUIRE(kafka_script("resume", dirs) == 0);
  }
};

// The node ids of a topic's partitions' leaders and each partition's replica count (kcat's
// metadata), in partition order.
inline std::vector<std::pair<int, std::size_t>> partition_leaders(const std::string& bootstrap, const std::string& topic) {
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

// Writers (eight unless told) generating Email keys on the dashboards in turn as developers,
// until stopped: which keys were acknowledged (201, and the key each got), how many were
// refused with 503 (or, on a cluster, 502: an owner that died with the command), per
// dashboard, and any other answer. While one dashboard's transaction waits on the broker,
// the others' commands reach the log and are refused at once; on one dashboard alone they
// would queue behind the waiting one.
struct Writers {
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::map<std::string, std::string> keys;          // acknowledged key id -> the key
  std::map<std::string, int> refused_by_dashboard;  // dashboard id -> refusals
  std::atomic<int> refused{0}, unexpected{0};
  std::vector<std::string> unexpected_answers;  // what they were, for the failure message
  std::chrono::milliseconds slowest_refusal{0}, slowest_answer{0};  // how long the slowest 503/502, and any answer, took
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;

  Writers(const ApiClient& api, const std::vector<Dashboard>& dashboards, int count = 8) {
    for (int w = 0; w < count; ++w) {
      threads.emplace_back([&api, &dashboards, this, w] {
        for (int i = 0; !stopping; ++i) {
          ApiReply reply;
          const auto sent_at = std::chrono::steady_clock::now();
          try {
            const auto& d = dashboards[w % dashboards.size()];
            reply = api.post(d.path + "/email/keys", {{"name", "w" + std::to_string(w) + "-" + std::to_string(i)}}, d.developer);
          } catch (const std::exception& e) {
            ++unexpected;  // no answer within the client's patience: not a bounded failure
            std::lock_guard lock(mutex);
            unexpected_answers.push_back(std::string("no answer: ") + e.what());
            continue;
          }
          const auto took =
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent_at);
          {
            std::lock_guard lock(mutex);
            slowest_answer = std::max(slowest_answer, took);
            if (reply.status == 503 || reply.status == 502) slowest_refusal = std::max(slowest_refusal, took);
          }
          if (reply.status == 201) {
            std::lock_guard lock(mutex);
            acknowledged.insert(reply.json["id"].get<std::string>());
            keys[reply.json["id"]] = reply.json["key"];
          } else {
            const bool refusal = reply.status == 503 || reply.status == 502;
            (refusal ? refused : unexpected)++;
            std::lock_guard lock(mutex);
            if (refusal) {
              ++refused_by_dashboard[dashboards[w % dashboards.size()].id];
            } else {
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
    return eventually([&] { return count() >= from + more; }, std::chrono::seconds(seconds));
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
inline void require_each_once(const std::string& bootstrap, const std::string& topic, const std::set<std::string>& acknowledged,
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
inline std::string notes_of(const ServerProcess& server) {
  std::string notes;
  std::istringstream lines(server.log());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"msg\":\"request\"") == std::string::npos && line.find("refused a batch") == std::string::npos) {
      notes += line + "\n";
    }
  }
  return notes;
}

}  // namespace keyledger::testing
