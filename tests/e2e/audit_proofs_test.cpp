// Merkle proofs of the audit trail (SPEC §11), checked as an auditor would: the leaves come
// from the audit export's event hashes, and every proof the server gives is verified with
// the RFC 9162 algorithms against roots computed from those leaves alone.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "crypto/crypto.hpp"
#include "crypto/merkle.hpp"
#include "support/api_client.hpp"
#include "run_verify_audit.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;
namespace crypto = keyledger::crypto;
namespace merkle = keyledger::crypto::merkle;

namespace {

merkle::Hash unhex32(const std::string& text) {
  auto bytes = crypto::from_hex(text);
  REQUIRE(bytes.has_value());
  REQUIRE(bytes->size() == 32);
  merkle::Hash h;
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

// The dashboard's leaves in sequence order, from its audit export.
std::vector<merkle::Hash> exported_leaves(const ApiClient& api, const Dashboard& d) {
  auto exported = api.get(d.path + "/audit/export", d.admin);
  REQUIRE(exported.status == 200);
  std::vector<merkle::Hash> leaves;
  std::istringstream lines(exported.body);
  for (std::string line; std::getline(lines, line);) {
    auto event = json::parse(line);
    REQUIRE(event["sequence"].get<std::uint64_t>() == leaves.size() + 1);
    auto raw = crypto::from_hex(event["hash"].get<std::string>());
    REQUIRE(raw.has_value());
    leaves.push_back(merkle::leaf_hash(*raw));
  }
  return leaves;
}

std::vector<merkle::Hash> path_of(const json& hexes) {
  std::vector<merkle::Hash> out;
  for (auto& h : hexes) out.push_back(unhex32(h.get<std::string>()));
  return out;
}

// Every event's inclusion in trees of several sizes, and consistency between them.
void check_proofs(const ApiClient& api, const Dashboard& d, const std::vector<merkle::Hash>& leaves,
                  const std::string& token) {
  merkle::Tree auditor;  // built from the export alone
  for (auto& leaf : leaves) auditor.append(leaf);
  const std::uint64_t n = leaves.size();
  for (std::uint64_t size : {std::uint64_t{1}, n / 2, n - 1, n}) {
    if (size == 0) continue;
    for (std::uint64_t sequence = 1; sequence <= size; ++sequence) {
      INFO("event " << sequence << " in the tree of " << size);
      auto reply = api.get(d.path + "/audit/proofs/inclusion?sequence=" + std::to_string(sequence) +
                               "&tree_size=" + std::to_string(size),
                           token);
      REQUIRE(reply.status == 200);
      REQUIRE(reply.json["leaf_index"] == sequence - 1);
      REQUIRE(reply.json["tree_size"] == size);
      REQUIRE(reply.json["leaf_hash"] == merkle::to_hex(leaves[sequence - 1]));
      REQUIRE(reply.json["root_hash"] == merkle::to_hex(*auditor.root(size)));
      REQUIRE(merkle::verify_inclusion(sequence - 1, size, leaves[sequence - 1], path_of(reply.json["audit_path"]),
                                       *auditor.root(size)));
    }
    auto reply = api.get(d.path + "/audit/proofs/consistency?first=" + std::to_string(size) +
                             "&second=" + std::to_string(n),
                         token);
    REQUIRE(reply.status == 200);
    REQUIRE(reply.json["first_root"] == merkle::to_hex(*auditor.root(size)));
    REQUIRE(reply.json["second_root"] == merkle::to_hex(*auditor.root(n)));
    REQUIRE(merkle::verify_consistency(size, n, *auditor.root(size), *auditor.root(n), path_of(reply.json["proof"])));
  }
  // Without tree_size: the tree of every event so far (which may have grown meanwhile: the
  // server signs checkpoints on its own), consistent with the one checked above.
  auto latest = api.get(d.path + "/audit/proofs/inclusion?sequence=1", token);
  const std::uint64_t now = latest.json["tree_size"];
  REQUIRE(now >= n);
  const merkle::Hash now_root = unhex32(latest.json["root_hash"]);
  REQUIRE(merkle::verify_inclusion(0, now, leaves[0], path_of(latest.json["audit_path"]), now_root));
  auto grown = api.get(d.path + "/audit/proofs/consistency?first=" + std::to_string(n) + "&second=" + std::to_string(now), token);
  REQUIRE(merkle::verify_consistency(n, now, *auditor.root(n), now_root, path_of(grown.json["proof"])));
}

}  // namespace

TEST_CASE("e2e: audit Merkle proofs verify against the exported events, follow new events, and survive a restart") {
  TempDir dir;
  std::vector<merkle::Hash> before_restart;
  Dashboard d;
  {
    ServerProcess server(dir.path());
    ApiClient api(server);
    d = make_dashboard(api);
    for (int i = 0; i < 9; ++i) REQUIRE(api.post(d.path + "/email/keys", {{"name", "k" + std::to_string(i)}}, d.admin).status == 201);
    auto leaves = exported_leaves(api, d);
    REQUIRE(leaves.size() >= 12);
    check_proofs(api, d, leaves, d.viewer);  // every role may ask
    // The tree follows what happens after the first proof: a refusal is audited too.
    REQUIRE(api.post(d.path + "/email/keys", {{"name", "k9"}}, d.viewer).status == 403);
    REQUIRE(api.post(d.path + "/email/keys", {{"name", "k10"}}, d.admin).status == 201);
    before_restart = exported_leaves(api, d);
    REQUIRE(before_restart.size() >= leaves.size() + 2);
    check_proofs(api, d, before_restart, d.admin);
    REQUIRE(server.terminate() == 0);
  }
  ServerProcess server(dir.path());
  ApiClient api(server);
  d.admin = log_in(api, d.id, d.admin_email, kAdminPassword);
  check_proofs(api, d, before_restart, d.admin);
}

TEST_CASE("e2e: a proof request that names no event or tree is a 400 naming the parameter") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  // Far past the end, however many checkpoints the server signs meanwhile.
  const std::uint64_t events = exported_leaves(api, d).size() + 1000;
  const std::string inclusion = d.path + "/audit/proofs/inclusion";
  const std::string consistency = d.path + "/audit/proofs/consistency";
  for (auto [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"", "sequence"},
           {"?sequence=0", "sequence"},
           {"?sequence=" + std::to_string(events + 1), "sequence"},
           {"?sequence=x", "sequence"},
           {"?sequence=2&tree_size=1", "tree_size"},
           {"?sequence=1&tree_size=" + std::to_string(events + 1), "tree_size"}}) {
    INFO(query);
    auto reply = api.get(inclusion + query, d.admin);
    REQUIRE(reply.status == 400);
    REQUIRE(reply.json["field"] == field);
  }
  for (auto [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"", "first"},
           {"?first=0", "first"},
           {"?first=2&second=1", "second"},
           {"?first=1&second=" + std::to_string(events + 1), "second"}}) {
    INFO(query);
    auto reply = api.get(consistency + query, d.admin);
    REQUIRE(reply.status == 400);
    REQUIRE(reply.json["field"] == field);
  }
  // Like the audit trail itself, proofs are for the dashboard's members.
  REQUIRE(api.get(inclusion + "?sequence=1").status == 401);
  REQUIRE(api.get(inclusion + "?sequence=1", kOperatorToken).status == 403);
  REQUIRE(api.get(inclusion + "?sequence=1", d.viewer).status == 200);
}

