// Merkle proofs of the audit trail (SPEC §11), checked as an auditor would: the leaves come
// from the audit export's event hashes, and every proof the server gives is verified with
// the RFC 9162 algorithms against roots computed from those leaves alone.
#include <catch2/catch.hpp>

#include <sstream>

#include "crypto/crypto.hpp"
#include "crypto/merkle.hpp"
#include "support/api_client.hpp"
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

std::string hex(const merkle::Hash& h) { return crypto::to_hex(std::string(h.begin(), h.end())); }

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
      REQUIRE(reply.json["leaf_hash"] == hex(leaves[sequence - 1]));
      REQUIRE(reply.json["root_hash"] == hex(*auditor.root(size)));
      REQUIRE(merkle::verify_inclusion(sequence - 1, size, leaves[sequence - 1], path_of(reply.json["audit_path"]),
                                       *auditor.root(size)));
    }
    auto reply = api.get(d.path + "/audit/proofs/consistency?first=" + std::to_string(size) +
                             "&second=" + std::to_string(n),
                         token);
    REQUIRE(reply.status == 200);
    REQUIRE(reply.json["first_root"] == hex(*auditor.root(size)));
    REQUIRE(reply.json["second_root"] == hex(*auditor.root(n)));
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
