#include "fuzz_support.hpp"

#include <filesystem>
#include <system_error>

namespace keyledger::fuzz {

namespace {
std::string& scratch_root() {
  static std::string root;
  return root;
}
void remove_scratch() {
  std::error_code ignored;
  std::filesystem::remove_all(scratch_root(), ignored);
}
}  // namespace

std::string scratch_directory(const char* name) {
  std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
  std::string pattern = base + "/keyledger-fuzz-" + name + "-XXXXXX";
  if (!::mkdtemp(pattern.data())) fail("cannot create a scratch directory under " + base);
  scratch_root() = pattern;
  std::atexit(remove_scratch);
  return pattern;
}

}  // namespace keyledger::fuzz