namespace {

void write(const std::string& path, const json& value) { std::ofstream(path) << value.dump(); }

}  // namespace

TEST_CASE("e2e: the independent verifier accepts what keyledger proves and refuses forgeries, drops and rewrites") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto key = api.post(d.path + "/email/keys", {{"name", "billing"}}, d.admin);
  REQUIRE(api.del(d.path + "/email/keys/" + key.json["id"].get<std::string>(), d.admin).status == 200);
  REQUIRE(api.post(d.path + "/email/keys", {{"name", "denied"}}, d.viewer).status == 403);
  auto checkpoint = api.post(d.path + "/audit/checkpoints", json::object(), d.admin);
  REQUIRE(checkpoint.status == 201);
  const std::string public_key = api.get("/v1/audit/public-key").json["public_key"];

  std::vector<json> events;
  std::istringstream lines(api.get(d.path + "/audit/export", d.admin).body);
  for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
  const std::uint64_t size = events.size();
  auto proof_of = [&](std::uint64_t sequence) {
    return api.get(d.path + "/audit/proofs/inclusion?sequence=" + std::to_string(sequence) + "&tree_size=" +
                       std::to_string(size),
                   d.admin)
        .json;
  };
  const std::string event_file = dir.path() + "/event.json", proof_file = dir.path() + "/proof.json";
  std::string out;

  // Every event is proven from what the export shows (SPEC §11): those holding a password
  // hash or a ciphertext show it only as its SHA-256, which is what their hash (version 2)
  // covers.
  std::size_t committed = 0;
  for (const auto& event : events) {
    const std::uint64_t sequence = event["sequence"];
    INFO(event.dump());
    REQUIRE(event["hash_version"] == 2);
    REQUIRE_FALSE(event["data"].contains("password_hash"));
    if (event["data"].contains("secret")) REQUIRE_FALSE(event["data"]["secret"].contains("ciphertext"));
    committed += event["data"].contains("password_hash_sha256") ||
                 (event["data"].contains("secret") && event["data"]["secret"].contains("ciphertext_sha256"));
    write(event_file, event);
    write(proof_file, proof_of(sequence));
    REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 0);
  }
  REQUIRE(committed >= 3);  // the RCS key, the users' password hashes, the Email key

  // A committed digest changed: refused like any other altered field.
  for (const auto& event : events) {
    if (!event["data"].contains("password_hash_sha256")) continue;
    json altered = event;
    altered["data"]["password_hash_sha256"] = std::string(64, '0');
    write(event_file, altered);
    write(proof_file, proof_of(event["sequence"]));
    REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 1);
    REQUIRE(out.find("does not match its content") != std::string::npos);
    break;
  }
  // An event of hash version 1 as the audit API shows it (its password hash left out) cannot
  // be recomputed, and the verifier says why.
  {
    json old = events.front();
    for (const auto& event : events) {
      if (event["data"].contains("password_hash_sha256")) old = event;
    }
    old.erase("hash_version");
    old["data"].erase("password_hash_sha256");
    old["data"]["password_hash"] = "[redacted]";
    write(event_file, old);
    write(proof_file, proof_of(old["sequence"]));
    REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 1);
    REQUIRE(out.find("hash version 1") != std::string::npos);
  }

  // The revocation event, forged: one field changed.
  json revoked;
  for (const auto& event : events) {
    if (event["type"] == "EmailKeyRevoked") revoked = event;
  }
  REQUIRE(revoked.is_object());
  const std::uint64_t at = revoked["sequence"];
  json forged = revoked;
  forged["actor"]["id"] = "someone.else@example.com";
  write(event_file, forged);
  write(proof_file, proof_of(at));
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 1);
  REQUIRE(out.find("does not match its content") != std::string::npos);

  // A rewritten history: the forged event with its hash recomputed, so that it is
  // self-consistent; it is not in the tree the proof (and the auditor's root) is of.
  std::string recomputed;
  {
    write(event_file, forged);
    const std::string script = dir.path() + "/rehash.py";
    std::ofstream(script) << "import hashlib, json, sys\n"
                             "e = json.load(open(sys.argv[1]))\n"
                             "c = {k: v for k, v in e.items() if k != 'hash'}\n"
                             "e['hash'] = hashlib.sha256(json.dumps(c, sort_keys=True, separators=(',', ':'), "
                             "ensure_ascii=False).encode()).hexdigest()\n"
                             "json.dump(e, open(sys.argv[1], 'w'))\n";
    REQUIRE(std::system(("python3 " + script + " " + event_file).c_str()) == 0);
  }
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 1);
  REQUIRE(out.find("leaf_hash is not the event's") != std::string::npos);
  json bare = proof_of(at);  // a proof without the leaf hash it was made for
  bare.erase("leaf_hash");
  write(proof_file, bare);
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 1);
  INFO(out);
  REQUIRE(out.find("not in the tree") != std::string::npos);

  // A dropped event: the next event presented with this one's proof.
  write(event_file, events.at(at));  // sequence at + 1
  write(proof_file, proof_of(at));
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 1);

  // The genuine event, but against another root than the auditor holds.
  write(event_file, revoked);
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file + " --root " + std::string(64, 'a'), &out) == 1);
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file, &out) == 0);

  // Consistency between two tree sizes, and a rewritten earlier tree.
  auto consistency = api.get(d.path + "/audit/proofs/consistency?first=3&second=" + std::to_string(size), d.admin).json;
  write(proof_file, consistency);
  REQUIRE(verify_audit(dir, "consistency " + proof_file, &out) == 0);
  REQUIRE(verify_audit(dir, "consistency " + proof_file + " --first-root " + std::string(64, 'b'), &out) == 1);
  REQUIRE(out.find("rewritten") != std::string::npos);

  // The checkpoint: by the public key it names, and refused by any other.
  const std::string checkpoint_file = dir.path() + "/checkpoint.json";
  write(checkpoint_file, checkpoint.json);
  REQUIRE(verify_audit(dir, "checkpoint " + checkpoint_file + " --public-key " + public_key, &out) == 0);
  std::string other_key = public_key;
  other_key[0] = other_key[0] == '0' ? '1' : '0';
  REQUIRE(verify_audit(dir, "checkpoint " + checkpoint_file + " --public-key " + other_key, &out) == 1);
  json altered = checkpoint.json;
  altered["sequence"] = altered["sequence"].get<std::uint64_t>() + 1;
  write(checkpoint_file, altered);
  REQUIRE(verify_audit(dir, "checkpoint " + checkpoint_file + " --public-key " + public_key, &out) == 1);
}

