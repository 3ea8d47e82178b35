// What survives a restart, what the data directory and the logs may hold, and the operator
// subcommands that work on a stopped store.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "eventstore/segment_format.hpp"
#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

TEST_CASE("e2e: state, sessions and keys are intact after a restart") {
  TempDir dir;
  Dashboard d;
  std::string email_key, sms_key, listing;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    d = make_dashboard(api);
    email_key = api.post(d.path + "/email/keys", {{"name", "k"}, {"ip_allowlist", {"203.0.113.0/24"}}}, d.admin).json["key"];
    api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
    sms_key = api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin).json["key"];
    api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin);
    listing = api.get(d.path + "/email/keys", d.admin).body;
    REQUIRE(server.terminate() == 0);
  }
  ServerProcess server(dir.path());
  ApiClient api(server);
  REQUIRE(server.log().find("\"snapshot_events\"") != std::string::npos);
  REQUIRE(api.get(d.path + "/email/keys", d.admin).body == listing);  // the session survived too
  REQUIRE(verify(api, email_key, "203.0.113.5").json["valid"] == true);
  REQUIRE(verify(api, email_key, "198.51.100.5").json["reason"] == "ip_not_allowed");
  REQUIRE(verify(api, sms_key).json["valid"] == true);
  REQUIRE(api.get(d.path + "/whatsapp/keys", d.admin).json["slots_used"] == 1);
  auto chain = api.get(d.path + "/audit/verify", d.admin);
  REQUIRE(chain.json["ok"] == true);
  REQUIRE(api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin).json["code"] == "number_already_registered");
}

TEST_CASE("e2e: a server killed with SIGKILL recovers every acknowledged command") {
  TempDir dir;
  Dashboard d;
  std::vector<std::string> ids;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    d = make_dashboard(api);
    for (int i = 0; i < 20; ++i) {
      auto r = api.post(d.path + "/email/keys", {{"name", "k" + std::to_string(i)}}, d.developer);
      REQUIRE(r.status == 201);
      ids.push_back(r.json["id"]);
    }
  }  // the destructor kills with SIGKILL: no snapshot, no clean shutdown
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto keys = api.get(d.path + "/email/keys", d.admin).json["keys"];
  REQUIRE(keys.size() == ids.size());
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
}

TEST_CASE("e2e: no secret or password reaches the data directory or the server log", "[file]") {
  TempDir dir;
  std::vector<std::string> secrets{kAdminPassword, kDeveloperPassword, kViewerPassword, kOperatorToken, kServiceToken};
  std::string log;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    auto d = make_dashboard(api);
    secrets.push_back(d.admin);
    secrets.push_back(api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["key"]);
    std::string wa = api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin).json["id"];
    secrets.push_back(api.post(d.path + "/whatsapp/keys/" + wa + "/reveal", {{"password", kAdminPassword}}, d.admin).json["key"]);
    api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
    secrets.push_back(api.get(d.path + "/sms/numbers/%2B14155550100/key", d.admin).json["key"]);
    secrets.push_back(api.post(d.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, d.admin).json["key"]);
    api.post(d.path + "/rcs/key/reveal", {{"password", "a wrong password typed"}}, d.admin);
    secrets.push_back("a wrong password typed");
    auto trail = api.get(d.path + "/audit/export", d.admin);
    auto metrics = api.get("/metrics");
    for (auto& s : secrets) {
      REQUIRE(trail.body.find(s) == std::string::npos);
      REQUIRE(metrics.body.find(s) == std::string::npos);
    }
    REQUIRE(server.terminate() == 0);
    log = server.log();
  }
  REQUIRE(secrets.size() == 11);
  for (auto& s : secrets) {
    INFO(s);
    REQUIRE(log.find(s) == std::string::npos);
  }
  std::size_t files = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (!entry.is_regular_file() || entry.path().filename() == "master.key") continue;
    ++files;
    std::string bytes = read_bytes(entry.path());
    for (auto& s : secrets) {
      INFO(entry.path() << " must not hold " << s);
      REQUIRE(bytes.find(s) == std::string::npos);
    }
  }
  REQUIRE(files >= 3);
}

