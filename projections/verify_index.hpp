// The verify hot path's read model: every live secret of every dashboard, keyed by its
// HMAC fingerprint, with the key's restrictions precompiled (CIDR ranges parsed, permissions
// as a bitmask). Verification checks the presented key's format and checksum, fingerprints
// it with the server pepper (a precomputed HMAC state) and looks it up: no I/O, no log write
// and no allocation of its own beyond the result.
//
// Threading: verify() runs on any number of threads at once (shared lock); refresh_*() run
// from the command pipeline's listener (exclusive lock, brief).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <functional>
#include <map>
#include <cstdint>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/dashboard_state.hpp"
#include "domain/ip_range.hpp"
#include "crypto/crypto.hpp"

namespace keyledger::projections {

enum class VerifyReason {
  valid,
  unknown_key,
  malformed_key,
  revoked,
  expired,
  ip_not_allowed,
  permission_denied,
  wrong_number,
  unknown_bot,
};
std::string_view to_string(VerifyReason reason);
inline constexpr std::size_t kVerifyReasonCount = 9;

struct VerifyRequest {
  std::string_view key;
  std::optional<domain::IpAddress> source_ip;  // required for Email keys with an allowlist
  std::optional<std::string_view> permission;
  std::optional<std::string_view> number;
  std::optional<std::string_view> bot_id;
};

struct VerifyResult {
  VerifyReason reason = VerifyReason::unknown_key;
  std::string dashboard_id;
  domain::Channel channel = domain::Channel::email;
  std::string key_id;
};

using Fingerprint = domain::Fingerprint;

// `count` default-constructed objects in memory aligned to 2 MiB and advised for huge pages:
// the verify tables are read at random, and with 4 KiB pages each lookup would also miss
// the TLB.
template <class T>
class HugePageArray {
 public:
  HugePageArray() = default;
  explicit HugePageArray(std::size_t count);
  ~HugePageArray();
  HugePageArray(HugePageArray&& other) noexcept { swap(other); }
  HugePageArray& operator=(HugePageArray&& other) noexcept {
    swap(other);
    return *this;
  }
  void swap(HugePageArray& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }
  T& operator[](std::size_t i) const { return data_[i]; }
  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

class VerifyIndex {
 public:
  // `fingerprint_pepper` is the HMAC key of SealedSecret::fingerprint (MasterKey's pepper).
  explicit VerifyIndex(std::string_view fingerprint_pepper);

  // malformed_key when the key's format or checksum is wrong (no lookup is made then).
  VerifyResult verify(const VerifyRequest& request, domain::Timestamp now) const;

  // Mirrors one key of a dashboard as the state now has it. Its record is found through the
  // fingerprints the state holds (the current secret, or the previous one after a rotation),
  // so the index keeps no map of ids.
  void refresh_key(const std::string& dashboard_id, std::string_view key_id, const domain::ApiKey& key);
  // Mirrors the dashboard's RCS bots.
  void refresh_bots(const std::string& dashboard_id, const std::set<std::string>& bots);
  // Mirrors everything of one dashboard (start-up, closure).
  void refresh_dashboard(const domain::DashboardState& state);

  // Which key a fingerprint belongs to, whatever its state (for leak reports).
  struct Located {
    std::string dashboard_id;
    std::string key_id;
    domain::Channel channel;
  };
  std::optional<Located> locate(std::string_view presented_key) const;

  std::size_t live_secrets() const;

  // Verifications counted since the last drain, per dashboard: the counters are reset.
  struct Usage {
    std::string key_id;
    std::uint64_t uses;
    domain::Timestamp last_used_at;
  };
  // Only the keys of dashboards `take` accepts (all when it is empty); the others keep
  // counting until a later drain takes them.
  std::map<std::string, std::vector<Usage>> drain_usage(const std::function<bool(const std::string&)>& take = nullptr);

  // A canonical text of the whole read model, for comparing it before and after a rebuild.
  std::string canonical_dump() const;

 private:
  // What few keys have: an IP allowlist, an SMS number, an id longer than kInlineId.
  struct Extras {
    std::vector<domain::IpRange> allowlist;
    std::string number;
    std::string long_key_id;
  };
  // A key's mirror. Hot fields (what every verification reads) come first, so that a
  // lookup touches one slot of the table and the start of one Key.
  struct Key {
    Fingerprint current{}, previous{};
    domain::Timestamp previous_valid_until{};
    // Verifications since the last drain_usage(); bumped under the shared lock.
    mutable std::atomic<std::int64_t> last_used_ms{0};
    mutable std::atomic<std::uint32_t> uses{0};
    std::uint32_t dashboard = 0;  // index into dashboards_
    std::unique_ptr<Extras> extras;
    std::uint16_t permissions = 0xffff;  // bit i: catalogue entry i; all bits: "all"
    domain::Channel channel = domain::Channel::email;
    bool has_previous : 1 = false;
    bool revoked : 1 = false;
    // The key id inline (ids the API makes are 24 characters), so that a valid verification
    // copies it into its result from the cache lines it already read.
    static constexpr std::size_t kInlineId = 24;
    std::uint8_t key_id_size = 0;  // 0xff: too long, see extras
    char inline_key_id[kInlineId];

    std::string_view key_view() const;
  };
  // Exactly 16,384 records fill one 2 MiB chunk (a huge page) with nothing left over.
  static_assert(sizeof(Key) == 128);
  // Keys live in fixed-size chunks: their addresses never change (the counters are atomics
  // bumped without the exclusive lock), and the chunk table stays small enough to be cached.
  static constexpr std::size_t kChunkBits = 14;
  Key& key_at(std::uint32_t index) const { return chunks_[index >> kChunkBits][index & ((1u << kChunkBits) - 1)]; }

  // The fingerprint table: open addressing with linear probing over a power-of-two array,
  // at most half full; a slot holds 32 bits of the fingerprint (already uniform, being an
  // HMAC), which key it belongs to and whether it is that key's previous secret. Removal
  // shifts later entries back, so there are no tombstones.
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t entry = kEmpty;  // key index << 1 | 1 for the key's previous secret
  };
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  static std::uint32_t tag_of(const Fingerprint& f);
  const Slot* find_slot(const Fingerprint& f) const;
  void insert_secret(const Fingerprint& f, std::uint32_t key, bool previous);
  void erase_secret(const Fingerprint& f);
  void grow();
  std::uint32_t dashboard_index(const std::string& dashboard_id);  // exclusive lock held

  crypto::HmacSha256Key fingerprinter_;
  mutable std::shared_mutex mutex_;
  std::vector<HugePageArray<Key>> chunks_;
  std::uint32_t key_count_ = 0;
  HugePageArray<Slot> slots_;
  std::size_t secret_count_ = 0;
  std::vector<std::string> dashboards_;
  std::unordered_map<std::string, std::uint32_t> dashboard_indexes_;
  // Looked up by string_view on the verify path: no temporary strings.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::set<std::string, std::less<>>, StringHash, std::equal_to<>> bots_;
};

}  // namespace keyledger::projections
