// Online backups of the file store and their restore (SPEC §13), through the operator's API
// and the CLI: taken while commands go on, checked byte for byte, restored into a store that
// serves exactly what the original served at the backup's position — and refused, with
// nothing written, when the archive, the master key or the target is wrong.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/crypto.hpp"
#include "support/api_client.hpp"
#include "support/store_copies.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_cert.hpp"
#include "support/test_rounds.hpp"
#include "support/test_store.hpp"

using namespace keyledger::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// `keyledger backup` of the server into `file`; its JSON answer.
json take_backup(const ServerProcess& server, const std::string& file) {
  std::string out;
  const int status = run_keyledger({"backup", "--url", "http://" + server.address(), "--to", file}, &out,
                                   {{"KEYLEDGER_OPERATOR_TOKEN", kOperatorToken}});
  INFO(out);
  REQUIRE(status == 0);
  return json::parse(out.substr(out.find('{')));
}

// Runs the CLI; its exit status, and its last JSON line in `answer`.
int cli(const std::vector<std::string>& args, json* answer = nullptr, std::string* text = nullptr) {
  std::string out;
  const int status = run_keyledger(args, &out);
  if (text) *text = out;
  if (answer) {
    const auto at = out.rfind("\n{", out.size() >= 2 ? out.size() - 2 : 0);
    *answer = json::parse(out.substr(at == std::string::npos ? out.find('{') : at + 1), nullptr, false);
  }
  return status;
}

// Restores `archive` as the store of a new test directory, with the original's master key.
int restore_into(const std::string& archive, const TempDir& from, const TempDir& into, json* answer,
                 std::vector<std::string> extra = {}) {
  fs::copy_file(from / "master.key", into / "master.key", fs::copy_options::overwrite_existing);
  std::vector<std::string> args{"restore", archive, "--store", "file:" + (into / "data"), "--master-key-file",
                                from / "master.key"};
  args.insert(args.end(), extra.begin(), extra.end());
  return cli(args, answer);
}

json projections(const ApiClient& api) { return api.get("/v1/projections", kOperatorToken).json["projections"]; }

}  // namespace

TEST_CASE("e2e: a backup is for the operator, and a Kafka store refuses it with a pointer to keyledger migrate") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  Dashboard d = make_dashboard(api);
  REQUIRE(api.get("/v1/backup").status == 401);
  REQUIRE(api.get("/v1/backup", d.admin).status == 403);
  auto reply = api.get("/v1/backup", kOperatorToken);
  if (test_store_url(dir.path()).starts_with("kafka://")) {
    REQUIRE(reply.status == 409);
    REQUIRE(reply.json["code"] == "backup_unsupported");
    REQUIRE(reply.json["detail"].get<std::string>().find("keyledger migrate") != std::string::npos);
  } else {
    REQUIRE(reply.status == 200);
    REQUIRE(reply.headers["content-type"] == "application/x-tar");
    REQUIRE(reply.headers.contains("keyledger-backup-position"));
    REQUIRE(std::stoll(reply.headers["keyledger-backup-held-us"]) < 1'000'000);  // commands waited under 1 s
    REQUIRE(reply.body.find("manifest.json") != std::string::npos);
  }
}

TEST_CASE("e2e: keyledger backup gives up on a server that stopped answering (SIGSTOP) after --timeout, over http "
          "and https, leaving no file, and takes the backup once it answers again",
          "[file]") {
  TempDir plain_dir, tls_dir;
  const std::string cert = tls_dir / "cert.pem";
  REQUIRE(make_self_signed_cert(tls_dir.path()));
  ServerProcess plain(plain_dir.path());
  ServerProcess tls(tls_dir.path(), {{"KEYLEDGER_TLS_CERT", cert}, {"KEYLEDGER_TLS_KEY", tls_dir / "key.pem"}});
  for (auto [server, url] : {std::pair{&plain, "http://" + plain.address()}, std::pair{&tls, "https://" + tls.address()}}) {
    INFO(url);
    const std::string file = plain_dir / ("backup-" + url.substr(0, url.find(':')) + ".tar");
    const std::vector<std::string> args{"backup",    "--url",  url,     "--to",    file,
                                        "--ca-file", cert,     "--timeout", "2", "--operator-token", kOperatorToken};
    // Stopped, it still accepts connections (the kernel does), and answers nothing: over
    // https not even the TLS handshake.
    REQUIRE(kill(server->pid(), SIGSTOP) == 0);
    std::string out;
    const auto started = std::chrono::steady_clock::now();
    const int status = run_keyledger(args, &out);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    REQUIRE(kill(server->pid(), SIGCONT) == 0);
    INFO(out << "after " << took << " s");
    REQUIRE(status == 1);
    REQUIRE(out.find("timeout") != std::string::npos);
    REQUIRE(took >= 2);
    REQUIRE(took < 2 + 10);  // before this, an https:// exchange waited as long as the server did
    REQUIRE_FALSE(fs::exists(file));
    REQUIRE_FALSE(fs::exists(file + ".partial"));
    // Answering again: the same command takes the backup.
    REQUIRE(run_keyledger(args, &out) == 0);
    REQUIRE(fs::file_size(file) > 0);
  }
}