TEST_CASE("e2e: closing a dashboard shreds its secrets while its history stays verifiable", "[file]") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  std::string id = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin).json["id"];
  REQUIRE(api.del(d.path, kOperatorToken).json["status"] == "closed");
  auto keyring = read_bytes(dir.path() + "/data/keyring.json");
  REQUIRE(json::parse(keyring)["keys"][d.id].is_null());
  REQUIRE(api.get(d.path + "/email/keys", d.admin).status == 401);
  REQUIRE(api.post(d.path + "/rcs/key/reissue", {{"reason", "x"}}, kOperatorToken).json["code"] == "dashboard_closed");
  server.terminate();
  std::string out;
  REQUIRE(run_keyledger({"audit", "verify"}, &out, file_store_env(dir.path())) == 0);
  REQUIRE(json::parse(out)["ok"] == true);
  (void)id;
}

TEST_CASE("e2e: keyledger audit verify finds the first changed byte of a stored event", "[file]") {
  TempDir dir;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    auto d = make_dashboard(api);
    api.post(d.path + "/email/keys", {{"name", "payroll"}}, d.admin);
    server.terminate();
  }
  std::string out;
  REQUIRE(run_keyledger({"audit", "verify"}, &out, file_store_env(dir.path())) == 0);
  const std::string segment = dir.path() + "/data/log/00000000000000000000.seg";
  const std::string original = read_bytes(segment);
  auto at = original.find("payroll");
  REQUIRE(at != std::string::npos);
  std::string tampered = original;
  tampered.replace(at, 7, "payr0ll");

  // Raw damage: the batch's CRC32C no longer matches.
  write_bytes(segment, tampered);
  REQUIRE(run_keyledger({"audit", "verify"}, &out, file_store_env(dir.path())) == 1);
  auto report = json::parse(out.substr(out.find('{')));
  REQUIRE(report["ok"] == false);
  REQUIRE(report["reason"].get<std::string>().find("CRC32C") != std::string::npos);
  REQUIRE(read_bytes(segment) == tampered);  // the audit changed nothing

  // A careful forger recomputes the batch checksum: the hash chain still gives it away.
  namespace sf = keyledger::eventstore::segment_format;
  for (const auto& batch : sf::recover(original, 0).batches) {
    if (batch.offset <= at && at < batch.frame_end()) {
      const std::size_t body_at = batch.offset + sf::kFrameHeader;
      tampered.replace(batch.offset, batch.frame_end() - batch.offset, sf::frame(tampered.substr(body_at, batch.length)));
    }
  }
  write_bytes(segment, tampered);
  REQUIRE(run_keyledger({"audit", "verify"}, &out, file_store_env(dir.path())) == 1);
  report = json::parse(out.substr(out.find('{')));
  REQUIRE(report["ok"] == false);
  REQUIRE(report["reason"].get<std::string>().find("hash") != std::string::npos);
  REQUIRE(report["position"] == 8);  // after 8 events of set-up: the Email key's generation

  write_bytes(segment, original);
  REQUIRE(run_keyledger({"audit", "verify"}, &out, file_store_env(dir.path())) == 0);
}

TEST_CASE("e2e: SIGTERM lets an in-flight request finish, then exits 0") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  ApiReply reply;
  std::thread slow([&] {
    // A login costs a memory-hard hash: it is still in flight when SIGTERM arrives.
    reply = api.post("/v1/sessions", {{"dashboard_id", d.id}, {"email", d.admin_email}, {"password", kAdminPassword}});
  });
  // SIGTERM once the server has the login in hand (its in-flight gauge says so), not after
  // a guess at how long the request takes to arrive.
  const bool in_flight = eventually([&] { return metric(api, "keyledger_http_requests_in_flight") >= 1; });
  REQUIRE(server.terminate() == 0);
  slow.join();
  REQUIRE(in_flight);
  REQUIRE(reply.status == 201);
}

