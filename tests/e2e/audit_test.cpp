// The audit trail's read side (issue: projections): filters and cursors, signed checkpoints
// that survive a consistent rewrite of history, key usage summaries, the compliance report,
// and read models that a rebuild reproduces exactly.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "crypto/crypto.hpp"
#include "domain/commands.hpp"
#include "eventstore/envelope.hpp"
#include "eventstore/file_log.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/rfc3339.hpp"
#include "support/api_client.hpp"
#include "run_verify_audit.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;
namespace es = keyledger::eventstore;

namespace {

// Rewrites one dashboard's history the way a careful forger would: the event holding `from`
// gets `to`, and every hash, link and batch checksum after it is recomputed, so that the
// chain on its own verifies again.
void forge_history(const std::string& data_dir, const std::string& from, const std::string& to) {
  std::vector<std::string> records;
  {
    auto log = es::FileLog::open({data_dir, 64ull << 20, nullptr, true}).value();
    log->read(0, 0, log->end(0), [&](const es::StoredRecord& r) {
      records.emplace_back(r.bytes);
      return true;
    });
  }
  std::map<std::string, std::string> heads;
  bool forged = false;
  for (auto& bytes : records) {
    auto envelope = es::decode_envelope(bytes).value();
    std::string original = bytes;
    auto& prev = heads.try_emplace(envelope.dashboard_id, es::kGenesisHash).first->second;
    if (!forged && bytes.find(from) != std::string::npos) {
      auto j = json::parse(bytes);
      j["data"]["name"] = to;
      envelope = es::decode_envelope(j.dump()).value();
      forged = true;
    }
    envelope.prev_hash = prev;
    bytes = es::seal_envelope(envelope);
    prev = envelope.hash;
  }
  REQUIRE(forged);
  std::filesystem::remove_all(data_dir + "/log");
  std::filesystem::remove_all(data_dir + "/snapshots");
  std::filesystem::remove(data_dir + "/LOCK");
  auto log = es::FileLog::open({data_dir, 64ull << 20, nullptr}).value();
  for (auto& bytes : records) REQUIRE(log->append(std::vector<es::AppendRecord>{{"", "", "", "", bytes}}).has_value());
}
}  // namespace

TEST_CASE("e2e: a signed checkpoint proves later that no earlier history was rewritten", "[file]") {
  TempDir dir;
  std::string checkpoint_file = dir.path() + "/checkpoint.json", public_key;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    auto d = make_dashboard(api);
    api.post(d.path + "/email/keys", {{"name", "payroll"}}, d.admin);
    REQUIRE(api.post(d.path + "/audit/checkpoints", json::object(), d.developer).status == 403);
    auto signed_now = api.post(d.path + "/audit/checkpoints", json::object(), d.admin);
    REQUIRE(signed_now.status == 201);
    REQUIRE(signed_now.json["algorithm"] == "Ed25519");
    auto latest = api.get(d.path + "/audit/checkpoints/latest", d.viewer);
    REQUIRE(latest.json == signed_now.json);
    std::ofstream(checkpoint_file) << latest.body;
    public_key = api.get("/v1/audit/public-key").json["public_key"];
    REQUIRE(public_key == signed_now.json["public_key"].get<std::string>());
    api.post(d.path + "/email/keys", {{"name", "after the checkpoint"}}, d.admin);
    server.terminate();
  }
  std::string out;
  auto env = file_store_env(dir.path());
  REQUIRE(run_keyledger({"audit", "verify", "--checkpoint", checkpoint_file, "--public-key", public_key}, &out, env) == 0);
  REQUIRE(run_keyledger({"audit", "verify", "--checkpoint", checkpoint_file, "--public-key", std::string(64, '0')}, &out,
                        env) == 1);

  forge_history(dir.path() + "/data", "payroll", "payr0ll");
  // The rewritten chain is consistent on its own...
  REQUIRE(run_keyledger({"audit", "verify"}, &out, env) == 0);
  // ...but not with what was signed before.
  REQUIRE(run_keyledger({"audit", "verify", "--checkpoint", checkpoint_file, "--public-key", public_key}, &out, env) == 1);
  REQUIRE(out.find("rewritten") != std::string::npos);
}

