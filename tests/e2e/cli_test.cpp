// The keyledger executable's command line: options from flags or KEYLEDGER_* variables (the
// flag wins), bad values refused by the option's name before anything starts, and help
// generated from the same declarations.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;

TEST_CASE("cli: a flag wins over its variable, and the variable over the default") {
  TempDir dir;
  // The variable alone would make serve fail (no such address); the flag overrides it.
  ServerProcess server(dir.path(), {{"KEYLEDGER_LISTEN", "not-an-address"}, {"KEYLEDGER_READ_TIMEOUT", "7"}},
                       {"--listen", "127.0.0.1:0"});
  REQUIRE(server.request("GET", "/healthz").status == 200);
}

// Exit status 2 is a refused command line: the subcommand never ran (it exits 1 on failure).
TEST_CASE("cli: a bad option value is refused by the option's name, from a flag or a variable, and nothing starts") {
  std::string out;
  REQUIRE(run_keyledger({"serve", "--read-timeout", "ten"}, &out) == 2);
  CHECK(out.find("--read-timeout takes a whole number, not 'ten'") != std::string::npos);
  REQUIRE(run_keyledger({"serve", "--workers", "-1"}, &out) == 2);
  CHECK(out.find("--workers takes a whole number") != std::string::npos);
  REQUIRE(run_keyledger({"serve"}, &out, {{"KEYLEDGER_IDLE_TIMEOUT", "1.5"}}) == 2);
  CHECK(out.find("--idle-timeout takes a whole number, not '1.5' (from KEYLEDGER_IDLE_TIMEOUT)") != std::string::npos);
  REQUIRE(run_keyledger({"serve", "--lis", "127.0.0.1:0"}, &out) == 2);  // never guessed as --listen
  CHECK(out.find("unrecognised option '--lis'") != std::string::npos);
  REQUIRE(run_keyledger({"serve", "--read-timeout"}, &out) == 2);
  CHECK(out.find("--read-timeout") != std::string::npos);
  REQUIRE(run_keyledger({"keygen", "a", "b"}, &out) == 2);
  REQUIRE(run_keyledger({"no-such-command"}, &out) == 2);
  CHECK(out.find("unknown command 'no-such-command'") != std::string::npos);
}

TEST_CASE("cli: every subcommand's help names each option's variable and default") {
  for (std::vector<std::string> command : {std::vector<std::string>{"serve"}, {"dashboard", "create"}, {"rebuild"},
                                           {"audit", "verify"}, {"keygen"}, {"scan"}}) {
    INFO(command[0]);
    std::string out;
    command.push_back("--help");
    REQUIRE(run_keyledger(command, &out) == 0);
    REQUIRE(out.rfind("usage: keyledger " + command[0], 0) == 0);
    static const std::regex option_line(R"(\n  --([a-z-]+) )");
    std::set<std::string> options;
    for (std::sregex_iterator it(out.begin(), out.end(), option_line), end; it != end; ++it) options.insert((*it)[1]);
    for (const auto& option : options) {
      std::string variable = "KEYLEDGER_";
      for (char c : option) variable += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      CHECK(out.find(variable + ":") != std::string::npos);
    }
    if (command[0] == "serve") {
      CHECK(options.size() == 27);
      CHECK(out.find("--max-staleness SECONDS (=5)") != std::string::npos);
      CHECK(out.find("--group-session-timeout SECONDS (=6)") != std::string::npos);
      CHECK(out.find("KEYLEDGER_CLUSTER_TOKEN:") != std::string::npos);
      CHECK(out.find("KEYLEDGER_ADVERTISE:") != std::string::npos);
      CHECK(out.find("KEYLEDGER_REPLICA_DIR:") != std::string::npos);
      CHECK(out.find("--read-timeout SECONDS (=10)") != std::string::npos);
    }
  }
  std::string out;
  REQUIRE(run_keyledger({"--help"}, &out) == 0);
  CHECK(out.find("keyledger audit verify") != std::string::npos);
}
