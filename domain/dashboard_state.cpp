#include "dashboard_state.hpp"

#include <algorithm>
#include <type_traits>

namespace keyledger::domain {

std::string_view to_string(KeyStatus status) {
  switch (status) {
    case KeyStatus::active: return "active";
    case KeyStatus::rotating: return "rotating";
    case KeyStatus::revoked: return "revoked";
    case KeyStatus::expired: return "expired";
  }
  return "unknown";
}

KeyStatus ApiKey::status_at(Timestamp now) const {
  if (revoked) return KeyStatus::revoked;
  if (has_previous && now < previous_valid_until) return KeyStatus::rotating;
  return KeyStatus::active;
}

std::string ApiKey::masked() const {
  SealedSecret view;
  view.mask = mask;
  return view.masked();
}

SecretMatch ApiKey::match(const Fingerprint& fingerprint, Timestamp now) const {
  if (this->fingerprint == fingerprint) return SecretMatch::current;
  if (has_previous && previous == fingerprint) {
    return now < previous_valid_until ? SecretMatch::previous_in_grace : SecretMatch::previous_expired;
  }
  return SecretMatch::none;
}

int User::failures_within_window(Timestamp now) const {
  return static_cast<int>(std::count_if(recent_failures.begin(), recent_failures.end(),
                                        [&](Timestamp t) { return now - t < kLockoutWindow; }));
}

const User* DashboardState::user(std::string_view email) const {
  auto it = users.find(std::string(email));
  return it == users.end() ? nullptr : &it->second;
}

const ApiKey* DashboardState::key(std::string_view key_id, Channel channel) const {
  auto it = keys.find(std::string(key_id));
  if (it == keys.end() || it->second.channel != channel) return nullptr;
  return &it->second;
}

std::size_t DashboardState::active_whatsapp_keys() const {
  return static_cast<std::size_t>(std::count_if(keys.begin(), keys.end(), [](const auto& entry) {
    return entry.second.channel == Channel::whatsapp && !entry.second.revoked;
  }));
}

std::size_t DashboardState::admin_count() const {
  return static_cast<std::size_t>(std::count_if(users.begin(), users.end(), [](const auto& entry) {
    return entry.second.role == Role::admin;
  }));
}

namespace {

void take_secret(ApiKey& key, const SealedSecret& secret, const RecordedEvent& recorded) {
  key.fingerprint = secret.fingerprint;
  key.mask = secret.mask;
  key.secret_sequence = recorded.sequence;
  key.secret_issued_at = recorded.occurred_at;
}

ApiKey& add_key(DashboardState& s, const std::string& id, Channel channel, std::string name,
               const SealedSecret& secret, const RecordedEvent& recorded) {
  ApiKey key;
  key.channel = channel;
  key.name = std::move(name);
  key.created_at = recorded.occurred_at;
  key.version = 1;  // the event adding it is its stream's first
  take_secret(key, secret, recorded);
  return s.keys.insert_or_assign(id, std::move(key)).first->second;
}

void rotate(DashboardState& s, const std::string& id, const SealedSecret& secret,
            Timestamp previous_valid_until, const RecordedEvent& recorded) {
  auto it = s.keys.find(id);
  if (it == s.keys.end()) return;
  it->second.has_previous = true;
  it->second.previous = it->second.fingerprint;
  it->second.previous_valid_until = previous_valid_until;
  take_secret(it->second, secret, recorded);
}

void revoke(ApiKey& key, Timestamp at) {
  if (key.revoked) return;
  key.revoked = true;
  key.revoked_at = at;
}

void revoke(DashboardState& s, const std::string& id, Timestamp at) {
  if (auto it = s.keys.find(id); it != s.keys.end()) revoke(it->second, at);
}

void record_wrong_password(DashboardState& s, const std::string& email, Timestamp at) {
  auto it = s.users.find(email);
  if (it == s.users.end()) return;
  auto& failures = it->second.recent_failures;
  std::erase_if(failures, [&](Timestamp t) { return at - t >= kLockoutWindow; });
  failures.push_back(at);
}

}  // namespace

void evolve(DashboardState& s, const RecordedEvent& recorded) {
  const Timestamp at = recorded.occurred_at;
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, DashboardCreated>) {
          s.exists = true;
          s.id = e.dashboard_id;
          s.name = e.name;
          s.created_at = at;
        } else if constexpr (std::is_same_v<E, DashboardClosed>) {
          s.closed = true;
          for (auto& [id, key] : s.keys) revoke(key, at);
        } else if constexpr (std::is_same_v<E, UserAdded>) {
          s.users.insert_or_assign(e.email, User{e.email, e.role, e.password_hash, {}, {}});
        } else if constexpr (std::is_same_v<E, UserRemoved>) {
          s.users.erase(e.email);
        } else if constexpr (std::is_same_v<E, UserLoggedIn>) {
          // A correct password does not forgive earlier failures inside the window:
          // otherwise an attacker who knows one password could reset someone's count.
        } else if constexpr (std::is_same_v<E, UserLoginFailed>) {
          if (e.code == RejectionCode::password_incorrect) record_wrong_password(s, e.email, at);
        } else if constexpr (std::is_same_v<E, UserLockedOut>) {
          auto it = s.users.find(e.email);
          if (it != s.users.end()) {
            it->second.locked_until = e.until;
            it->second.recent_failures.clear();
          }
        } else if constexpr (std::is_same_v<E, EmailKeyGenerated>) {
          ApiKey& key = add_key(s, e.key_id, Channel::email, e.name, e.secret, recorded);
          key.permissions = permission_bits(e.permissions);
          key.ip_allowlist = e.ip_allowlist;
        } else if constexpr (std::is_same_v<E, EmailKeyRestrictionsChanged>) {
          auto it = s.keys.find(e.key_id);
          if (it != s.keys.end()) {
            it->second.name = e.name;
            it->second.permissions = permission_bits(e.permissions);
            it->second.ip_allowlist = e.ip_allowlist;
          }
        } else if constexpr (std::is_same_v<E, EmailKeyRotated> ||
                             std::is_same_v<E, WhatsAppKeyRotated>) {
          rotate(s, e.key_id, e.secret, e.previous_valid_until, recorded);
        } else if constexpr (std::is_same_v<E, EmailKeyRevoked> ||
                             std::is_same_v<E, WhatsAppKeyRevoked>) {
          revoke(s, e.key_id, at);
        } else if constexpr (std::is_same_v<E, WhatsAppKeyGenerated>) {
          add_key(s, e.key_id, Channel::whatsapp, e.name, e.secret, recorded);
        } else if constexpr (std::is_same_v<E, SmsNumberRegistered>) {
          s.numbers.insert_or_assign(e.number, SmsNumber{e.number, {}, at});
        } else if constexpr (std::is_same_v<E, SmsKeyAssigned>) {
          add_key(s, e.key_id, Channel::sms, e.number, e.secret, recorded);
          s.numbers[e.number].key_id = e.key_id;
        } else if constexpr (std::is_same_v<E, SmsKeyRotated> ||
                             std::is_same_v<E, RcsKeyReissued>) {
          rotate(s, e.key_id, e.secret, at, recorded);  // grace ends now: the old secret is dead
        } else if constexpr (std::is_same_v<E, SmsNumberDeregistered>) {
          revoke(s, e.key_id, at);
          s.numbers.erase(e.number);
        } else if constexpr (std::is_same_v<E, RcsKeyProvisioned>) {
          add_key(s, e.key_id, Channel::rcs, "RCS key", e.secret, recorded);
          s.rcs_key_id = e.key_id;
        } else if constexpr (std::is_same_v<E, RcsBotRegistered>) {
          s.rcs_bots.insert(e.bot_id);
        } else if constexpr (std::is_same_v<E, RcsBotRemoved>) {
          s.rcs_bots.erase(e.bot_id);
        } else if constexpr (std::is_same_v<E, AuditCheckpointSigned>) {
          s.last_checkpoint = e;
        } else if constexpr (std::is_same_v<E, KeyUsageRecorded>) {
          for (const auto& entry : e.keys) {
            auto it = s.keys.find(entry.key_id);
            if (it == s.keys.end()) continue;
            it->second.uses += entry.uses;
            if (!it->second.last_used_at || *it->second.last_used_at < entry.last_used_at) {
              it->second.last_used_at = entry.last_used_at;
            }
          }
        } else if constexpr (std::is_same_v<E, DataKeyRewrapped>) {
          s.data_key_master = e.master_key_id;
        } else if constexpr (std::is_same_v<E, CommandDenied>) {
          if (e.code == RejectionCode::password_incorrect &&
              recorded.actor.kind == ActorKind::user) {
            record_wrong_password(s, recorded.actor.id, at);
          }
        } else {
          // Disclosures (…Revealed, SmsKeyViewed) and leak reports change no decider state;
          // leak responses arrive as their own revocation or rotation events.
          static_assert(std::is_same_v<E, EmailKeyRevealed> ||
                        std::is_same_v<E, WhatsAppKeyRevealed> ||
                        std::is_same_v<E, SmsKeyViewed> || std::is_same_v<E, RcsKeyRevealed> ||
                        std::is_same_v<E, KeyLeakReported>);
        }
      },
      recorded.event);
  // Every other event naming a key is one more in that key's stream.
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        constexpr bool adds_key = std::is_same_v<E, EmailKeyGenerated> || std::is_same_v<E, WhatsAppKeyGenerated> ||
                                  std::is_same_v<E, SmsKeyAssigned> || std::is_same_v<E, RcsKeyProvisioned>;
        if constexpr (requires { e.key_id; } && !adds_key) {
          if (auto it = s.keys.find(e.key_id); it != s.keys.end()) ++it->second.version;
        }
      },
      recorded.event);
}

}  // namespace keyledger::domain