namespace {
// A checkpoint of `dashboard` signed with the store's own key (the test holds its master key
// file), as keyledger signed v1 checkpoints before, or with a chosen root.
json signed_checkpoint(const TempDir& dir, const std::string& dashboard, std::uint64_t sequence, const std::string& head,
                       std::uint64_t tree_size, const std::string& root) {
  const auto master = es::load_master_key(dir.path() + "/master.key").value();
  // A store whose master key was never rotated keeps the keys derived from its first one.
  const std::string seed = master.derived_store_keys().checkpoint_signing_seed;
  const std::string signed_at = "2026-11-30T00:00:00.000Z";
  const std::string text = keyledger::domain::checkpoint_text(dashboard, sequence, head, tree_size, root, signed_at);
  json c{{"dashboard_id", dashboard}, {"sequence", sequence}, {"head_hash", head}, {"signed_at", signed_at},
         {"algorithm", "Ed25519"}, {"public_key", keyledger::crypto::to_hex(keyledger::crypto::ed25519_public_key(seed))},
         {"signature", keyledger::crypto::to_hex(keyledger::crypto::ed25519_sign(seed, text))}};
  if (!root.empty()) {
    c["version"] = 2;
    c["tree_size"] = tree_size;
    c["root_hash"] = root;
  } else {
    c["version"] = 1;
  }
  return c;
}
}  // namespace

TEST_CASE("e2e: a v1 checkpoint still verifies, and a v2 one whose root is not the history's is refused", "[file]") {
  TempDir dir;
  std::string dashboard, head, genuine_file = dir.path() + "/v2.json";
  std::uint64_t sequence = 0;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    auto d = make_dashboard(api);
    dashboard = d.id;
    REQUIRE(api.post(d.path + "/email/keys", {{"name", "payroll"}}, d.admin).status == 201);
    auto genuine = api.post(d.path + "/audit/checkpoints", json::object(), d.admin);
    REQUIRE(genuine.status == 201);
    std::ofstream(genuine_file) << genuine.body;
    sequence = genuine.json["sequence"];
    head = genuine.json["head_hash"];
    REQUIRE(server.terminate() == 0);
  }
  const json v1 = signed_checkpoint(dir, dashboard, sequence, head, 0, "");
  const json wrong_root = signed_checkpoint(dir, dashboard, sequence, head, sequence, std::string(64, 'e'));
  const std::string v1_file = dir.path() + "/v1.json", wrong_file = dir.path() + "/wrong-root.json";
  std::ofstream(v1_file) << v1.dump();
  std::ofstream(wrong_file) << wrong_root.dump();
  const std::string public_key = v1["public_key"];
  std::string out;
  auto env = file_store_env(dir.path());
  for (const auto& file : {genuine_file, v1_file}) {
    INFO(file);
    REQUIRE(run_keyledger({"audit", "verify", "--checkpoint", file, "--public-key", public_key}, &out, env) == 0);
    REQUIRE(verify_audit(dir, "checkpoint " + file + " --public-key " + public_key, &out) == 0);
  }
  // Signed by the genuine key over the right head, but naming another root: the CLI
  // recomputes the root from the log and refuses it.
  REQUIRE(verify_audit(dir, "checkpoint " + wrong_file + " --public-key " + public_key, &out) == 0);
  REQUIRE(run_keyledger({"audit", "verify", "--checkpoint", wrong_file, "--public-key", public_key}, &out, env) == 1);
  REQUIRE(out.find("Merkle root differs") != std::string::npos);
  // A v1 checkpoint signs no root, so it cannot stand for one in a consistency check.
  REQUIRE(verify_audit(dir, "consistency " + dir.path() + "/none.json --first-checkpoint " + v1_file +
                                " --second-checkpoint " + genuine_file + " --public-key " + public_key,
                       &out) == 1);
}

