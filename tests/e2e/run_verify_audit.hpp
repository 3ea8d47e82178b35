// Runs tools/verify-audit — the auditor's own checker, Python's standard library and openssl
// only — as an auditor would, for the end-to-end tests of proofs and checkpoints.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "support/temp_dir.hpp"

namespace keyledger::testing {

// tools/verify-audit with `args`: its exit status, and what it printed in `out` (its output
// goes through a file in `dir`).
inline int verify_audit(const TempDir& dir, const std::string& args, std::string* out) {
  const std::string log = dir.path() + "/verify-audit.out";
  const int status = std::system(
      (std::string("python3 ") + KEYLEDGER_SOURCE_DIR + "/tools/verify-audit " + args + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  *out = std::string(std::istreambuf_iterator<char>(in), {});
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace keyledger::testing
