// The operator's subcommands on a store: keygen, dashboard create, rebuild, audit verify.
#include <expected>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "commands.hpp"
#include "crypto/crypto.hpp"
#include "eventstore/file_log.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/snapshot_store.hpp"
#include "projections/projector.hpp"
#include "store_access.hpp"
#include "usecases/dashboards.hpp"
#include "usecases/hash_chains.hpp"

namespace keyledger::cli {

using nlohmann::json;
namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;
namespace uc = keyledger::usecases;

OptionSet keygen_options() {
  OptionSet options;
  options.positional("file", 1);
  return options;
}

int keygen(const Invocation& invocation) {
  if (invocation.positional().size() != 1) throw std::runtime_error("usage: keyledger keygen FILE");
  const std::string& file = invocation.positional()[0];
  auto written = es::write_new_master_key(file);
  if (!written) throw std::runtime_error(written.error());
  std::cout << "wrote a new master key to " << file
            << " (mode 0600). Keep a copy somewhere safe: without it no stored secret can be read.\n";
  return 0;
}

OptionSet create_dashboard_options() {
  OptionSet options("dashboard create");
  options.text("name", "NAME", "the dashboard's name")
      .text("admin-email", "EMAIL", "its first admin")
      .text("admin-password", "PASSWORD", "the admin's password (the variable keeps it out of the process list)")
      .include(store_options());
  return options;
}

int create_dashboard(const Invocation& invocation) {
  const std::string name = invocation.text("name"), email = invocation.text("admin-email");
  const std::string password = invocation.text("admin-password");
  if (name.empty() || email.empty() || password.empty()) {
    throw std::runtime_error("--name, --admin-email and --admin-password (or KEYLEDGER_ADMIN_PASSWORD) are required");
  }
  auto store = open_store(invocation);
  projections::Projector read_models(store->keyring->store_keys().fingerprint_pepper);
  read_models.attach(*store->pipeline);  // so that its snapshots are the server's
  recover(*store, "replaying the log");
  auto command = uc::prepare_dashboard(*store->vault, {name, email, password, "--admin-password"});
  if (!command) throw std::runtime_error(command.error().detail);
  const std::string id = command->dashboard_id;
  auto result = store->pipeline->execute(id, std::move(*command),
                                         {{kd::ActorKind::platform_operator, "operator", "127.0.0.1"}, "cli", "", ""});
  if (result.log_error) throw std::runtime_error("the log refused the dashboard: " + result.log_error.message());
  if (result.outcome.rejection) throw std::runtime_error(result.outcome.rejection->detail);
  std::cout << json{{"id", id}, {"name", name}, {"admin", email}}.dump() << "\n";
  return 0;
}

OptionSet rebuild_options() { return store_options(); }

int rebuild(const Invocation& invocation) {
  auto store = open_store(invocation, /*use_snapshots=*/false);
  projections::Projector read_models(store->keyring->store_keys().fingerprint_pepper);
  read_models.attach(*store->pipeline);
  recover(*store, "rebuilding from position 0");
  if (store->snapshots_supported()) {
    auto written = es::write_snapshot(store->directory, *store->pipeline, 1);
    if (!written) throw std::runtime_error("cannot write the rebuilt snapshot");
  }
  std::string digest = crypto::to_hex(crypto::sha256(store->pipeline->canonical_state()));
  std::cout << json{{"events", store->pipeline->events()}, {"dashboards", store->pipeline->dashboard_ids().size()},
                    {"state_sha256", digest}}.dump()
            << "\n";
  return 0;
}

OptionSet audit_verify_options() {
  OptionSet options("audit verify");
  options.text("store", "file:DIR", "the store to check (read-only)", "file:./keyledger-data")
      .text("checkpoint", "FILE", "a checkpoint saved from GET .../audit/checkpoints/latest")
      .text("public-key", "HEX", "the key that must have signed it, from GET /v1/audit/public-key");
  return options;
}

namespace {

// A checkpoint saved from GET .../audit/checkpoints/latest, or why it is not one.
std::expected<uc::Checkpoint, std::string> read_checkpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected("cannot read " + path);
  json j = json::parse(in, nullptr, false);
  try {
    // A v1 checkpoint has no tree_size and root_hash.
    return uc::Checkpoint{j.at("dashboard_id"), j.at("sequence"),   j.at("head_hash"),
                          j.value("tree_size", std::uint64_t{0}), j.value("root_hash", std::string()),
                          j.at("signed_at"),    j.at("public_key"), j.at("signature")};
  } catch (const json::exception&) {
    return std::unexpected("not a checkpoint: " + path + " lacks one of dashboard_id, sequence, head_hash, signed_at, "
                           "public_key and signature, or has one of another type");
  }
}

json break_report(const uc::ChainBreak& b) {
  json report{{"ok", false}, {"dashboard_id", b.dashboard_id}, {"reason", b.reason}};
  if (b.position) report["position"] = b.position->offset;
  return report;
}

}  // namespace

int audit_verify(const Invocation& invocation) {
  std::string dir = file_store_directory(invocation.text("store"));
  // Read-only: an audit never repairs (truncates) what it inspects, and needs no lock.
  auto log = es::FileLog::open({dir, 64ull << 20, nullptr, /*read_only=*/true});
  if (!log) throw std::runtime_error(log.error());
  std::optional<json> broken;
  ProgressReport progress("checking the hash chains");
  const uc::LogChains chains = uc::verify_log_chains(**log, std::ref(progress));
  if (chains.broken) broken = break_report(*chains.broken);
  if (!broken && !(*log)->damage().empty()) {
    broken = json{{"ok", false}, {"position", (*log)->end(0)}, {"reason", (*log)->damage()}};
  }
  if (!broken && invocation.has("checkpoint")) {
    auto checkpoint = read_checkpoint(invocation.text("checkpoint"));
    if (!checkpoint) {
      broken = json{{"ok", false}, {"checkpoint", false}, {"reason", checkpoint.error()}};
    } else if (auto b = uc::check_checkpoint(**log, *checkpoint, invocation.text("public-key"))) {
      broken = break_report(*b);
      if (!b->position) (*broken)["checkpoint"] = false;
    }
  }
  if (broken) {
    std::cout << broken->dump() << "\n";
    return 1;
  }
  json dashboards = json::object();
  for (auto& [d, chain] : chains.dashboards) dashboards[d] = {{"events", chain.events()}, {"head_hash", chain.head()}};
  std::cout << json{{"ok", true}, {"events", chains.events}, {"dashboards", dashboards}}.dump() << "\n";
  return 0;
}

}  // namespace keyledger::cli
