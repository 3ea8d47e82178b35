#include "verify_index.hpp"

#include <algorithm>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "domain/key_format.hpp"
#include "domain/validation.hpp"

namespace keyledger::projections {

namespace {

std::uint16_t permission_bits(const std::vector<std::string>& permissions) {
  if (permissions.size() == 1 && permissions[0] == "all") return 0xffff;
  auto catalogue = domain::email_permission_catalogue();
  std::uint16_t bits = 0;
  for (auto& p : permissions) {
    auto it = std::find(catalogue.begin(), catalogue.end(), p);
    if (it != catalogue.end()) bits |= static_cast<std::uint16_t>(1u << (it - catalogue.begin()));
  }
  return bits;
}

// Constant-time equality of two fingerprints: no early exit on the first differing byte.
bool same_fingerprint(const Fingerprint& a, const Fingerprint& b) {
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

template <class T>
HugePageArray<T>::HugePageArray(std::size_t count) : size_(count) {
  constexpr std::size_t kHugePage = 2u << 20;
  std::size_t bytes = (count * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
  void* memory = std::aligned_alloc(kHugePage, bytes);
  if (!memory) throw std::bad_alloc();
  ::madvise(memory, bytes, MADV_HUGEPAGE);  // advice only: without it, plain pages
  data_ = static_cast<T*>(memory);
  for (std::size_t i = 0; i < count; ++i) new (data_ + i) T();
}

template <class T>
HugePageArray<T>::~HugePageArray() {
  for (std::size_t i = 0; i < size_; ++i) data_[i].~T();
  std::free(data_);
}

std::string_view to_string(VerifyReason reason) {
  switch (reason) {
    case VerifyReason::valid: return "valid";
    case VerifyReason::unknown_key: return "unknown_key";
    case VerifyReason::malformed_key: return "malformed_key";
    case VerifyReason::revoked: return "revoked";
    case VerifyReason::expired: return "expired";
    case VerifyReason::ip_not_allowed: return "ip_not_allowed";
    case VerifyReason::permission_denied: return "permission_denied";
    case VerifyReason::wrong_number: return "wrong_number";
    case VerifyReason::unknown_bot: return "unknown_bot";
  }
  return "unknown";
}

std::optional<Fingerprint> parse_fingerprint(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Fingerprint out{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

void VerifyIndex::Key::set_ids(const std::string& dashboard, const std::string& key) {
  if (dashboard.size() <= kInlineId && key.size() <= kInlineId) {
    dashboard_id_size = static_cast<std::uint8_t>(dashboard.size());
    key_id_size = static_cast<std::uint8_t>(key.size());
    std::memcpy(inline_dashboard_id, dashboard.data(), dashboard.size());
    std::memcpy(inline_key_id, key.data(), key.size());
    long_ids.reset();
  } else {
    dashboard_id_size = key_id_size = 0xff;
    long_ids = std::make_unique<std::pair<std::string, std::string>>(dashboard, key);
  }
}

std::string_view VerifyIndex::Key::dashboard_view() const {
  return long_ids ? std::string_view(long_ids->first) : std::string_view(inline_dashboard_id, dashboard_id_size);
}

std::string_view VerifyIndex::Key::key_view() const {
  return long_ids ? std::string_view(long_ids->second) : std::string_view(inline_key_id, key_id_size);
}

std::uint64_t VerifyIndex::tag_of(const Fingerprint& f) {
  std::uint64_t tag;
  std::memcpy(&tag, f.data(), sizeof tag);
  return tag;
}

const VerifyIndex::Slot* VerifyIndex::find_slot(const Fingerprint& f) const {
  if (slots_.empty()) return nullptr;
  const std::size_t mask = slots_.size() - 1;
  const std::uint64_t tag = tag_of(f);
  for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.key == kEmpty) return nullptr;
    if (slot.tag == tag) {
      const Key& key = key_at(slot.key);
      const Fingerprint& stored = slot.previous ? key.previous : key.current;
      if (same_fingerprint(stored, f)) return &slot;
    }
  }
}

void VerifyIndex::grow() {
  HugePageArray<Slot> old(std::max<std::size_t>(1024, slots_.size() * 2));
  old.swap(slots_);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t j = 0; j < old.size(); ++j) {
    const Slot& slot = old[j];
    if (slot.key == kEmpty) continue;
    std::size_t i = slot.tag & mask;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void VerifyIndex::insert_secret(const Fingerprint& f, std::uint32_t key, bool previous) {
  if ((secret_count_ + 1) * 2 > slots_.size()) grow();
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = tag_of(f) & mask;
  while (slots_[i].key != kEmpty) i = (i + 1) & mask;
  slots_[i] = Slot{tag_of(f), key, previous ? 1u : 0u};
  ++secret_count_;
}

// Backward-shift deletion: every entry after the hole that would be found from its home
// slot through the hole moves into it, so probe chains stay unbroken.
void VerifyIndex::erase_secret(const Fingerprint& f) {
  const Slot* found = find_slot(f);
  if (!found) return;
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = static_cast<std::size_t>(found - slots_.data());
  for (std::size_t i = (hole + 1) & mask; slots_[i].key != kEmpty; i = (i + 1) & mask) {
    std::size_t home = slots_[i].tag & mask;
    // Moves when the home is not cyclically within (hole, i].
    bool home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!home_after_hole) {
      slots_[hole] = slots_[i];
      hole = i;
    }
  }
  slots_[hole] = Slot{};
  --secret_count_;
}

VerifyIndex::VerifyIndex(std::string_view fingerprint_pepper) : fingerprinter_(fingerprint_pepper) {}

VerifyResult VerifyIndex::verify(const VerifyRequest& request, domain::Timestamp now) const {
  if (!domain::parse_key(request.key)) return {VerifyReason::malformed_key, {}, {}, {}};
  const Fingerprint fingerprint = fingerprinter_.mac(request.key);
  std::shared_lock lock(mutex_);
  const Slot* found = find_slot(fingerprint);
  if (!found) return {VerifyReason::unknown_key, {}, {}, {}};
  const Key& key = key_at(found->key);
  VerifyResult result{VerifyReason::valid, std::string(key.dashboard_view()), key.channel, std::string(key.key_view())};
  auto fail = [&](VerifyReason reason) {
    result.reason = reason;
    return result;
  };
  if (key.revoked) return fail(VerifyReason::revoked);
  if (found->previous && now >= key.previous_valid_until) return fail(VerifyReason::expired);
  if (!key.allowlist.empty()) {
    if (!request.source_ip) return fail(VerifyReason::ip_not_allowed);
    bool allowed = std::any_of(key.allowlist.begin(), key.allowlist.end(),
                               [&](const domain::IpRange& r) { return r.contains(*request.source_ip); });
    if (!allowed) return fail(VerifyReason::ip_not_allowed);
  }
  if (request.permission && key.channel == domain::Channel::email) {
    auto catalogue = domain::email_permission_catalogue();
    auto it = std::find(catalogue.begin(), catalogue.end(), *request.permission);
    if (it == catalogue.end() || !(key.permissions & (1u << (it - catalogue.begin())))) {
      return fail(VerifyReason::permission_denied);
    }
  }
  if (request.number && key.channel == domain::Channel::sms && *request.number != key.number) {
    return fail(VerifyReason::wrong_number);
  }
  if (request.bot_id && key.channel == domain::Channel::rcs) {
    auto bots = bots_.find(key.dashboard_view());
    if (bots == bots_.end() || !bots->second.contains(*request.bot_id)) {
      return fail(VerifyReason::unknown_bot);
    }
  }
  key.uses.fetch_add(1, std::memory_order_relaxed);
  key.last_used_ms.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  return result;
}

void VerifyIndex::refresh_key(const std::string& dashboard_id, const domain::ApiKey& key) {
  std::vector<domain::IpRange> allowlist;
  for (auto& entry : key.ip_allowlist) {
    if (auto range = domain::parse_ip_range(entry)) allowlist.push_back(*range);
  }
  auto current = parse_fingerprint(key.current.fingerprint);
  auto previous = key.previous ? parse_fingerprint(key.previous->fingerprint) : std::nullopt;

  std::unique_lock lock(mutex_);
  auto [slot_it, inserted] = key_slots_.try_emplace(dashboard_id + "/" + key.id, key_count_);
  const std::uint32_t index = slot_it->second;
  if (inserted) {
    if ((key_count_ >> kChunkBits) == chunks_.size()) chunks_.emplace_back(std::size_t{1} << kChunkBits);
    ++key_count_;
  }
  Key& k = key_at(index);
  if (k.has_current) erase_secret(k.current);
  if (k.has_previous) erase_secret(k.previous);
  k.set_ids(dashboard_id, key.id);
  k.channel = key.channel;
  k.revoked = key.revoked;
  k.permissions = key.channel == domain::Channel::email ? permission_bits(key.permissions) : 0xffff;
  k.allowlist = std::move(allowlist);
  k.number = key.number;
  k.has_current = current.has_value();
  k.current = current.value_or(Fingerprint{});
  k.has_previous = previous.has_value();
  k.previous = previous.value_or(Fingerprint{});
  k.previous_valid_until = key.previous ? key.previous_valid_until : domain::Timestamp{};
  if (k.has_current) insert_secret(k.current, index, false);
  if (k.has_previous) insert_secret(k.previous, index, true);
}

void VerifyIndex::refresh_bots(const std::string& dashboard_id, const std::set<std::string>& bots) {
  std::unique_lock lock(mutex_);
  bots_[dashboard_id] = std::set<std::string, std::less<>>(bots.begin(), bots.end());
}

void VerifyIndex::refresh_dashboard(const domain::DashboardState& state) {
  for (auto& [id, key] : state.keys) refresh_key(state.id, key);
  refresh_bots(state.id, state.rcs_bots);
}

std::optional<VerifyIndex::Located> VerifyIndex::locate(std::string_view presented_key) const {
  if (!domain::parse_key(presented_key)) return std::nullopt;
  const Fingerprint fingerprint = fingerprinter_.mac(presented_key);
  std::shared_lock lock(mutex_);
  const Slot* found = find_slot(fingerprint);
  if (!found) return std::nullopt;
  const Key& key = key_at(found->key);
  return Located{std::string(key.dashboard_view()), std::string(key.key_view()), key.channel};
}

std::map<std::string, std::vector<VerifyIndex::Usage>> VerifyIndex::drain_usage() {
  std::map<std::string, std::vector<Usage>> drained;
  std::shared_lock lock(mutex_);
  for (std::uint32_t i = 0; i < key_count_; ++i) {
    const Key& key = key_at(i);
    std::uint64_t uses = key.uses.exchange(0, std::memory_order_relaxed);
    if (uses == 0) continue;
    domain::Timestamp last{std::chrono::milliseconds{key.last_used_ms.load(std::memory_order_relaxed)}};
    drained[std::string(key.dashboard_view())].push_back(Usage{std::string(key.key_view()), uses, last});
  }
  return drained;
}

std::string VerifyIndex::canonical_dump() const {
  std::shared_lock lock(mutex_);
  std::map<std::string, std::string> lines;  // ordered by dashboard/key, whatever the insertion order
  auto hex = [](bool present, const Fingerprint& f) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    if (present) {
      for (unsigned char c : f) {
        out += digits[c >> 4];
        out += digits[c & 15];
      }
    }
    return out;
  };
  for (std::uint32_t i = 0; i < key_count_; ++i) {
    const Key& k = key_at(i);
    std::string line = std::string(domain::to_string(k.channel)) + " revoked=" + (k.revoked ? "1" : "0") +
                       " perms=" + std::to_string(k.permissions) + " number=" + k.number + " current=" + hex(k.has_current, k.current) +
                       " previous=" + hex(k.has_previous, k.previous) + " until=" +
                       std::to_string(k.previous_valid_until.time_since_epoch().count()) + " allow=";
    for (auto& r : k.allowlist) line += r.to_string() + ",";
    lines[std::string(k.dashboard_view()) + "/" + std::string(k.key_view())] = line;
  }
  std::string out;
  for (auto& [id, line] : lines) out += id + " " + line + "\n";
  for (auto& [dashboard, bots] : bots_) {
    out += dashboard + " bots:";
    for (auto& b : bots) out += " " + b;
    out += "\n";
  }
  return out;
}

std::size_t VerifyIndex::live_secrets() const {
  std::shared_lock lock(mutex_);
  return secret_count_;
}

// The two arrays the index keeps (explicit instantiations may name private member types).
template class HugePageArray<VerifyIndex::Key>;
template class HugePageArray<VerifyIndex::Slot>;

}  // namespace keyledger::projections
