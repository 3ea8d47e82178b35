// Master key rotation while serving (SPEC §11), through the operator's API: afterwards the
// store opens with only the new key file, every secret opens, every key verifies, sessions
// and checkpoints signed before stay valid, and the old key file opens nothing. A server
// killed mid-rotation finishes it on the next start.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "crypto/crypto.hpp"
#include "support/api_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_store.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

std::string new_key_file(const TempDir& dir, const std::string& name) {
  const std::string path = dir / name;
  REQUIRE(run_keyledger({"keygen", path}) == 0);
  return path;
}

std::map<std::string, std::string> with_key(const std::string& key_file) {
  return {{"KEYLEDGER_MASTER_KEY_FILE", key_file}};
}

// `keyledger serve` with `key_file` on the store of `dir`: its exit status and output, when
// it refuses to start.
int serve_refused(const TempDir& dir, const std::string& key_file, std::string* out) {
  return run_keyledger({"serve"}, out,
                       {{"KEYLEDGER_STORE", test_store_url(dir.path())},
                        {"KEYLEDGER_MASTER_KEY_FILE", key_file},
                        {"KEYLEDGER_OPERATOR_TOKEN", kOperatorToken},
                        {"KEYLEDGER_LISTEN", "127.0.0.1:0"}});
}

std::size_t rewrap_events(const ApiClient& api, const Dashboard& d) {
  return api.get(d.path + "/audit?type=DataKeyRewrapped", d.admin).json["events"].size();
}

}  // namespace

TEST_CASE("e2e: the master key rotates while serving, and then only the new key file opens the store") {
  TempDir dir;
  const std::string old_key = dir / "master.key";
  const std::string next_key = new_key_file(dir, "next.key");
  Dashboard d, busy;
  std::string email_key, whatsapp_id, whatsapp_key, rcs_key, sms_key, checkpoint_file = dir / "checkpoint.json";
  std::string old_id, public_key;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    d = make_dashboard(api);
    busy = make_dashboard(api, "Busy");
    email_key = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["key"];
    whatsapp_id = api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin).json["id"];
    whatsapp_key = api.post(d.path + "/whatsapp/keys/" + whatsapp_id + "/reveal", {{"password", kAdminPassword}}, d.admin)
                       .json["key"];
    rcs_key = api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).json["key"];
    api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
    sms_key = api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin).json["key"];
    auto checkpoint = api.post(d.path + "/audit/checkpoints", json::object(), d.admin);
    REQUIRE(checkpoint.status == 201);
    std::ofstream(checkpoint_file) << checkpoint.body;
    public_key = checkpoint.json["public_key"];

    REQUIRE(api.get("/v1/master-key", d.admin).status == 403);
    auto before = api.get("/v1/master-key", kOperatorToken);
    REQUIRE(before.status == 200);
    old_id = before.json["master_key_id"];
    REQUIRE(before.json["rotation"].is_null());
    REQUIRE(api.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, d.admin).status == 403);
    auto missing = api.post("/v1/master-key/rotation", {{"new_master_key_file", dir / "absent.key"}}, kOperatorToken);
    REQUIRE(missing.status == 400);
    REQUIRE(missing.json["detail"].get<std::string>().find("cannot open") != std::string::npos);

    // Commands go on while it rotates.
    std::atomic<bool> rotating{true};
    std::atomic<int> refused{0}, generated{0};
    std::thread writer([&] {
      while (rotating) {
        auto r = api.post(busy.path + "/email/keys", {{"name", "during"}}, busy.developer);
        (r.status == 201 ? generated : refused)++;
      }
    });
    auto rotated = api.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, kOperatorToken);
    rotating = false;
    writer.join();
    INFO(rotated.body);
    REQUIRE(rotated.status == 200);
    REQUIRE(refused == 0);
    REQUIRE(rotated.json["previous_master_key_id"] == old_id);
    REQUIRE(rotated.json["master_key_id"] != old_id);
    REQUIRE(rotated.json["data_keys_rewrapped"] == 2);
    REQUIRE(rotated.json["dashboards_recorded"] == 2);
    REQUIRE(rotated.json["resumed"] == false);
    auto again = api.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, kOperatorToken);
    REQUIRE(again.status == 409);
    REQUIRE(again.json["code"] == "rotation_refused");
    auto recorded = api.get(d.path + "/audit?type=DataKeyRewrapped", d.admin).json["events"];
    REQUIRE(recorded.size() == 1);
    REQUIRE(recorded[0]["data"] == json{{"master_key_id", rotated.json["master_key_id"]}, {"previous_master_key_id", old_id}});
    REQUIRE(recorded[0]["actor"]["type"] == "operator");
    // Still serving on the new key: new and old secrets alike.
    REQUIRE(verify(api, email_key).json["valid"] == true);
    auto after = api.post(d.path + "/email/keys", {{"name", "after"}}, d.admin);
    REQUIRE(verify(api, after.json["key"]).json["valid"] == true);
    REQUIRE(server.terminate() == 0);
    std::ifstream in(next_key, std::ios::binary);
    const std::string bytes(std::istreambuf_iterator<char>(in), {});
    REQUIRE(server.log().find(keyledger::crypto::to_hex(bytes)) == std::string::npos);
    REQUIRE(server.log().find(keyledger::crypto::base64_encode(bytes)) == std::string::npos);
  }

  std::string out;
  REQUIRE(serve_refused(dir, old_key, &out) != 0);
  INFO(out);
  REQUIRE(out.find("right master key") != std::string::npos);

  ServerProcess server(dir.path(), with_key(next_key));
  ApiClient api(server);
  REQUIRE(api.get("/v1/master-key", kOperatorToken).json["master_key_id"] != old_id);
  // The sessions from before, every key, every secret.
  REQUIRE(verify(api, email_key).json["valid"] == true);
  REQUIRE(verify(api, whatsapp_key).json["valid"] == true);
  REQUIRE(verify(api, sms_key).json["valid"] == true);
  REQUIRE(api.post(d.path + "/whatsapp/keys/" + whatsapp_id + "/reveal", {{"password", kAdminPassword}}, d.admin)
              .json["key"] == whatsapp_key);
  REQUIRE(api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).json["key"] == rcs_key);
  auto sms_view = api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin);
  INFO(sms_view.body);
  REQUIRE(sms_view.json["key"] == sms_key);
  // The checkpoint signed under the old key verifies, and new ones are signed by the same key.
  REQUIRE(api.get("/v1/audit/public-key").json["public_key"] == public_key);
  REQUIRE(api.post(d.path + "/audit/checkpoints", json::object(), d.admin).json["public_key"] == public_key);
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
  REQUIRE(rewrap_events(api, d) == 1);
  REQUIRE(server.terminate() == 0);
  // And with the shell's check of a stopped store, which works on file stores.
  const std::string store = test_store_url(dir.path());
  if (!store.starts_with("file:")) return;
  const std::map<std::string, std::string> env{{"KEYLEDGER_STORE", store}, {"KEYLEDGER_MASTER_KEY_FILE", next_key}};
  const int verified = run_keyledger({"audit", "verify", "--checkpoint", checkpoint_file, "--public-key", public_key}, &out, env);
  INFO(out);
  REQUIRE(verified == 0);
}