TEST_CASE("e2e: a restored backup serves what the original served: equal projection digests, every key verifies, "
          "the same secrets", "[file]") {
  TempDir dir, copy;
  const std::string archive = dir / "backup.tar";
  Dashboard d;
  KeysOfEveryKind keys;
  json served;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    d = make_dashboard(api);
    make_dashboard(api, "Other");
    keys = make_keys_of_every_kind(api, d);
    const json taken = take_backup(server, archive);
    served = projections(api);
    REQUIRE(taken["position"] == "0:" + std::to_string(served[0]["position"].get<std::uint64_t>()));
    REQUIRE(server.terminate() == 0);
  }
  // Never the master key, in any form.
  const std::string master = read_file(dir / "master.key");
  const std::string bytes = read_file(archive);
  REQUIRE(bytes.find(master) == std::string::npos);
  REQUIRE(bytes.find(keyledger::crypto::to_hex(master)) == std::string::npos);
  REQUIRE(bytes.find(keyledger::crypto::base64_encode(master)) == std::string::npos);

  json verified;
  REQUIRE(cli({"backup", "verify", archive, "--master-key-file", dir / "master.key"}, &verified) == 0);
  REQUIRE(verified["ok"] == true);
  REQUIRE(verified["dashboards"] == 2);
  json restored;
  REQUIRE(restore_into(archive, dir, copy, &restored) == 0);
  REQUIRE(restored["ok"] == true);
  REQUIRE(restored["position"] == verified["position"]);

  ServerProcess server(copy.path());
  ApiClient api(server);
  REQUIRE(projections(api) == served);
  d.admin = log_in(api, d.id, d.admin_email, kAdminPassword);
  require_same_keys(api, d, keys);
  REQUIRE(api.get(d.path + "/audit/verify", d.admin).json["ok"] == true);
}

TEST_CASE("e2e: backups taken under 32 concurrent writers hold every command acknowledged before them and nothing "
          "past their position (20 rounds)", "[file]") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  std::vector<Dashboard> dashboards;
  for (int i = 0; i < 4; ++i) dashboards.push_back(make_dashboard(api, "Busy " + std::to_string(i)));

  std::mutex acked_mutex;
  std::vector<std::set<std::string>> acked(dashboards.size());  // key ids answered 201
  std::atomic<bool> writing{true};  // false: the writers end
  std::atomic<bool> paused{true};   // writers wait while a round's backup is checked
  std::mutex pause_mutex;
  std::condition_variable resumed;
  auto set_paused = [&](bool value) {
    {
      std::lock_guard lock(pause_mutex);
      paused = value;
    }
    resumed.notify_all();
  };
  std::atomic<int> refused{0};
  std::vector<std::thread> writers;
  struct StopWriters {  // also when a REQUIRE ends the test early
    std::atomic<bool>& writing;
    std::vector<std::thread>& threads;
    std::function<void(bool)> set_paused;
    ~StopWriters() {
      writing = false;
      set_paused(false);
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } stop{writing, writers, set_paused};
  for (int w = 0; w < 32; ++w) {
    writers.emplace_back([&, w] {
      const std::size_t i = static_cast<std::size_t>(w) % dashboards.size();
      while (writing) {
        {
          std::unique_lock lock(pause_mutex);
          resumed.wait(lock, [&] { return !paused || !writing; });
        }
        if (!writing) break;
        auto r = api.post(dashboards[i].path + "/email/keys", {{"name", "w" + std::to_string(w)}}, dashboards[i].admin);
        if (r.status != 201) {
          ++refused;
          continue;
        }
        std::lock_guard lock(acked_mutex);
        acked[i].insert(r.json["id"].get<std::string>());
      }
    });
  }
  const int rounds = test_rounds(20);  // fewer under sanitizers (tools/test)
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    set_paused(false);
    REQUIRE(eventually([&] {
      std::lock_guard lock(acked_mutex);
      return acked[0].size() >= static_cast<std::size_t>(5 * (round + 1));
    }));
    std::vector<std::set<std::string>> before;
    {
      std::lock_guard lock(acked_mutex);
      before = acked;
    }
    TempDir copy;
    const std::string archive = copy / "backup.tar";
    take_backup(server, archive);  // while all 32 write
    set_paused(true);
    json restored;
    std::string text;
    const int status = cli({"restore", archive, "--store", "file:" + (copy / "data"), "--master-key-file",
                            dir / "master.key"}, &restored, &text);
    INFO(text);
    REQUIRE(status == 0);
    // The restored store read offline: its chains verify, and each dashboard's trail is the
    // original's up to the manifest's head, holding every key acknowledged before the backup.
    json audited;
    REQUIRE(cli({"audit", "verify", "--store", "file:" + (copy / "data")}, &audited) == 0);
    REQUIRE(audited["ok"] == true);
    std::ifstream archive_in(archive, std::ios::binary);
    std::string manifest_text;
    REQUIRE(cli({"backup", "verify", archive, "--master-key-file", dir / "master.key"}) == 0);
    for (std::size_t i = 0; i < dashboards.size(); ++i) {
      const auto& d = dashboards[i];
      const json head = audited["dashboards"][d.id];
      const auto original = audit_export(api, d);
      const std::uint64_t events = head["events"];
      REQUIRE(original.size() >= events);
      REQUIRE(original[events - 1]["hash"] == head["head_hash"]);
      std::set<std::string> present;
      for (std::uint64_t s = 0; s < events; ++s) {
        if (original[s]["type"] == "EmailKeyGenerated") present.insert(original[s]["data"]["key_id"]);
      }
      for (const auto& id : before[i]) {
        INFO("dashboard " << i << " key " << id);
        REQUIRE(present.contains(id));
      }
    }
  }
  writing = false;
  set_paused(false);
  for (auto& t : writers) t.join();
  REQUIRE(refused == 0);
}