TEST_CASE("e2e: the audit trail records each caller's address, for every request of a kept-alive connection") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  // Two commands on one connection, the second sent before the first is answered: the
  // server reads the address of the connection's peer once and must give it to both.
  auto generate = [&](const std::string& name, bool keep_alive) {
    return request_bytes(server.address(), "POST", d.path + "/email/keys", json{{"name", name}}.dump(),
                         {{"Authorization", "Bearer " + d.admin}}, keep_alive);
  };
  const std::string answers = raw_exchange(server.address(), generate("first", true) + generate("second", false), 10000);
  std::size_t created = 0;
  for (auto at = answers.find("HTTP/1.1 201"); at != std::string::npos; at = answers.find("HTTP/1.1 201", at + 1)) ++created;
  REQUIRE(created == 2);
  auto trail = api.get(d.path + "/audit?type=EmailKeyGenerated", d.admin);
  REQUIRE(trail.status == 200);
  REQUIRE(trail.json["events"].size() == 2);
  for (const auto& event : trail.json["events"]) {
    CHECK(event["actor"]["type"] == "user");
    CHECK(event["actor"]["ip"] == "127.0.0.1");
  }
}

TEST_CASE("e2e: checkpoints are also signed periodically by keyledger itself") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_CHECKPOINT_EVERY", "1"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  ApiReply latest;
  for (int i = 0; i < 40 && latest.status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    latest = api.get(d.path + "/audit/checkpoints/latest", d.admin);
  }
  REQUIRE(latest.status == 200);
  auto trail = api.get(d.path + "/audit?type=AuditCheckpointSigned", d.admin);
  REQUIRE(trail.json["events"][0]["actor"]["type"] == "system");
}

TEST_CASE("e2e: verify counts each key's uses and records them once per interval") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_USAGE_INTERVAL", "1"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto generated = api.post(d.path + "/email/keys", {{"name", "k"}}, d.admin);
  REQUIRE(generated.json["uses"] == 0);
  REQUIRE(generated.json["last_used_at"].is_null());
  for (int i = 0; i < 3; ++i) REQUIRE(verify(api, generated.json["key"]).json["valid"] == true);
  verify(api, "kle_" + std::string(36, 'A'));  // malformed: counts for no key
  json key;
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    key = api.get(d.path + "/email/keys/" + generated.json["id"].get<std::string>(), d.admin).json;
    if (key["uses"] == 3) break;
  }
  REQUIRE(key["uses"] == 3);
  REQUIRE(key["last_used_at"].is_string());
  // Two more runs of the usage recorder, with nothing used meanwhile, add no event.
  const double runs = metric(api, "keyledger_key_usage_intervals_total");
  REQUIRE(eventually([&] { return metric(api, "keyledger_key_usage_intervals_total") >= runs + 2; }));
  REQUIRE(api.get(d.path + "/audit?type=KeyUsageRecorded", d.admin).json["events"].size() == 1);
}

