#include "dashboards.hpp"

#include "crypto/crypto.hpp"
#include "domain/validation.hpp"
#include "eventstore/password_hash.hpp"

namespace keyledger::usecases {

namespace kd = keyledger::domain;

std::string new_id(std::string_view prefix) { return std::string(prefix) + crypto::to_hex(crypto::random_id_bytes(10)); }

std::expected<domain::CreateDashboard, Problem> prepare_dashboard(
    eventstore::SecretVault& vault, const NewDashboard& dashboard,
    const std::function<bool(const std::string&)>& placeable) {
  // The policy is checked before hashing, so that the error names the field, never the value.
  if (auto valid = kd::validate_password(dashboard.password_field, dashboard.admin_password); !valid) {
    return std::unexpected(Problem{Problem::Kind::invalid_request, dashboard.password_field, valid.error().detail});
  }
  std::string id = new_id("dsh_");
  for (int draw = 1; placeable && draw < 4096 && !placeable(id); ++draw) id = new_id("dsh_");
  const std::string rcs_key_id = new_id("key_");
  auto rcs = vault.issue(kd::Channel::rcs, id, rcs_key_id, /*create_data_key=*/true);
  if (!rcs) return std::unexpected(Problem{Problem::Kind::keyring_unavailable, "", "the keyring cannot take a new data key"});
  return kd::CreateDashboard{id, dashboard.name, dashboard.admin_email,
                             eventstore::hash_password(dashboard.admin_password), rcs_key_id, rcs->sealed};
}

}  // namespace keyledger::usecases
