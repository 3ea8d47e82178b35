// keyledger migrate between the file store and Kafka (SPEC §13), against the real broker:
// every event kept byte for byte (id, sequence, hash), the keyring moved, the keys verifying
// when the target is served; an interrupted run resumed without copying anything twice.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "support/api_client.hpp"
#include "support/store_copies.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string bootstrap() {
  const char* value = std::getenv("KEYLEDGER_TEST_KAFKA_BOOTSTRAP");
  if (!value || !*value) FAIL("KEYLEDGER_TEST_KAFKA_BOOTSTRAP is not set: run tools/test, which starts a Kafka broker");
  return value;
}

std::string topic_of(const TempDir& dir, const std::string& suffix) {
  return "kafka://" + bootstrap() + "/" + dir.path().substr(dir.path().find_last_of('/') + 1) + suffix;
}

// `keyledger migrate`; its exit status and its JSON answer.
int migrate(const std::string& from, const std::string& to, const std::string& key, json* answer) {
  std::string out;
  const int status = run_keyledger({"migrate", "--from", from, "--to", to, "--master-key-file", key}, &out);
  INFO(out);
  *answer = json::parse(out.substr(out.rfind("\n{") == std::string::npos ? out.find('{') : out.rfind("\n{") + 1),
                        nullptr, false);
  return status;
}

// A server on `store` with the master key of `key_dir` (copied into a directory of its own).
struct Served {
  TempDir dir;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<ApiClient> api;
  Served(const std::string& store, const TempDir& key_dir) {
    fs::copy_file(key_dir / "master.key", dir / "master.key");
    server = std::make_unique<ServerProcess>(dir.path(), std::map<std::string, std::string>{{"KEYLEDGER_STORE", store}});
    api = std::make_unique<ApiClient>(*server);
  }
};

}  // namespace

TEST_CASE("migrate: a file store moves to Kafka and back with every event's id, sequence and hash, its keyring and "
          "its keys") {
  TempDir source;
  const std::string file_store = "file:" + (source / "data");
  const std::string kafka_store = topic_of(source, "-migrated");
  const std::string key = source / "master.key";
  Dashboard d;
  KeysOfEveryKind keys;
  std::vector<json> history;
  {
    ServerProcess server(source.path(), {{"KEYLEDGER_STORE", file_store}});
    ApiClient api(server);
    d = make_dashboard(api);
    make_dashboard(api, "Other");
    keys = make_keys_of_every_kind(api, d);
    history = audit_export(api, d);
    REQUIRE(server.terminate() == 0);
  }
  auto serves_the_same = [&](const std::string& store) {
    INFO("serving " << store);
    Served target(store, source);
    const ApiClient& api = *target.api;
    d.admin = log_in(api, d.id, d.admin_email, kAdminPassword);
    const auto copied = audit_export(api, d);
    REQUIRE(copied.size() == history.size() + 1);  // and the login just now
    for (std::size_t i = 0; i < history.size(); ++i) {
      REQUIRE(copied[i]["id"] == history[i]["id"]);
      REQUIRE(copied[i]["sequence"] == history[i]["sequence"]);
      REQUIRE(copied[i]["hash"] == history[i]["hash"]);
    }
    REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
    require_same_keys(api, d, keys);
    REQUIRE(target.server->terminate() == 0);
  };

  json answer;
  REQUIRE(migrate(file_store, kafka_store, key, &answer) == 0);
  REQUIRE(answer["ok"] == true);
  const std::uint64_t events = answer["events"];
  REQUIRE(answer["copied"] == events);
  REQUIRE(answer["dashboards"] == 2);
  {
    INFO("run again, it copies nothing twice");
    REQUIRE(migrate(file_store, kafka_store, key, &answer) == 0);
    REQUIRE(answer["copied"] == 0);
    REQUIRE(answer["resumed_after"] == events);
  }
  // Back to a file store, before the Kafka one served anything: the same events again.
  TempDir back;
  const std::string back_store = "file:" + (back / "data");
  REQUIRE(migrate(kafka_store, back_store, key, &answer) == 0);
  REQUIRE(answer["events"] == events);
  std::string audited;
  REQUIRE(run_keyledger({"audit", "verify", "--store", back_store}, &audited) == 0);
  REQUIRE(json::parse(audited.substr(audited.rfind("\n{") + 1))["events"] == events);
  serves_the_same(kafka_store);
  serves_the_same(back_store);
  {
    INFO("a target that is another store's is refused, and left as it was");
    TempDir other;
    {
      ServerProcess server(other.path(), {{"KEYLEDGER_STORE", "file:" + (other / "data")}});
      ApiClient api(server);
      make_dashboard(api, "Someone else");
      REQUIRE(server.terminate() == 0);
    }
    REQUIRE(migrate(file_store, "file:" + (other / "data"), key, &answer) == 1);
    REQUIRE(answer["problem"].get<std::string>().find("not empty") != std::string::npos);
    REQUIRE(migrate(file_store, file_store, key, &answer) == 1);
  }
}

TEST_CASE("migrate: killed (SIGKILL) while it copies Kafka to a file store, then run again, it resumes and copies "
          "nothing twice") {
  TempDir source;
  const std::string kafka_store = topic_of(source, "");
  std::vector<Dashboard> dashboards;
  {
    ServerProcess server(source.path(), {{"KEYLEDGER_STORE", kafka_store}});
    ApiClient api(server);
    // Eight dashboards for sixteen writers: a dashboard's commands are decided one at a time,
    // and with four this test took 35 s alone on the development broker, with eight 18 s.
    for (int i = 0; i < 8; ++i) dashboards.push_back(make_dashboard(api, "D" + std::to_string(i)));
    std::vector<std::thread> writers;
    for (int w = 0; w < 16; ++w) {
      writers.emplace_back([&, w] {
        const Dashboard& d = dashboards[static_cast<std::size_t>(w) % dashboards.size()];
        for (int i = 0; i < 250; ++i) api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin);
      });
    }
    for (auto& t : writers) t.join();
    REQUIRE(server.terminate() == 0);
  }
  TempDir target;
  const std::string file_store = "file:" + (target / "data");
  const std::string segment = target / "data/log/00000000000000000000.seg";
  const pid_t child = fork();
  if (child == 0) {
    ::execl(KEYLEDGER_BINARY, "keyledger", "migrate", "--from", kafka_store.c_str(), "--to", file_store.c_str(),
            "--master-key-file", (source / "master.key").c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  REQUIRE(child > 0);
  // Killed as soon as the first events are in the target's log, while it is still running:
  // looked for every millisecond (every 20 ms let a fast copy finish first, once).
  std::error_code ec;
  REQUIRE(eventually([&] { return fs::exists(segment, ec) && fs::file_size(segment, ec) > 0; },
                     std::chrono::seconds(60), std::chrono::milliseconds(1)));
  REQUIRE(::waitpid(child, nullptr, WNOHANG) == 0);
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));

  json answer;
  REQUIRE(migrate(kafka_store, file_store, source / "master.key", &answer) == 0);
  INFO(answer.dump());
  const std::uint64_t events = answer["events"];
  REQUIRE(events >= 4000);
  REQUIRE(answer["resumed_after"].get<std::uint64_t>() < events);
  REQUIRE(answer["resumed_after"].get<std::uint64_t>() + answer["copied"].get<std::uint64_t>() == events);
  // Every event once: the target's chains hold exactly the source's events.
  std::string audited;
  REQUIRE(run_keyledger({"audit", "verify", "--store", file_store}, &audited) == 0);
  REQUIRE(json::parse(audited.substr(audited.rfind("\n{") + 1))["events"] == events);
}