TEST_CASE("e2e: backup verify names what a flipped byte damaged, and restore refuses a damaged or truncated archive, "
          "a wrong master key and a non-empty target, writing nothing", "[file]") {
  TempDir dir;
  const std::string archive = dir / "backup.tar";
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    Dashboard d = make_dashboard(api);
    for (int i = 0; i < 20; ++i) api.post(d.path + "/email/keys", {{"name", "k" + std::to_string(i)}}, d.admin);
    take_backup(server, archive);
    REQUIRE(server.terminate() == 0);
  }
  const std::string good = read_file(archive);
  // Where each member's header and data are.
  std::map<std::string, std::size_t> data_at;
  for (std::size_t at = 0; at + 512 <= good.size();) {
    const std::string name = good.substr(at, std::min<std::size_t>(100, good.find('\0', at) - at));
    if (name.empty()) break;
    const std::size_t size = std::stoull(good.substr(at + 124, 11), nullptr, 8);
    data_at[name] = at + 512;
    at += 512 + (size + 511) / 512 * 512;
  }
  REQUIRE(data_at.contains("log/00000000000000000000.seg"));
  REQUIRE(data_at.contains("keyring.json"));

  struct Damage {
    std::string what;
    std::size_t at;
    std::string expected;  // in the problems reported
  };
  const std::vector<Damage> damages{
      {"a segment's data", data_at["log/00000000000000000000.seg"] + 700, "log/00000000000000000000.seg is damaged: bytes 0 to"},
      {"the keyring", data_at["keyring.json"] + 20, "keyring.json is damaged: bytes 0 to"},
      {"the manifest", data_at["manifest.json"] + 30, "manifest.json does not match manifest.sha256"},
      {"a member header", data_at["keyring.json"] - 512 + 130, "fails its checksum"},
      {"the padding after a file", data_at["manifest.sha256"] + 200, "in the padding after manifest.sha256"},
      {"the end of the archive", good.size() - 10, "in the end-of-archive blocks"},
  };
  for (const auto& damage : damages) {
    INFO(damage.what);
    std::string bad = good;
    bad[damage.at] = static_cast<char>(bad[damage.at] ^ 0x20);
    write_file(archive, bad);
    std::string text;
    json answer;
    REQUIRE(cli({"backup", "verify", archive, "--master-key-file", dir / "master.key"}, &answer, &text) == 1);
    INFO(text);
    REQUIRE(answer["ok"] == false);
    REQUIRE(text.find(damage.expected) != std::string::npos);
    TempDir target;
    REQUIRE(restore_into(archive, dir, target, &answer) == 1);
    REQUIRE_FALSE(fs::exists(target / "data"));
  }
  {
    INFO("cut short");
    write_file(archive, good.substr(0, good.size() / 2));
    std::string text;
    REQUIRE(cli({"backup", "verify", archive, "--master-key-file", dir / "master.key"}, nullptr, &text) == 1);
    REQUIRE(text.find("cut short") != std::string::npos);
    TempDir target;
    REQUIRE(restore_into(archive, dir, target, nullptr) == 1);
    REQUIRE_FALSE(fs::exists(target / "data"));
  }
  write_file(archive, good);
  {
    INFO("a wrong master key");
    TempDir target;
    REQUIRE(run_keyledger({"keygen", target / "other.key"}) == 0);
    std::string text;
    REQUIRE(cli({"restore", archive, "--store", "file:" + (target / "data"), "--master-key-file", target / "other.key"},
                nullptr, &text) == 1);
    REQUIRE(text.find("master key") != std::string::npos);
    REQUIRE(text.find(read_file(target / "other.key")) == std::string::npos);
    REQUIRE_FALSE(fs::exists(target / "data"));
    for (const auto& entry : fs::directory_iterator(target.path())) REQUIRE(entry.path().filename() == "other.key");
  }
  {
    INFO("a non-empty target");
    TempDir target;
    fs::create_directories(target / "data");
    write_file(target / "data/something", "x");
    std::string text;
    REQUIRE(restore_into(archive, dir, target, nullptr) == 1);
    REQUIRE(fs::directory_iterator(target / "data")->path().filename() == "something");
    REQUIRE(std::distance(fs::directory_iterator(target / "data"), fs::directory_iterator()) == 1);
  }
  {
    INFO("an empty target is fine");
    TempDir target;
    fs::create_directories(target / "data");
    json answer;
    REQUIRE(restore_into(archive, dir, target, &answer) == 0);
    REQUIRE(answer["ok"] == true);
  }
}

