// Dashboard use cases shared by the HTTP API and the CLI: what a command needs prepared
// before it can run (ids, a sealed secret, a password hash), in one place. How the command
// then runs is the caller's: the API adds idempotency and metrics, the CLI runs it on the
// pipeline directly.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include "domain/commands.hpp"
#include "eventstore/secret_vault.hpp"

namespace keyledger::usecases {

// Why a use case could not prepare its command. (Refusals of the command itself come back
// in its CommandResult, as for every command.) Never holds a secret or a password.
struct Problem {
  enum class Kind { invalid_request, keyring_unavailable } kind;
  std::string field;  // for invalid_request: the input at fault
  std::string detail;
};

struct NewDashboard {
  std::string name;
  std::string admin_email;
  std::string admin_password;   // checked against the policy; only its scrypt hash goes on
  std::string password_field;   // how the caller names it in errors ("admin.password", "--admin-password")
};

// A fresh id with a type prefix ("dsh_", "key_"): 80 random bits in hex.
std::string new_id(std::string_view prefix);

// The command that creates a dashboard, its first admin and its one fixed RCS key: ids
// drawn, the password checked and hashed, the RCS secret sealed under the dashboard's new
// data key. Run it on the dashboard named by its dashboard_id.
// `placeable` says whether a new dashboard id may be used here: on a Kafka cluster, ids are
// drawn until one falls in a partition this process owns (SPEC §10), so that creation needs
// no other process (with an Idempotency-Key: in the key's partition); after 4,096 draws the
// last is used (and refused as not_owner): 1 in 8 million with 256 partitions.
std::expected<domain::CreateDashboard, Problem> prepare_dashboard(
    eventstore::SecretVault& vault, const NewDashboard& dashboard,
    const std::function<bool(const std::string&)>& placeable = nullptr);

}  // namespace keyledger::usecases
