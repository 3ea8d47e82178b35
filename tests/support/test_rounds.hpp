// How many rounds a test of many rounds runs.
#pragma once

#include <algorithm>
#include <cstdlib>

namespace keyledger::testing {

// The test's own number of rounds, or fewer when KEYLEDGER_TEST_ROUNDS (a positive number)
// asks for fewer: tools/test's runs under sanitizers, where a round costs up to ten times as
// much and finding a memory error does not need all of them. Never more, never none.
inline int test_rounds(int rounds) {
  const char* asked = std::getenv("KEYLEDGER_TEST_ROUNDS");
  const int fewer = asked ? std::atoi(asked) : 0;
  return fewer > 0 ? std::min(rounds, fewer) : rounds;
}

}  // namespace keyledger::testing