TEST_CASE("e2e: the audit trail filters by type, actor and channel and pages with a stable cursor") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  for (int i = 0; i < 5; ++i) api.post(d.path + "/email/keys", {{"name", "k" + std::to_string(i)}}, d.developer);
  api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin);
  auto page = api.get(d.path + "/audit?channel=email&limit=2", d.viewer);
  REQUIRE(page.json["events"].size() == 2);
  std::string cursor = page.json["next_cursor"];
  // New events arriving between pages do not shift the next page.
  api.post(d.path + "/email/keys", {{"name", "late"}}, d.developer);
  auto next = api.get(d.path + "/audit?channel=email&limit=2&cursor=" + cursor, d.viewer);
  REQUIRE(next.json["events"][0]["sequence"] == std::stoi(cursor));
  REQUIRE(next.json["events"][0]["sequence"].get<int>() > page.json["events"][1]["sequence"].get<int>());
  std::size_t total = 0;
  std::string at = "";
  do {
    auto p = api.get(d.path + "/audit?channel=email&limit=2" + (at.empty() ? "" : "&cursor=" + at), d.viewer);
    total += p.json["events"].size();
    at = p.json["next_cursor"].is_null() ? "" : p.json["next_cursor"].get<std::string>();
  } while (!at.empty());
  REQUIRE(total == 6);
  auto by_actor = api.get(d.path + "/audit?actor=" + d.developer_email + "&type=EmailKeyGenerated", d.admin);
  REQUIRE(by_actor.json["events"].size() == 6);
  auto newest = api.get(d.path + "/audit?order=desc&limit=1", d.admin);
  REQUIRE(newest.json["events"][0]["type"] == "EmailKeyGenerated");
  auto future = api.get(d.path + "/audit?since=2999-01-01T00:00:00Z", d.admin);
  REQUIRE(future.json["events"].empty());
  auto exported = api.get(d.path + "/audit/export", d.admin);
  REQUIRE(exported.headers["content-type"] == "application/x-ndjson");
  REQUIRE(exported.headers["transfer-encoding"] == "chunked");  // streamed, not built whole
  REQUIRE(std::count(exported.body.begin(), exported.body.end(), '\n') >= 15);
  REQUIRE(exported.body.find("password_hash\":\"scrypt") == std::string::npos);
}

TEST_CASE("e2e: the compliance report finds old, unrestricted and unused keys, in JSON and CSV") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_ROTATION_AGE_DAYS", "0"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  api.post(d.path + "/email/keys", {{"name", "open"}}, d.admin);
  api.post(d.path + "/email/keys", {{"name", "fenced"}, {"ip_allowlist", {"203.0.113.0/24"}}}, d.admin);
  std::string wa = api.post(d.path + "/whatsapp/keys", {{"name", "w"}}, d.admin).json["id"];
  api.post(d.path + "/whatsapp/keys/" + wa + "/reveal", {{"password", kAdminPassword}}, d.admin);
  // With a rotation age of 0 days every key is past it once a millisecond has gone by.
  ApiReply report;
  REQUIRE(eventually([&] {
    report = api.get(d.path + "/compliance", d.viewer);
    return report.status == 200 && report.json["keys_past_rotation_age"].size() == 3;  // RCS and SMS keys are not rotated by users
  }));
  REQUIRE(report.json["rotation_age_days"] == 0);
  REQUIRE(report.json["email_keys_without_ip_restriction"].size() == 1);
  REQUIRE(report.json["secret_disclosures_last_30_days"][0]["disclosures"] == 1);
  REQUIRE(report.json["whatsapp_slots"] == json{{"used", 1}, {"total", 3}});
  REQUIRE(report.json["keys_unused_90_days"].empty());
  REQUIRE(api.get(d.path + "/compliance", d.developer).status == 403);
  auto csv = api.get(d.path + "/compliance?format=csv", d.admin);
  REQUIRE(csv.headers["content-type"] == "text/csv");
  REQUIRE(csv.body.rfind("finding,key_id,channel,detail\n", 0) == 0);
  REQUIRE(csv.body.find("no_ip_restriction,") != std::string::npos);
}

TEST_CASE("e2e: every read model is the same after keyledger rebuild", "[file]") {
  TempDir dir;
  json before;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    auto d = make_dashboard(api);
    api.post(d.path + "/email/keys", {{"name", "k"}, {"ip_allowlist", {"203.0.113.0/24"}}}, d.admin);
    api.post(d.path + "/sms/numbers", {{"number", "+14155550100"}}, d.admin);
    api.post(d.path + "/rcs/bots", {{"bot_id", "b"}}, d.admin);
    before = api.get("/v1/projections", kOperatorToken).json;
    REQUIRE(api.get("/v1/projections", d.admin).status == 403);
    server.terminate();
  }
  REQUIRE(before["projections"].size() == 3);
  std::string out;
  REQUIRE(run_keyledger({"rebuild"}, &out, file_store_env(dir.path())) == 0);
  ServerProcess server(dir.path());
  ApiClient api(server);
  REQUIRE(api.get("/v1/projections", kOperatorToken).json == before);
}