TEST_CASE("e2e: a server killed during a master key rotation finishes it on the next start, recording each once") {
  TempDir dir;
  const std::string old_key = dir / "master.key";
  const std::string next_key = new_key_file(dir, "next.key");
  std::vector<Dashboard> dashboards;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    for (int i = 0; i < 3; ++i) dashboards.push_back(make_dashboard(api, "D" + std::to_string(i)));
    // More dashboards, without users, so that the rotation records long enough to be caught.
    for (int i = 0; i < 40; ++i) {
      REQUIRE(api.post("/v1/dashboards", {{"name", "E" + std::to_string(i)}, {"admin", {{"email", "a@e.example"}, {"password", kAdminPassword}}}},
                       kOperatorToken)
                  .status == 201);
    }
    std::atomic<bool> answered{false};
    std::thread rotation([&] {
      try {
        api.post("/v1/master-key/rotation", {{"new_master_key_file", next_key}}, kOperatorToken);
      } catch (const std::runtime_error&) {
        // killed before it answered
      }
      answered = true;
    });
    // Kill it once the keyring is rewrapped and the events are being recorded (or, should
    // it all be over before a look catches that, once it answered).
    while (!answered && api.get("/v1/master-key", kOperatorToken).json["rotation"].is_null()) {
      std::this_thread::yield();
    }
    kill(server.pid(), SIGKILL);
    rotation.join();
  }
  std::string out;
  REQUIRE(serve_refused(dir, old_key, &out) != 0);
  INFO(out);
  const bool was_pending = out.find("under way") != std::string::npos;
  REQUIRE((was_pending || out.find("right master key") != std::string::npos));

  ServerProcess server(dir.path(), with_key(next_key));
  ApiClient api(server);
  // On a cluster (the Kafka suite's three processes, started at once with the new key) each
  // records the dashboards it decides at start, and each finishes the rotation once it sees
  // that all have the event: this one may say so a moment after it serves.
  if (was_pending) {
    REQUIRE(eventually([&] { return server.log().find("master key rotation finished") != std::string::npos; }));
  }
  auto state = api.get("/v1/master-key", kOperatorToken);
  REQUIRE(state.json["rotation"].is_null());
  for (const auto& d : dashboards) {
    REQUIRE(rewrap_events(api, d) == 1);
    REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
  }
  REQUIRE(server.terminate() == 0);
  REQUIRE(serve_refused(dir, old_key, &out) != 0);
  REQUIRE(out.find("right master key") != std::string::npos);
}
