#include "verify_index.hpp"

#include <algorithm>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <set>

#include "domain/key_format.hpp"
#include "domain/validation.hpp"

namespace keyledger::projections {

namespace {

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

std::string_view VerifyIndex::Key::key_view() const {
  return key_id_size == 0xff ? std::string_view(extras->long_key_id) : std::string_view(inline_key_id, key_id_size);
}

std::uint32_t VerifyIndex::tag_of(const Fingerprint& f) {
  std::uint32_t tag;
  std::memcpy(&tag, f.data(), sizeof tag);
  return tag;
}

const VerifyIndex::Slot* VerifyIndex::find_slot(const Fingerprint& f) const {
  if (slots_.empty()) return nullptr;
  const std::size_t mask = slots_.size() - 1;
  const std::uint32_t tag = tag_of(f);
  std::uint64_t home;
  std::memcpy(&home, f.data() + 4, sizeof home);  // the slot index from other bits than the tag
  for (std::size_t i = home & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.entry == kEmpty) return nullptr;
    if (slot.tag == tag) {
      const Key& key = key_at(slot.entry >> 1);
      const Fingerprint& stored = (slot.entry & 1) ? key.previous : key.current;
      if (same_fingerprint(stored, f)) return &slot;
    }
  }
}

namespace {
// Where a fingerprint's probe starts: bits 32..95 of it (the tag is bits 0..31).
std::size_t home_of(const Fingerprint& f, std::size_t mask) {
  std::uint64_t home;
  std::memcpy(&home, f.data() + 4, sizeof home);
  return home & mask;
}
}  // namespace

void VerifyIndex::grow() {
  HugePageArray<Slot> old(std::max<std::size_t>(1024, slots_.size() * 2));
  old.swap(slots_);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t j = 0; j < old.size(); ++j) {
    const Slot& slot = old[j];
    if (slot.entry == kEmpty) continue;
    const Key& key = key_at(slot.entry >> 1);
    std::size_t i = home_of((slot.entry & 1) ? key.previous : key.current, mask);
    while (slots_[i].entry != kEmpty) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void VerifyIndex::insert_secret(const Fingerprint& f, std::uint32_t key, bool previous) {
  if ((secret_count_ + 1) * 2 > slots_.size()) grow();
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = home_of(f, mask);
  while (slots_[i].entry != kEmpty) i = (i + 1) & mask;
  slots_[i] = Slot{tag_of(f), key << 1 | (previous ? 1u : 0u)};
  ++secret_count_;
}

// Backward-shift deletion: every entry after the hole that would be found from its home
// slot through the hole moves into it, so probe chains stay unbroken.
void VerifyIndex::erase_secret(const Fingerprint& f) {
  const Slot* found = find_slot(f);
  if (!found) return;
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = static_cast<std::size_t>(found - slots_.data());
  for (std::size_t i = (hole + 1) & mask; slots_[i].entry != kEmpty; i = (i + 1) & mask) {
    const Key& key = key_at(slots_[i].entry >> 1);
    std::size_t home = home_of((slots_[i].entry & 1) ? key.previous : key.current, mask);
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
  const Key& key = key_at(found->entry >> 1);
  VerifyResult result{VerifyReason::valid, dashboards_[key.dashboard], key.channel, std::string(key.key_view())};
  auto fail = [&](VerifyReason reason) {
    result.reason = reason;
    return result;
  };
  if (key.revoked) return fail(VerifyReason::revoked);
  if ((found->entry & 1) && now >= key.previous_valid_until) return fail(VerifyReason::expired);
  if (key.extras && !key.extras->allowlist.empty()) {
    if (!request.source_ip) return fail(VerifyReason::ip_not_allowed);
    const auto& allowlist = key.extras->allowlist;
    bool allowed = std::any_of(allowlist.begin(), allowlist.end(),
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
  if (request.number && key.channel == domain::Channel::sms &&
      (!key.extras || *request.number != key.extras->number)) {
    return fail(VerifyReason::wrong_number);
  }
  if (request.bot_id && key.channel == domain::Channel::rcs) {
    auto bots = bots_.find(dashboards_[key.dashboard]);
    if (bots == bots_.end() || !bots->second.contains(*request.bot_id)) {
      return fail(VerifyReason::unknown_bot);
    }
  }
  key.uses.fetch_add(1, std::memory_order_relaxed);
  key.last_used_ms.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  return result;
}

std::uint32_t VerifyIndex::dashboard_index(const std::string& dashboard_id) {
  auto [it, inserted] = dashboard_indexes_.try_emplace(dashboard_id, static_cast<std::uint32_t>(dashboards_.size()));
  if (inserted) dashboards_.push_back(dashboard_id);
  return it->second;
}

void VerifyIndex::refresh_key(const std::string& dashboard_id, std::string_view key_id, const domain::ApiKey& key) {
  auto extras = std::make_unique<Extras>();
  for (auto& entry : key.ip_allowlist) {
    if (auto range = domain::parse_ip_range(entry)) extras->allowlist.push_back(*range);
  }
  if (key.channel == domain::Channel::sms) extras->number = key.name;
  if (key_id.size() > Key::kInlineId) extras->long_key_id = key_id;
  if (extras->allowlist.empty() && extras->number.empty() && extras->long_key_id.empty()) extras.reset();

  std::unique_lock lock(mutex_);
  const std::uint32_t dashboard = dashboard_index(dashboard_id);
  // The key's record: the one its current secret, or else (after a rotation) its previous
  // secret, already points to; a new one otherwise.
  const Slot* found = find_slot(key.fingerprint);
  if (!found && key.has_previous) found = find_slot(key.previous);
  std::uint32_t index;
  if (found) {
    index = found->entry >> 1;
  } else {
    index = key_count_;
    if ((key_count_ >> kChunkBits) == chunks_.size()) chunks_.emplace_back(std::size_t{1} << kChunkBits);
    ++key_count_;
  }
  Key& k = key_at(index);
  if (found) {
    erase_secret(k.current);
    if (k.has_previous) erase_secret(k.previous);
  }
  k.dashboard = dashboard;
  k.channel = key.channel;
  k.revoked = key.revoked;
  k.permissions = key.channel == domain::Channel::email ? key.permissions : domain::kAllPermissions;
  k.current = key.fingerprint;
  k.has_previous = key.has_previous;
  k.previous = key.has_previous ? key.previous : Fingerprint{};
  k.previous_valid_until = key.has_previous ? key.previous_valid_until : domain::Timestamp{};
  if (key_id.size() <= Key::kInlineId) {
    k.key_id_size = static_cast<std::uint8_t>(key_id.size());
    std::memcpy(k.inline_key_id, key_id.data(), key_id.size());
  } else {
    k.key_id_size = 0xff;
  }
  k.extras = std::move(extras);
  insert_secret(k.current, index, false);
  if (k.has_previous) insert_secret(k.previous, index, true);
}

void VerifyIndex::refresh_bots(const std::string& dashboard_id, const std::set<std::string>& bots) {
  std::unique_lock lock(mutex_);
  bots_[dashboard_id] = std::set<std::string, std::less<>>(bots.begin(), bots.end());
}

void VerifyIndex::refresh_dashboard(const domain::DashboardState& state) {
  for (auto& [id, key] : state.keys) refresh_key(state.id, id, key);
  refresh_bots(state.id, state.rcs_bots);
}

std::optional<VerifyIndex::Located> VerifyIndex::locate(std::string_view presented_key) const {
  if (!domain::parse_key(presented_key)) return std::nullopt;
  const Fingerprint fingerprint = fingerprinter_.mac(presented_key);
  std::shared_lock lock(mutex_);
  const Slot* found = find_slot(fingerprint);
  if (!found) return std::nullopt;
  const Key& key = key_at(found->entry >> 1);
  return Located{dashboards_[key.dashboard], std::string(key.key_view()), key.channel};
}

std::map<std::string, std::vector<VerifyIndex::Usage>> VerifyIndex::drain_usage(
    const std::function<bool(const std::string&)>& take) {
  std::map<std::string, std::vector<Usage>> drained;
  // `take` is asked without this index's lock held (it may look at the pipeline's state,
  // whose folds take this lock under their own).
  std::set<std::uint32_t> taken;  // dashboard indexes
  if (take) {
    std::map<std::uint32_t, std::string> used;
    {
      std::shared_lock lock(mutex_);
      for (std::uint32_t i = 0; i < key_count_; ++i) {
        const Key& key = key_at(i);
        if (key.uses.load(std::memory_order_relaxed) != 0) used.try_emplace(key.dashboard, dashboards_[key.dashboard]);
      }
    }
    for (const auto& [index, dashboard] : used) {
      if (take(dashboard)) taken.insert(index);
    }
  }
  std::shared_lock lock(mutex_);
  for (std::uint32_t i = 0; i < key_count_; ++i) {
    const Key& key = key_at(i);
    if (take && !taken.contains(key.dashboard)) continue;
    std::uint64_t uses = key.uses.exchange(0, std::memory_order_relaxed);
    if (uses == 0) continue;
    domain::Timestamp last{std::chrono::milliseconds{key.last_used_ms.load(std::memory_order_relaxed)}};
    drained[dashboards_[key.dashboard]].push_back(Usage{std::string(key.key_view()), uses, last});
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
                       " perms=" + std::to_string(k.permissions) + " number=" + (k.extras ? k.extras->number : "") +
                       " current=" + hex(true, k.current) +
                       " previous=" + hex(k.has_previous, k.previous) + " until=" +
                       std::to_string(k.previous_valid_until.time_since_epoch().count()) + " allow=";
    if (k.extras) {
      for (auto& r : k.extras->allowlist) line += r.to_string() + ",";
    }
    lines[dashboards_[k.dashboard] + "/" + std::string(k.key_view())] = line;
  }
  std::string out;
  for (auto& [id, line] : lines) out += id + " " + line + "\n";
  std::map<std::string_view, const std::set<std::string, std::less<>>*> by_dashboard;  // not the hash order
  for (auto& [dashboard, bots] : bots_) by_dashboard.emplace(dashboard, &bots);
  for (auto& [dashboard, bots] : by_dashboard) {
    out += std::string(dashboard) + " bots:";
    for (auto& b : *bots) out += " " + b;
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