TEST_CASE("e2e: a dashboard closed after a backup stays shredded when the backup is restored with --shreds-from, and "
          "one closed before it stays shredded anyway", "[file]") {
  TempDir dir;
  const std::string archive = dir / "backup.tar";
  Dashboard kept, closed_before, closed_after;
  std::string whatsapp_id;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    kept = make_dashboard(api, "Kept");
    closed_before = make_dashboard(api, "Closed before");
    closed_after = make_dashboard(api, "Closed after");
    whatsapp_id = api.post(closed_after.path + "/whatsapp/keys", {{"name", "w"}}, closed_after.admin).json["id"];
    REQUIRE(api.del(closed_before.path, kOperatorToken).status == 200);
    take_backup(server, archive);
    REQUIRE(api.del(closed_after.path, kOperatorToken).status == 200);
    REQUIRE(server.terminate() == 0);
  }
  auto reveal = [&](const ApiClient& api) {
    const std::string admin = log_in(api, closed_after.id, closed_after.admin_email, kAdminPassword);
    return api.post(closed_after.path + "/whatsapp/keys/" + whatsapp_id + "/reveal", {{"password", kAdminPassword}},
                    admin);
  };
  {
    INFO("without --shreds-from the backup brings the dashboard back, data key and all (SPEC §13)");
    TempDir copy;
    json answer;
    REQUIRE(restore_into(archive, dir, copy, &answer) == 0);
    REQUIRE(answer["shredded"] == json::array());  // closed before: its key was destroyed then
    ServerProcess server(copy.path());
    ApiClient api(server);
    REQUIRE(reveal(api).status == 200);
    // Closed before the backup: its data key was destroyed then, and stays so.
    const json keyring = json::parse(read_file(copy / "data/keyring.json"));
    REQUIRE(keyring["records"].contains(closed_before.id));
    REQUIRE(keyring["records"][closed_before.id].is_null());
    REQUIRE(keyring["records"][closed_after.id].is_string());
  }
  {
    INFO("with --shreds-from the newer log's closure destroys its data key again");
    TempDir copy;
    json answer;
    REQUIRE(restore_into(archive, dir, copy, &answer, {"--shreds-from", "file:" + (dir / "data")}) == 0);
    REQUIRE(answer["shredded"] == json::array({closed_after.id}));
    ServerProcess server(copy.path());
    ApiClient api(server);
    REQUIRE(json::parse(read_file(copy / "data/keyring.json"))["records"][closed_after.id].is_null());
    auto refused = reveal(api);
    REQUIRE(refused.status == 409);
    REQUIRE(refused.json["code"] == "dashboard_closed");
    const std::string admin = log_in(api, kept.id, kept.admin_email, kAdminPassword);
    REQUIRE(api.post(kept.path + "/rcs/key/reveal", {{"password", kAdminPassword}}, admin).status == 200);
  }
}
