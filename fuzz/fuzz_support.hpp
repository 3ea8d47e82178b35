// Shared by the libFuzzer harnesses: a property that does not hold is a crash, so libFuzzer
// saves the input that broke it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace keyledger::fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "property violated: %s\n", what.c_str());
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A fresh directory for scratch files, in RAM when /dev/shm exists; removed at exit.
std::string scratch_directory(const char* name);

}  // namespace keyledger::fuzz
