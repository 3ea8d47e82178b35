// Waiting on observable state with a bound, for tests that would otherwise wait on time.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace keyledger::testing {

// Polls `condition` until it holds or `bound` passes; whether it held. `every` is how often
// it looks: the pause only paces the polling, the outcome is the condition's.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = std::chrono::seconds(10),
                       std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace keyledger::testing
