// The keyledger executable: one binary, one subcommand per operator task (SPEC §8).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "store_access.hpp"

namespace {

using keyledger::cli::Command;

const std::vector<Command>& commands() {
  namespace cli = keyledger::cli;
  static const std::vector<Command> table{
      {{"serve"}, "keyledger serve [options]",
       "Runs the HTTP API. Every option is also an environment variable; a flag wins over the variable.\n"
       "With --store kafka://..., KEYLEDGER_KAFKA_<SETTING> passes any librdkafka setting, e.g.\n"
       "KEYLEDGER_KAFKA_SECURITY_PROTOCOL=SASL_SSL for security.protocol (dots written as underscores).\n"
       "Logs are one JSON object per line on stderr. The first line once requests are accepted is\n"
       "{\"msg\":\"listening\",\"address\":...}. SIGTERM drains in-flight requests and exits 0.",
       cli::serve_options, cli::serve},
      {{"keygen"}, "keyledger keygen FILE",
       "Writes a new master key: 32 random bytes to FILE with mode 0600; never overwrites.", cli::keygen_options,
       cli::keygen},
      {{"dashboard", "create"}, "keyledger dashboard create --name NAME --admin-email EMAIL --admin-password PASSWORD",
       "Creates a dashboard, its first admin and its RCS key directly in the store (the server must not be\n"
       "running on it; with a server, use POST /v1/dashboards).",
       cli::create_dashboard_options, cli::create_dashboard},
      {{"rebuild"}, "keyledger rebuild [options]",
       "Replays the log from position 0, replaces the snapshots with one of the rebuilt state and prints\n"
       "its SHA-256 digest.",
       cli::rebuild_options, cli::rebuild},
      {{"audit", "verify"}, "keyledger audit verify [--store file:DIR] [--checkpoint FILE [--public-key HEX]]",
       "Recomputes every dashboard's hash chain from the log, read-only; prints the first broken position\n"
       "and exits 1 if any event was changed or a batch fails its checksum. With --checkpoint, also checks\n"
       "its Ed25519 signature (against --public-key when given) and that the dashboard's history still\n"
       "leads to the signed head. Run it on a stopped store, or expect the batch being written at that\n"
       "instant to look torn.",
       cli::audit_verify_options, cli::audit_verify},
      {{"backup", "verify"}, "keyledger backup verify FILE --master-key-file F",
       "Checks a backup archive without touching any store: every member against the manifest's SHA-256\n"
       "(a damaged file is named with the byte range that differs), every dashboard's hash chain and its\n"
       "head against the manifest, and that the keyring opens with the master key and the snapshot restores.\n"
       "Prints the problems and exits 1 if anything does not hold.",
       cli::backup_verify_options, cli::backup_verify},
      {{"backup"}, "keyledger backup --url URL --to FILE",
       "Saves an online backup of a running server's file store (GET /v1/backup, operator token from\n"
       "KEYLEDGER_OPERATOR_TOKEN): a tar archive of the log up to one committed position, the keyring\n"
       "(keys wrapped; never the master key), the newest snapshot and a manifest. Commands go on meanwhile.",
       cli::backup_options, cli::backup},
      {{"restore"}, "keyledger restore FILE --store file:DIR --master-key-file F [--shreds-from file:DIR]",
       "Makes DIR (absent or empty) a store that serves what the backed-up store served at the backup's\n"
       "position. The archive is verified first, beside DIR; nothing is written at DIR unless all of it\n"
       "holds. Dashboards closed by then, or in the newer log given with --shreds-from, lose their data keys.",
       cli::restore_options, cli::restore},
      {{"migrate"}, "keyledger migrate --from STORE --to STORE --master-key-file F",
       "Copies a stopped store to another backend (file:DIR to kafka://HOST:PORT/TOPIC, or back), keeping\n"
       "every event's id, sequence and hash and every keyring record. The target must be empty, or hold what\n"
       "an interrupted run left, which is resumed without copying anything twice. Afterwards every hash\n"
       "chain of the target is checked against the source's heads.",
       cli::migrate_options, cli::migrate},
      {{"scan"}, "keyledger scan PATH...",
       "Finds keyledger keys in files (recursively in directories), checks their checksums offline and\n"
       "prints file, line and the masked key. Exits 1 when it found any.",
       cli::scan_options, cli::scan},
  };
  return table;
}

void print_overview(std::ostream& out) {
  out << "usage: keyledger <command> [options]\n\n"
         "The API-key lifecycle engine for Email, SMS, RCS and WhatsApp keys.\n\ncommands:\n";
  for (const auto& command : commands()) out << "  " << command.synopsis << "\n";
  out << "\nRun `keyledger <command> --help` for a command's options and what it does.\n";
}

void print_help(std::ostream& out, const Command& command) {
  out << "usage: " << command.synopsis << "\n\n" << command.description << "\n";
  const auto options = command.options();
  if (!options.visible().options().empty()) out << "\n" << options.visible();
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = keyledger::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_overview(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  for (const auto& command : commands()) {
    if (args.size() < command.words.size() || !std::equal(command.words.begin(), command.words.end(), args.begin())) {
      continue;
    }
    std::vector<std::string> rest(args.begin() + static_cast<long>(command.words.size()), args.end());
    if (std::find_if(rest.begin(), rest.end(), [](const std::string& a) { return a == "--help" || a == "-h"; }) !=
        rest.end()) {
      print_help(std::cout, command);
      return 0;
    }
    cli::Invocation invocation;
    try {
      invocation = cli::Invocation::parse(command.options(), rest);
    } catch (const cli::po::error& e) {
      std::cerr << "keyledger " << command.words[0] << ": " << e.what() << "\n\n";
      print_help(std::cerr, command);
      return 2;
    }
    try {
      return command.run(invocation);
    } catch (const std::exception& e) {
      if (command.words[0] == "serve") {
        cli::log_line({{"level", "error"}, {"msg", "cannot serve"}, {"error", e.what()}});
      } else {
        std::cerr << "keyledger: " << e.what() << "\n";
      }
      return 1;
    }
  }
  std::cerr << "keyledger: unknown command '" << args[0] << "'\n\n";
  print_overview(std::cerr);
  return 2;
}