TEST_CASE("e2e: two signed v2 checkpoints prove, with the verifier alone, that history between them was only appended to") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  const std::string public_key = api.get("/v1/audit/public-key").json["public_key"];
  auto sign = [&] {
    auto reply = api.post(d.path + "/audit/checkpoints", json::object(), d.admin);
    REQUIRE(reply.status == 201);
    return reply.json;
  };
  REQUIRE(api.post(d.path + "/email/keys", {{"name", "a"}}, d.admin).status == 201);
  const json first = sign();
  for (int i = 0; i < 6; ++i) REQUIRE(api.post(d.path + "/email/keys", {{"name", "b" + std::to_string(i)}}, d.admin).status == 201);
  const json second = sign();

  // Each names the tree of its events, and its root is the one an auditor computes from the
  // export alone (SPEC §11's checkpoint v2).
  const auto leaves = exported_leaves(api, d);
  merkle::Tree auditor;
  for (auto& leaf : leaves) auditor.append(leaf);
  for (const json* c : {&first, &second}) {
    INFO(c->dump());
    REQUIRE((*c)["version"] == 2);
    REQUIRE((*c)["tree_size"] == (*c)["sequence"]);
    REQUIRE((*c)["root_hash"] == merkle::to_hex(*auditor.root((*c)["tree_size"].get<std::uint64_t>())));
  }
  REQUIRE(api.get(d.path + "/audit/checkpoints/latest", d.viewer).json == second);
  const std::uint64_t m = first["tree_size"], n = second["tree_size"];
  REQUIRE(m < n);

  const std::string first_file = dir.path() + "/first.json", second_file = dir.path() + "/second.json",
                    proof_file = dir.path() + "/proof.json", event_file = dir.path() + "/event.json";
  write(first_file, first);
  write(second_file, second);
  std::string out;
  const std::string keys = " --public-key " + public_key;
  REQUIRE(verify_audit(dir, "checkpoint " + second_file + keys, &out) == 0);

  // Consistency between the two checkpoints: both signatures, their sizes and their roots.
  write(proof_file, api.get(d.path + "/audit/proofs/consistency?first=" + std::to_string(m) + "&second=" +
                                std::to_string(n), d.admin).json);
  const std::string both = " --first-checkpoint " + first_file + " --second-checkpoint " + second_file + keys;
  REQUIRE(verify_audit(dir, "consistency " + proof_file + both, &out) == 0);
  INFO(out);
  // In the wrong order, the proof is not between them.
  REQUIRE(verify_audit(dir, "consistency " + proof_file + " --first-checkpoint " + second_file +
                                " --second-checkpoint " + first_file + keys, &out) == 1);
  // A proof between other sizes does not stand for them.
  write(proof_file, api.get(d.path + "/audit/proofs/consistency?first=1&second=" + std::to_string(n), d.admin).json);
  REQUIRE(verify_audit(dir, "consistency " + proof_file + both, &out) == 1);
  REQUIRE(out.find("checkpoints sign trees of") != std::string::npos);
  // A checkpoint whose root was replaced (say, by the root of a rewritten history) no longer
  // verifies: the root is in the signed text.
  json rewritten = first;
  rewritten["root_hash"] = std::string(64, 'c');
  write(first_file, rewritten);
  write(proof_file, api.get(d.path + "/audit/proofs/consistency?first=" + std::to_string(m) + "&second=" +
                                std::to_string(n), d.admin).json);
  REQUIRE(verify_audit(dir, "consistency " + proof_file + both, &out) == 1);
  REQUIRE(out.find("signature does not verify") != std::string::npos);
  write(first_file, first);

  // One event against the tree a kept checkpoint signed; refused against the other's tree.
  std::istringstream lines(api.get(d.path + "/audit/export", d.admin).body);
  json event;  // one whose content the export shows whole
  for (std::string line; std::getline(lines, line);) {
    event = json::parse(line);
    if (event["type"] == "UserLoggedIn") break;
  }
  REQUIRE(event["type"] == "UserLoggedIn");
  const std::uint64_t sequence = event["sequence"];
  REQUIRE(sequence <= m);
  write(event_file, event);
  write(proof_file, api.get(d.path + "/audit/proofs/inclusion?sequence=" + std::to_string(sequence) + "&tree_size=" +
                                std::to_string(n), d.admin).json);
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file + " --checkpoint " + second_file + keys, &out) == 0);
  REQUIRE(verify_audit(dir, "inclusion " + event_file + " " + proof_file + " --checkpoint " + first_file + keys, &out) == 1);
  REQUIRE(out.find("another tree than the one the checkpoint signed") != std::string::npos);
}

