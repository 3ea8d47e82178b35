// The subcommands of the keyledger executable (SPEC §8): each declares its options and runs
// with what one invocation asked for, returning the exit status.
#pragma once

#include <string>
#include <vector>

#include "options.hpp"

namespace keyledger::cli {

struct Command {
  std::vector<std::string> words;  // {"audit", "verify"}
  std::string synopsis;            // "keyledger audit verify [options]"
  std::string description;         // what it does, for --help
  OptionSet (*options)();
  int (*run)(const Invocation&);
};

OptionSet serve_options();
int serve(const Invocation& invocation);

OptionSet keygen_options();
int keygen(const Invocation& invocation);
OptionSet create_dashboard_options();
int create_dashboard(const Invocation& invocation);
OptionSet rebuild_options();
int rebuild(const Invocation& invocation);
OptionSet audit_verify_options();
int audit_verify(const Invocation& invocation);

OptionSet backup_options();
int backup(const Invocation& invocation);
OptionSet backup_verify_options();
int backup_verify(const Invocation& invocation);
OptionSet restore_options();
int restore(const Invocation& invocation);
OptionSet migrate_options();
int migrate(const Invocation& invocation);
OptionSet scan_options();
int scan(const Invocation& invocation);

}  // namespace keyledger::cli
