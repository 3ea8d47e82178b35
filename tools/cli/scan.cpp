// `keyledger scan`: finds keyledger keys in files, offline.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <stdexcept>

#include "commands.hpp"
#include "domain/key_format.hpp"

namespace keyledger::cli {

namespace kd = keyledger::domain;

OptionSet scan_options() {
  OptionSet options;
  options.positional("path", -1);
  return options;
}

int scan(const Invocation& invocation) {
  if (invocation.positional().empty()) throw std::runtime_error("usage: keyledger scan PATH...");
  static const std::regex candidate("kl[ewsr]_[0-9A-Za-z]{36}");
  std::size_t found = 0;
  auto scan_file = [&](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      for (std::sregex_iterator it(line.begin(), line.end(), candidate), end; it != end; ++it) {
        std::string key = it->str();
        auto channel = kd::parse_key(key);
        if (!channel) continue;  // right shape, wrong checksum: noise
        ++found;
        std::cout << path.string() << ":" << number << ": " << kd::to_string(*channel) << " key "
                  << kd::mask_key(key) << "\n";
      }
    }
  };
  for (auto& p : invocation.positional()) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto& entry : std::filesystem::recursive_directory_iterator(
               p, std::filesystem::directory_options::skip_permission_denied, ec)) {
        if (entry.is_regular_file()) scan_file(entry.path());
      }
    } else if (std::filesystem::is_regular_file(p, ec)) {
      scan_file(p);
    } else {
      throw std::runtime_error("no such file or directory: " + p);
    }
  }
  std::cerr << found << (found == 1 ? " key" : " keys") << " found\n";
  return found == 0 ? 0 : 1;
}

}  // namespace keyledger::cli
