// Faults under load: the server killed with SIGKILL while 32 clients write, round after
// round; every command it acknowledged must be there after a restart, with the chain whole.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

TEST_CASE("faults: SIGKILL under 32 concurrent writers loses no acknowledged command (20 rounds)") {
  TempDir dir;
  std::set<std::string> acknowledged;
  Dashboard d;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    d = make_dashboard(api);
  }
  std::mt19937 rng(20261128);
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    auto server = std::make_unique<ServerProcess>(dir.path());
    ApiClient api(*server);
    // Everything acknowledged before this round is still there.
    auto keys = api.get(d.path + "/email/keys", d.developer).json["keys"];
    std::set<std::string> present;
    for (auto& k : keys) present.insert(k["id"]);
    for (auto& id : acknowledged) REQUIRE(present.contains(id));
    REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);

    std::mutex mutex;
    std::atomic<bool> stop{false};
    std::atomic<int> acknowledged_this_round{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 32; ++w) {
      writers.emplace_back([&, w] {
        while (!stop) {
          ApiReply reply;
          try {
            reply = api.post(d.path + "/email/keys", {{"name", "r" + std::to_string(round) + "w" + std::to_string(w)}},
                             d.developer);
          } catch (const std::exception&) {
            return;  // the server is gone: an unanswered request was never acknowledged
          }
          if (reply.status == 201) {
            std::lock_guard lock(mutex);
            acknowledged.insert(reply.json["id"].get<std::string>());
            ++acknowledged_this_round;
          }
        }
      });
    }
    // Killed at a random point of the round's progress: once a random number (5 to 104) of
    // its commands are acknowledged, others in flight. Not after a fixed delay, which on a
    // starved machine could end every round before its first answer.
    const int kill_after = 5 + static_cast<int>(rng() % 100);
    const bool wrote = eventually([&] { return acknowledged_this_round >= kill_after; }, std::chrono::seconds(120));
    kill(server->pid(), SIGKILL);
    stop = true;
    for (auto& t : writers) t.join();
    REQUIRE(wrote);
    server.reset();
  }
  REQUIRE(acknowledged.size() >= 100);  // at least 5 a round
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto keys = api.get(d.path + "/email/keys", d.developer).json["keys"];
  std::set<std::string> present;
  for (auto& k : keys) present.insert(k["id"]);
  for (auto& id : acknowledged) REQUIRE(present.contains(id));
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
}
