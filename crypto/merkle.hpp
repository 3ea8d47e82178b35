// Merkle trees as RFC 9162 (Certificate Transparency v2, §2.1) defines them over SHA-256:
// the tree hash, inclusion and consistency proofs, and their verification — what lets an
// auditor check one event, or that a history was only appended to, in O(log n) hashes.
//
// `Tree` keeps the hash of every complete subtree as leaves are appended (levels[l][k]
// covers leaves [k·2^l, (k+1)·2^l)), so the root of any earlier size and any proof cost
// O(log n) lookups and hashes. Verification needs no tree: it is what an auditor runs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyledger::crypto::merkle {

using Hash = std::array<std::uint8_t, 32>;

Hash leaf_hash(std::string_view data);                // SHA-256(0x00 ‖ data)
Hash node_hash(const Hash& left, const Hash& right);  // SHA-256(0x01 ‖ left ‖ right)
Hash empty_root();                                    // SHA-256 of nothing: the tree of no leaves
std::string to_hex(const Hash& hash);                 // lowercase hex, as proofs and checkpoints show it

class Tree {
 public:
  void append(const Hash& leaf);  // a leaf's hash (leaf_hash of its data)
  std::uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  std::optional<Hash> leaf(std::uint64_t index) const {
    return index < size() ? std::optional(levels_[0][index]) : std::nullopt;
  }

  // Each answers for the tree of the first `size` leaves, any size up to size(); nullopt
  // when the arguments name no such tree or leaf.
  std::optional<Hash> root(std::uint64_t size) const;
  // The audit path of leaf `index`, from the leaf's sibling up (RFC 9162 §2.1.3.1).
  std::optional<std::vector<Hash>> inclusion_proof(std::uint64_t index, std::uint64_t size) const;
  // That the tree of `first` leaves is a prefix of the tree of `second` (§2.1.4.1);
  // 0 < first ≤ second.
  std::optional<std::vector<Hash>> consistency_proof(std::uint64_t first, std::uint64_t second) const;

 private:
  Hash range(std::uint64_t begin, std::uint64_t end) const;  // the hash of leaves [begin, end)
  void path(std::uint64_t index, std::uint64_t begin, std::uint64_t end, std::vector<Hash>& out) const;
  void subproof(std::uint64_t first, std::uint64_t begin, std::uint64_t end, bool whole, std::vector<Hash>& out) const;
  std::vector<std::vector<Hash>> levels_;
};

// The right edge of a tree: the roots of its complete subtrees, one for each bit set in its
// size (at most 64 hashes). Enough to append and to give the root of the current size —
// what a signed checkpoint needs of a dashboard whose proofs nobody asked for.
class Frontier {
 public:
  void append(const Hash& leaf);
  std::uint64_t size() const { return size_; }
  Hash root() const;

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash> subtrees_;  // largest (leftmost) first
};

// RFC 9162 §2.1.3.2: true when `proof` leads from `leaf` at `index` to `root` of a tree of
// `size` leaves.
bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                      const Hash& root);
// RFC 9162 §2.1.4.2: true when `proof` shows the tree of `first` leaves (`first_root`) is a
// prefix of the tree of `second` leaves (`second_root`). Equal sizes need an empty proof
// and equal roots.
bool verify_consistency(std::uint64_t first, std::uint64_t second, const Hash& first_root, const Hash& second_root,
                        std::span<const Hash> proof);

}  // namespace keyledger::crypto::merkle
