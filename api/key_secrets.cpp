#include "key_secrets.hpp"

#include "eventstore/envelope.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/store_error.hpp"
#include "key_views.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

Expected<es::IssuedSecret> KeySecrets::issue(kd::Channel channel, const std::string& dashboard_id,
                                             const std::string& key_id) {
  auto issued = vault_.issue(channel, dashboard_id, key_id);
  if (issued) return std::move(*issued);
  bool open_dashboard = false;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) { open_dashboard = !v.state.closed; });
  if (open_dashboard) {
    return std::unexpected(ApiError{503, "keyring_unavailable", "the keyring cannot seal a new secret right now", "", {}});
  }
  return es::IssuedSecret{};
}

Expected<std::string> KeySecrets::open(const std::string& dashboard_id, const std::string& key_id,
                                       const kd::SealedSecret& sealed) {
  auto plain = vault_.open(dashboard_id, key_id, sealed);
  if (plain) return *plain;
  if (plain.error() == es::StoreErrc::data_key_destroyed) {
    return std::unexpected(ApiError{409, "dashboard_closed", "the dashboard was closed and its secrets destroyed", "", {}});
  }
  return std::unexpected(ApiError{503, "keyring_unavailable", "the secret cannot be decrypted right now", "", {}});
}

Expected<std::string> KeySecrets::plaintext_of(const std::string& dashboard_id, const std::string& key_id,
                                               const kd::SealedSecret& recorded, const es::IssuedSecret& issued) {
  if (!issued.plaintext.empty() && recorded == issued.sealed) return issued.plaintext;
  return open(dashboard_id, key_id, recorded);
}

// The current secret's sealed bytes are in the event that recorded it: found by its
// sequence in the audit index, read back from the log and checked to be that key's.
Result KeySecrets::disclose(const std::string& dashboard_id, const std::string& key_id) {
  std::uint64_t sequence = 0;
  kd::Fingerprint fingerprint{};
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    if (auto it = v.state.keys.find(key_id); it != v.state.keys.end()) {
      sequence = it->second.secret_sequence;
      fingerprint = it->second.fingerprint;
    }
  });
  std::optional<es::Envelope> recorded;
  if (auto entry = audit_index_.at(dashboard_id, sequence)) {
    if (auto decoded = es::decode_envelope(log_.read_one(es::LogPosition{entry->partition, entry->offset}))) {
      recorded = std::move(*decoded);
    }
  }
  const kd::SealedSecret* sealed = recorded ? kd::secret_of(recorded->recorded.event) : nullptr;
  if (!sealed || sealed->fingerprint != fingerprint) {
    return std::unexpected(
        ApiError{503, "log_unavailable", "the event holding this key's secret cannot be read right now", "", {}});
  }
  KEYLEDGER_TRY(plain, open(dashboard_id, key_id, *sealed));
  return key_response(200, key_text(pipeline_, dashboard_id, key_id, &plain));
}

Expected<bool> KeySecrets::step_up_password_matches(const RequestContext& ctx) const {
  Fields body = ctx.fields();
  const auto password = body.optional_string("password");
  if (!body.ok()) return body.error();
  if (!password) return std::unexpected(invalid_request("password", "password is required to disclose a secret"));
  std::string hash;
  pipeline_.with_dashboard(ctx.param("d"), [&](const es::DashboardView& v) {
    if (const kd::User* u = v.state.user(ctx.principal.email)) hash = u->password_hash;
  });
  return !hash.empty() && es::verify_password(*password, hash);
}

}  // namespace keyledger::api
