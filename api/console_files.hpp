// The files of console/, compiled in by api/CMakeLists.txt (console_files.cpp.in).
#pragma once

#include <string_view>
#include <vector>

namespace keyledger::api {

struct ConsoleFile {
  std::string_view name;  // "index.html", "console.js", ...
  std::string_view content;
};

const std::vector<ConsoleFile>& console_files();

}  // namespace keyledger::api