TEST_CASE("e2e: SIGTERM during a long audit export drains and exits, however slowly the client reads") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_DRAIN_TIMEOUT", "1"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  // An export larger than what the kernel buffers between the two sockets (up to 4 MiB on
  // each side): 1,600 keys with a full allowlist of 100 IPv6 ranges, ~4 KiB per event.
  json allowlist = json::array();
  for (int i = 0; i < 100; ++i) allowlist.push_back("2001:db8:" + std::to_string(1000 + i) + ":abcd:ef01:2345:6789:0/112");
  std::vector<std::thread> writers;
  std::atomic<int> refused{0};
  for (int t = 0; t < 16; ++t) {  // concurrent, so that commands share fsyncs (or transactions)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto name = "key " + std::to_string(t) + "-" + std::to_string(i);
        if (api.post(d.path + "/email/keys", {{"name", name}, {"ip_allowlist", allowlist}}, d.admin).status != 201) ++refused;
      }
    });
  }
  for (auto& w : writers) w.join();
  REQUIRE(refused == 0);
  // This client reads the first bytes of the export and then nothing, with a small receive
  // buffer: the worker streaming the export stalls on the socket.
  StalledReader reader(server.address(), "GET " + d.path + "/audit/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                             d.admin + "\r\n\r\n");
  REQUIRE(reader.read_at_least(64, 10000).starts_with("HTTP/1.1 200"));
  // The drain gives the stalled export 1 s, then stops the loops; the worker streaming it
  // must not wait for ever on a loop that will not run again.
  auto status = server.terminate_within(std::chrono::seconds(15));
  REQUIRE(status.has_value());
  REQUIRE(*status == 0);
}

TEST_CASE("e2e: dashboard create from the shell refuses a weak password by its option's name and writes nothing",
          "[file]") {
  TempDir dir;
  auto env = file_store_env(dir.path());
  REQUIRE(run_keyledger({"keygen", dir.path() + "/master.key"}) == 0);
  std::string out;
  REQUIRE(run_keyledger({"dashboard", "create", "--name", "Shell", "--admin-email", "root@example.com",
                         "--admin-password", "short1"},
                        &out, env) == 1);
  REQUIRE(out.find("--admin-password") != std::string::npos);
  REQUIRE(out.find("short1") == std::string::npos);
  REQUIRE(run_keyledger({"audit", "verify"}, &out, env) == 0);
  REQUIRE(json::parse(out.substr(out.find('{')))["events"] == 0);
}

TEST_CASE("e2e: dashboard create, rebuild and scan work from the shell", "[file]") {
  TempDir dir;
  auto env = file_store_env(dir.path());
  REQUIRE(run_keyledger({"keygen", dir.path() + "/master.key"}) == 0);
  std::string out;
  REQUIRE(run_keyledger({"dashboard", "create", "--name", "Shell", "--admin-email", "root@example.com", "--admin-password",
                         kAdminPassword},
                        &out, env) == 0);
  std::string id = json::parse(out)["id"];
  std::string key;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    std::string token = log_in(api, id, "root@example.com", kAdminPassword);
    key = api.post("/v1/dashboards/" + id + "/email/keys", {{"name", "k"}}, token).json["key"];
    server.terminate();
  }
  REQUIRE(run_keyledger({"rebuild"}, &out, env) == 0);
  std::string first = json::parse(out.substr(out.find('{')))["state_sha256"];
  REQUIRE(run_keyledger({"rebuild"}, &out, env) == 0);
  REQUIRE(json::parse(out.substr(out.find('{')))["state_sha256"] == first);

  std::ofstream(dir.path() + "/config.env") << "EMAIL_KEY=" << key << "\nNOISE=kle_" << std::string(36, 'A') << "\n";
  REQUIRE(run_keyledger({"scan", dir.path() + "/config.env"}, &out) == 1);
  REQUIRE(out.find("config.env:1: email key kle_…" + key.substr(36)) != std::string::npos);
  REQUIRE(out.find(key) == std::string::npos);
  REQUIRE(out.find("1 key found") != std::string::npos);
}
