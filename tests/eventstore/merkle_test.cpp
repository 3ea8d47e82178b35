// RFC 9162 Merkle trees: against the published Certificate Transparency test vectors (the
// leaves, roots and node hashes of transparency-dev/merkle's testonly data), and against a
// reference written straight from the RFC's recursive definitions (MTH, PATH, SUBPROOF),
// computed from all the leaves every time, for every tree size up to 1,000.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "crypto/crypto.hpp"
#include "crypto/merkle.hpp"

namespace crypto = keyledger::crypto;
namespace merkle = keyledger::crypto::merkle;
using merkle::Hash;

namespace {

std::string hex(const Hash& h) { return crypto::to_hex(std::string(h.begin(), h.end())); }

std::vector<std::string> hexes(const std::vector<Hash>& hashes) {
  std::vector<std::string> out;
  for (auto& h : hashes) out.push_back(hex(h));
  return out;
}

std::string unhex(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) out.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

// The reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 as written, over the leaf hashes.
std::uint64_t split(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash mth(const std::vector<Hash>& d, std::uint64_t begin, std::uint64_t end) {
  if (end - begin == 1) return d[begin];
  const std::uint64_t k = split(end - begin);
  return merkle::node_hash(mth(d, begin, begin + k), mth(d, begin + k, end));
}

std::vector<Hash> reference_path(const std::vector<Hash>& d, std::uint64_t m, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t n = end - begin;
  if (n == 1) return {};
  const std::uint64_t k = split(n);
  std::vector<Hash> out;
  if (m < k) {
    out = reference_path(d, m, begin, begin + k);
    out.push_back(mth(d, begin + k, end));
  } else {
    out = reference_path(d, m - k, begin + k, end);
    out.push_back(mth(d, begin, begin + k));
  }
  return out;
}

std::vector<Hash> reference_subproof(const std::vector<Hash>& d, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
                                     bool whole) {
  const std::uint64_t n = end - begin;
  if (m == n) return whole ? std::vector<Hash>{} : std::vector<Hash>{mth(d, begin, end)};
  const std::uint64_t k = split(n);
  std::vector<Hash> out;
  if (m <= k) {
    out = reference_subproof(d, m, begin, begin + k, whole);
    out.push_back(mth(d, begin + k, end));
  } else {
    out = reference_subproof(d, m - k, begin + k, end, false);
    out.push_back(mth(d, begin, begin + k));
  }
  return out;
}

std::vector<Hash> synthetic_leaves(std::size_t n) {
  std::vector<Hash> leaves;
  for (std::size_t i = 0; i < n; ++i) leaves.push_back(merkle::leaf_hash("event " + std::to_string(i)));
  return leaves;
}

const std::vector<std::string> kLeafInputs = {"",         "00",       "10",
                                              "2021",     "3031",     "40414243",
                                              "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
const std::vector<std::string> kRoots = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
// Leaf hashes of the inputs above, then the complete subtrees of two and of four leaves.
const std::vector<std::string> kLeaves = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
const std::vector<std::string> kPairs = {
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
};
const std::vector<std::string> kQuads = {
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};

merkle::Tree vector_tree() {
  merkle::Tree tree;
  for (auto& input : kLeafInputs) tree.append(merkle::leaf_hash(unhex(input)));
  return tree;
}

}  // namespace

TEST_CASE("merkle: the Certificate Transparency test vectors: leaf hashes and the root of every size 0..8") {
  for (std::size_t i = 0; i < kLeafInputs.size(); ++i) REQUIRE(hex(merkle::leaf_hash(unhex(kLeafInputs[i]))) == kLeaves[i]);
  REQUIRE(hex(merkle::empty_root()) == kRoots[0]);
  auto tree = vector_tree();
  for (std::uint64_t size = 0; size <= 8; ++size) {
    INFO("size " << size);
    REQUIRE(hex(*tree.root(size)) == kRoots[size]);
  }
  REQUIRE_FALSE(tree.root(9).has_value());
}

TEST_CASE("merkle: the test vectors' inclusion and consistency proofs, made and verified") {
  auto tree = vector_tree();
  auto root = [&](std::uint64_t size) { return *tree.root(size); };
  struct Inclusion {
    std::uint64_t index, size;
    std::vector<std::string> proof;
  };
  for (const auto& c : std::vector<Inclusion>{{0, 1, {}},
                                              {0, 8, {kLeaves[1], kPairs[1], kQuads[1]}},
                                              {5, 8, {kLeaves[4], kPairs[3], kQuads[0]}},
                                              {2, 3, {kPairs[0]}},
                                              {1, 5, {kLeaves[0], kPairs[1], kLeaves[4]}}}) {
    INFO("leaf " << c.index << " of " << c.size);
    auto proof = tree.inclusion_proof(c.index, c.size);
    REQUIRE(proof.has_value());
    REQUIRE(hexes(*proof) == c.proof);
    REQUIRE(merkle::verify_inclusion(c.index, c.size, merkle::leaf_hash(unhex(kLeafInputs[c.index])), *proof, root(c.size)));
  }
  struct Consistency {
    std::uint64_t first, second;
    std::vector<std::string> proof;
  };
  for (const auto& c : std::vector<Consistency>{{1, 1, {}},
                                                {1, 8, {kLeaves[1], kPairs[1], kQuads[1]}},
                                                {2, 8, {kPairs[1], kQuads[1]}},
                                                {6, 8, {kPairs[2], kPairs[3], kQuads[0]}},
                                                {2, 5, {kPairs[1], kLeaves[4]}}}) {
    INFO(c.first << " → " << c.second);
    auto proof = tree.consistency_proof(c.first, c.second);
    REQUIRE(proof.has_value());
    REQUIRE(hexes(*proof) == c.proof);
    REQUIRE(merkle::verify_consistency(c.first, c.second, root(c.first), root(c.second), *proof));
  }
  REQUIRE_FALSE(tree.inclusion_proof(8, 8).has_value());
  REQUIRE_FALSE(tree.consistency_proof(0, 8).has_value());
  REQUIRE_FALSE(tree.consistency_proof(5, 4).has_value());
  REQUIRE_FALSE(tree.consistency_proof(2, 9).has_value());
}

TEST_CASE("merkle: every root up to 1,000 leaves equals the RFC's definition computed from all the leaves") {
  const auto leaves = synthetic_leaves(1000);
  merkle::Tree tree;
  for (std::uint64_t size = 1; size <= leaves.size(); ++size) {
    tree.append(leaves[size - 1]);
    REQUIRE(*tree.root(size) == mth(leaves, 0, size));
  }
  // And every earlier size, asked of the grown tree.
  for (std::uint64_t size = 1; size <= leaves.size(); size += 37) REQUIRE(*tree.root(size) == mth(leaves, 0, size));
}

TEST_CASE("merkle: a frontier's root equals the RFC's definition at every size up to 1,000, and the vectors' roots") {
  merkle::Frontier empty;
  REQUIRE(empty.root() == merkle::empty_root());
  const auto leaves = synthetic_leaves(1000);
  merkle::Frontier frontier;
  for (std::uint64_t size = 1; size <= leaves.size(); ++size) {
    frontier.append(leaves[size - 1]);
    REQUIRE(frontier.size() == size);
    REQUIRE(frontier.root() == mth(leaves, 0, size));
  }
  merkle::Frontier vectors;
  for (std::size_t i = 0; i < kLeafInputs.size(); ++i) {
    vectors.append(merkle::leaf_hash(unhex(kLeafInputs[i])));
    REQUIRE(hex(vectors.root()) == kRoots[i + 1]);
  }
}

TEST_CASE("merkle: inclusion proofs equal the RFC's PATH and verify, and nothing altered verifies") {
  const auto leaves = synthetic_leaves(1000);
  merkle::Tree tree;
  for (auto& leaf : leaves) tree.append(leaf);
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t size = 1; size <= 130; ++size) sizes.push_back(size);  // every index of these
  for (std::uint64_t size : {255u, 256u, 257u, 511u, 512u, 513u, 999u, 1000u}) sizes.push_back(size);
  for (std::uint64_t size : sizes) {
    const Hash root = mth(leaves, 0, size);
    const std::uint64_t step = size <= 130 ? 1 : 7;
    for (std::uint64_t index = 0; index < size; index += step) {
      INFO("leaf " << index << " of " << size);
      auto proof = *tree.inclusion_proof(index, size);
      REQUIRE(proof == reference_path(leaves, index, 0, size));
      REQUIRE(merkle::verify_inclusion(index, size, leaves[index], proof, root));
      // Another leaf, index, tree height or root, or any one hash of the path changed:
      // refused. (A size of the same height may verify: sizes come signed with their roots.)
      Hash other_root = root;
      other_root[31] ^= 0x01;
      REQUIRE_FALSE(merkle::verify_inclusion(index, size, leaves[(index + 1) % leaves.size()], proof, root));
      if (size > 1) REQUIRE_FALSE(merkle::verify_inclusion((index + 1) % size, size, leaves[index], proof, root));
      REQUIRE_FALSE(merkle::verify_inclusion(index, size * 2, leaves[index], proof, root));
      REQUIRE_FALSE(merkle::verify_inclusion(index, size, leaves[index], proof, other_root));
      for (std::size_t i = 0; i < proof.size(); ++i) {
        auto altered = proof;
        altered[i][i % 32] ^= 0x01;
        REQUIRE_FALSE(merkle::verify_inclusion(index, size, leaves[index], altered, root));
      }
      if (!proof.empty()) {
        auto shorter = proof;
        shorter.pop_back();
        REQUIRE_FALSE(merkle::verify_inclusion(index, size, leaves[index], shorter, root));
      }
      auto longer = proof;
      longer.push_back(root);
      REQUIRE_FALSE(merkle::verify_inclusion(index, size, leaves[index], longer, root));
    }
  }
}

TEST_CASE("merkle: consistency proofs equal the RFC's SUBPROOF and verify, and nothing altered verifies") {
  const auto leaves = synthetic_leaves(1000);
  merkle::Tree tree;
  for (auto& leaf : leaves) tree.append(leaf);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pairs;
  for (std::uint64_t second = 1; second <= 70; ++second) {
    for (std::uint64_t first = 1; first <= second; ++first) pairs.emplace_back(first, second);
  }
  for (std::uint64_t second : {256u, 257u, 999u, 1000u}) {
    for (std::uint64_t first = 1; first <= second; first += 13) pairs.emplace_back(first, second);
    pairs.emplace_back(second, second);
  }
  for (auto [first, second] : pairs) {
    INFO(first << " → " << second);
    const Hash first_root = mth(leaves, 0, first);
    const Hash second_root = mth(leaves, 0, second);
    auto proof = *tree.consistency_proof(first, second);
    REQUIRE(proof == reference_subproof(leaves, first, 0, second, true));
    REQUIRE(merkle::verify_consistency(first, second, first_root, second_root, proof));
    // A rewritten history, another first size or second tree height, or any one hash of the
    // proof changed: refused.
    Hash forged = first_root;
    forged[0] ^= 0x80;
    REQUIRE_FALSE(merkle::verify_consistency(first, second, forged, second_root, proof));
    REQUIRE_FALSE(merkle::verify_consistency(first, second, first_root, forged, proof));
    if (first > 1 && first < second) REQUIRE_FALSE(merkle::verify_consistency(first - 1, second, first_root, second_root, proof));
    REQUIRE_FALSE(merkle::verify_consistency(first, second * 2, first_root, second_root, proof));
    for (std::size_t i = 0; i < proof.size(); ++i) {
      auto altered = proof;
      altered[i][(i * 5) % 32] ^= 0x04;
      REQUIRE_FALSE(merkle::verify_consistency(first, second, first_root, second_root, altered));
    }
    if (!proof.empty()) {
      auto shorter = proof;
      shorter.pop_back();
      REQUIRE_FALSE(merkle::verify_consistency(first, second, first_root, second_root, shorter));
    }
  }
}
