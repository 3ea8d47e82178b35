#include "verify_index.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

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

std::size_t VerifyIndex::FingerprintHash::operator()(const Fingerprint& f) const noexcept {
  std::size_t h;
  std::memcpy(&h, f.data(), sizeof h);
  return h;
}

VerifyIndex::VerifyIndex(std::string_view fingerprint_pepper) : fingerprinter_(fingerprint_pepper) {}

VerifyResult VerifyIndex::verify(const VerifyRequest& request, domain::Timestamp now) const {
  if (!domain::parse_key(request.key)) return {VerifyReason::malformed_key, {}, {}, {}};
  const Fingerprint fingerprint = fingerprinter_.mac(request.key);
  std::shared_lock lock(mutex_);
  auto found = secrets_.find(fingerprint);
  if (found == secrets_.end()) return {VerifyReason::unknown_key, {}, {}, {}};
  const Key& key = keys_[found->second.key];
  const auto& stored = found->second.previous ? key.previous : key.current;
  if (!stored || !same_fingerprint(*stored, fingerprint)) return {VerifyReason::unknown_key, {}, {}, {}};
  VerifyResult result{VerifyReason::valid, key.dashboard_id, key.channel, key.key_id};
  auto fail = [&](VerifyReason reason) {
    result.reason = reason;
    return result;
  };
  if (key.revoked) return fail(VerifyReason::revoked);
  if (found->second.previous && now >= key.previous_valid_until) return fail(VerifyReason::expired);
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
    auto bots = bots_.find(key.dashboard_id);
    if (bots == bots_.end() || !bots->second.contains(std::string(*request.bot_id))) {
      return fail(VerifyReason::unknown_bot);
    }
  }
  UsageCounter& usage = usage_[found->second.key];
  usage.uses.fetch_add(1, std::memory_order_relaxed);
  usage.last_used_ms.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  return result;
}

void VerifyIndex::refresh_key(const std::string& dashboard_id, const domain::ApiKey& key) {
  Key mirrored;
  mirrored.dashboard_id = dashboard_id;
  mirrored.key_id = key.id;
  mirrored.channel = key.channel;
  mirrored.revoked = key.revoked;
  mirrored.permissions = key.channel == domain::Channel::email ? permission_bits(key.permissions) : 0xffff;
  for (auto& entry : key.ip_allowlist) {
    if (auto range = domain::parse_ip_range(entry)) mirrored.allowlist.push_back(*range);
  }
  mirrored.number = key.number;
  mirrored.current = parse_fingerprint(key.current.fingerprint);
  if (key.previous) {
    mirrored.previous = parse_fingerprint(key.previous->fingerprint);
    mirrored.previous_valid_until = key.previous_valid_until;
  }
  std::unique_lock lock(mutex_);
  auto [slot_it, inserted] =
      key_slots_.try_emplace(dashboard_id + "/" + key.id, static_cast<std::uint32_t>(keys_.size()));
  std::uint32_t slot = slot_it->second;
  if (inserted) {
    keys_.push_back(std::move(mirrored));
    usage_.emplace_back();
  } else {
    Key& old = keys_[slot];
    for (auto* f : {&old.current, &old.previous}) {
      if (*f) secrets_.erase(**f);
    }
    old = std::move(mirrored);
  }
  const Key& k = keys_[slot];
  if (k.current) secrets_[*k.current] = Secret{slot, false};
  if (k.previous) secrets_[*k.previous] = Secret{slot, true};
}

void VerifyIndex::refresh_bots(const std::string& dashboard_id, const std::set<std::string>& bots) {
  std::unique_lock lock(mutex_);
  bots_[dashboard_id] = bots;
}

void VerifyIndex::refresh_dashboard(const domain::DashboardState& state) {
  for (auto& [id, key] : state.keys) refresh_key(state.id, key);
  refresh_bots(state.id, state.rcs_bots);
}

std::optional<VerifyIndex::Located> VerifyIndex::locate(std::string_view presented_key) const {
  if (!domain::parse_key(presented_key)) return std::nullopt;
  const Fingerprint fingerprint = fingerprinter_.mac(presented_key);
  std::shared_lock lock(mutex_);
  auto found = secrets_.find(fingerprint);
  if (found == secrets_.end()) return std::nullopt;
  const Key& key = keys_[found->second.key];
  return Located{key.dashboard_id, key.key_id, key.channel};
}

std::map<std::string, std::vector<VerifyIndex::Usage>> VerifyIndex::drain_usage() {
  std::map<std::string, std::vector<Usage>> drained;
  std::shared_lock lock(mutex_);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    std::uint64_t uses = usage_[i].uses.exchange(0, std::memory_order_relaxed);
    if (uses == 0) continue;
    domain::Timestamp last{std::chrono::milliseconds{usage_[i].last_used_ms.load(std::memory_order_relaxed)}};
    drained[keys_[i].dashboard_id].push_back(Usage{keys_[i].key_id, uses, last});
  }
  return drained;
}

std::string VerifyIndex::canonical_dump() const {
  std::shared_lock lock(mutex_);
  std::map<std::string, std::string> lines;  // ordered by dashboard/key, whatever the insertion order
  auto hex = [](const std::optional<Fingerprint>& f) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    if (f) {
      for (unsigned char c : *f) {
        out += digits[c >> 4];
        out += digits[c & 15];
      }
    }
    return out;
  };
  for (const auto& k : keys_) {
    std::string line = std::string(domain::to_string(k.channel)) + " revoked=" + (k.revoked ? "1" : "0") +
                       " perms=" + std::to_string(k.permissions) + " number=" + k.number + " current=" + hex(k.current) +
                       " previous=" + hex(k.previous) + " until=" +
                       std::to_string(k.previous_valid_until.time_since_epoch().count()) + " allow=";
    for (auto& r : k.allowlist) line += r.to_string() + ",";
    lines[k.dashboard_id + "/" + k.key_id] = line;
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
  return secrets_.size();
}

}  // namespace keyledger::projections