TEST_CASE("e2e: the first proof of a long trail is built while commands go on, and misses none of them") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  // More events than the tree builds in place (256): it is built aside from the log.
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 80; ++i) api.post(d.path + "/email/keys", {{"name", "k" + std::to_string(t * 100 + i)}}, d.admin);
    });
  }
  for (auto& w : writers) w.join();
  writers.clear();
  // Commands go on while the first proofs are asked for; each proof is of every event so far.
  std::atomic<bool> stop{false};
  writers.emplace_back([&] {
    for (int i = 0; !stop; ++i) api.post(d.path + "/email/keys", {{"name", "during " + std::to_string(i)}}, d.admin);
  });
  std::vector<json> proofs;
  for (int i = 0; i < 5; ++i) proofs.push_back(api.get(d.path + "/audit/proofs/inclusion?sequence=1", d.admin).json);
  stop = true;
  writers[0].join();
  const auto leaves = exported_leaves(api, d);
  merkle::Tree auditor;
  for (auto& leaf : leaves) auditor.append(leaf);
  for (const auto& proof : proofs) {
    const std::uint64_t size = proof["tree_size"];
    INFO("tree of " << size << " of " << leaves.size());
    REQUIRE(size > 256);
    REQUIRE(size <= leaves.size());
    REQUIRE(proof["root_hash"] == merkle::to_hex(*auditor.root(size)));
    REQUIRE(merkle::verify_inclusion(0, size, leaves[0], path_of(proof["audit_path"]), *auditor.root(size)));
  }
  // And the tree followed every event since: the last one is in the tree of all of them.
  auto last = api.get(d.path + "/audit/proofs/inclusion?sequence=" + std::to_string(leaves.size()) + "&tree_size=" +
                          std::to_string(leaves.size()),
                      d.admin);
  REQUIRE(last.status == 200);
  REQUIRE(last.json["root_hash"] == merkle::to_hex(*auditor.root(leaves.size())));
  REQUIRE(merkle::verify_inclusion(leaves.size() - 1, leaves.size(), leaves.back(), path_of(last.json["audit_path"]),
                                   *auditor.root(leaves.size())));
}
