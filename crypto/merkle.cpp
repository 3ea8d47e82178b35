#include "merkle.hpp"

#include "crypto.hpp"

#include <algorithm>
#include <bit>
#include <string>

namespace keyledger::crypto::merkle {

namespace {

// The largest power of two smaller than n (n ≥ 2): where RFC 9162 splits a tree of n leaves.
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

Hash leaf_hash(std::string_view data) {
  std::string input;
  input.reserve(1 + data.size());
  input.push_back('\x00');
  input.append(data);
  return sha256_digest(input);
}

Hash node_hash(const Hash& left, const Hash& right) {
  std::array<unsigned char, 65> input;
  input[0] = 0x01;
  std::copy(left.begin(), left.end(), input.begin() + 1);
  std::copy(right.begin(), right.end(), input.begin() + 33);
  return sha256_digest(std::string_view(reinterpret_cast<const char*>(input.data()), input.size()));
}

std::string to_hex(const Hash& hash) {
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

Hash empty_root() {
  return sha256_digest({});
}

void Tree::append(const Hash& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf);
  // Each completed pair completes its parent, up the levels.
  for (std::size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
    if (levels_.size() == l + 1) levels_.emplace_back();
    const auto& level = levels_[l];
    Hash parent = node_hash(level[level.size() - 2], level.back());
    levels_[l + 1].push_back(parent);
  }
}

void Frontier::append(const Hash& leaf) {
  subtrees_.push_back(leaf);
  // Each trailing 1 bit of the old size is a subtree of the new leaf's size that now pairs
  // with it, as a binary counter carries.
  for (std::uint64_t carry = size_; carry & 1; carry >>= 1) {
    Hash right = subtrees_.back();
    subtrees_.pop_back();
    subtrees_.back() = node_hash(subtrees_.back(), right);
  }
  ++size_;
}

// The tree of n leaves is its largest complete subtree on the left and the tree of the rest
// on the right: folding the subtrees from the smallest up gives exactly that.
Hash Frontier::root() const {
  if (subtrees_.empty()) return empty_root();
  Hash acc = subtrees_.back();
  for (auto it = subtrees_.rbegin() + 1; it != subtrees_.rend(); ++it) acc = node_hash(*it, acc);
  return acc;
}

// A complete, aligned range is stored; any other is split as RFC 9162 splits it. The ranges
// the proofs ask for start at a multiple of a power of two at least their length, so every
// left part is stored and only the right edge recurses: O(log n).
Hash Tree::range(std::uint64_t begin, std::uint64_t end) const {
  const std::uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return levels_[std::countr_zero(n)][begin / n];
  }
  const std::uint64_t k = split(n);
  return node_hash(range(begin, begin + k), range(begin + k, end));
}

std::optional<Hash> Tree::root(std::uint64_t size) const {
  if (size > this->size()) return std::nullopt;
  if (size == 0) return empty_root();
  return range(0, size);
}

// PATH(m, D[begin:end]) of §2.1.3.1, appended to `out` leaf-side first.
void Tree::path(std::uint64_t index, std::uint64_t begin, std::uint64_t end, std::vector<Hash>& out) const {
  const std::uint64_t n = end - begin;
  if (n == 1) return;
  const std::uint64_t k = split(n);
  if (index < k) {
    path(index, begin, begin + k, out);
    out.push_back(range(begin + k, end));
  } else {
    path(index - k, begin + k, end, out);
    out.push_back(range(begin, begin + k));
  }
}

std::optional<std::vector<Hash>> Tree::inclusion_proof(std::uint64_t index, std::uint64_t size) const {
  if (size > this->size() || index >= size) return std::nullopt;
  std::vector<Hash> out;
  path(index, 0, size, out);
  return out;
}

// SUBPROOF(m, D[begin:end], b) of §2.1.4.1; `whole` is b: the first tree is all of this one.
void Tree::subproof(std::uint64_t first, std::uint64_t begin, std::uint64_t end, bool whole,
                    std::vector<Hash>& out) const {
  const std::uint64_t n = end - begin;
  if (first == n) {
    if (!whole) out.push_back(range(begin, end));
    return;
  }
  const std::uint64_t k = split(n);
  if (first <= k) {
    subproof(first, begin, begin + k, whole, out);
    out.push_back(range(begin + k, end));
  } else {
    subproof(first - k, begin + k, end, false, out);
    out.push_back(range(begin, begin + k));
  }
}

std::optional<std::vector<Hash>> Tree::consistency_proof(std::uint64_t first, std::uint64_t second) const {
  if (second > size() || first == 0 || first > second) return std::nullopt;
  std::vector<Hash> out;
  subproof(first, 0, second, true, out);
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                      const Hash& root) {
  if (index >= size) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t first, std::uint64_t second, const Hash& first_root, const Hash& second_root,
                        std::span<const Hash> proof) {
  if (first == 0 || first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (proof.empty()) return false;
  // A first tree that is a complete subtree is its own first node; the proof omits it.
  std::vector<Hash> path;
  if (std::has_single_bit(first)) path.push_back(first_root);
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = first - 1;
  std::uint64_t sn = second - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_root && sr == second_root && sn == 0;
}

}  // namespace keyledger::crypto::merkle
