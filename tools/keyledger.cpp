// The keyledger executable: one binary, one subcommand per operator task (SPEC §8).
#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/http_server.hpp"
#include "api/routes.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: keyledger <command> [options]

The API-key lifecycle engine for Email, SMS, RCS and WhatsApp keys.

commands:
  serve      run the HTTP API (configured by KEYLEDGER_* variables or flags)

Run `keyledger <command> --help` for a command's options.
)";

constexpr std::string_view kServeUsage = R"(usage: keyledger serve [--listen HOST:PORT]

Every option is also an environment variable; a flag wins over the variable.
  --listen HOST:PORT   KEYLEDGER_LISTEN, default 127.0.0.1:8080; port 0 picks a free port
  --threads N          KEYLEDGER_THREADS, default: the number of cores (at least 2)
  --read-timeout S     KEYLEDGER_READ_TIMEOUT, default 10: seconds for a whole request
  --idle-timeout S     KEYLEDGER_IDLE_TIMEOUT, default 60: keep-alive wait between requests

The first line logged once requests are accepted is {"msg":"listening","address":...}.
SIGTERM drains in-flight requests and exits 0.
)";

// Options of one subcommand: flags "--name value" or "--name=value", falling back to the
// KEYLEDGER_NAME environment variable, then to the default.
class Options {
 public:
  static std::optional<Options> parse(const std::vector<std::string>& args,
                                      const std::vector<std::string>& known, std::string& error) {
    Options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
      std::string arg = args[i];
      if (arg.rfind("--", 0) != 0) {
        o.positional_.push_back(arg);
        continue;
      }
      std::string name = arg.substr(2), value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        error = "option --" + name + " needs a value";
        return std::nullopt;
      }
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        error = "unknown option --" + name;
        return std::nullopt;
      }
      o.flags_[name] = value;
    }
    return o;
  }

  std::string get(const std::string& name, const std::string& fallback) const {
    if (auto it = flags_.find(name); it != flags_.end()) return it->second;
    std::string env = "KEYLEDGER_";
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    if (const char* v = std::getenv(env.c_str()); v && *v) return v;
    return fallback;
  }

  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> flags_;
  std::vector<std::string> positional_;
};

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

int serve(const std::vector<std::string>& args) {
  std::string error;
  auto options = Options::parse(args, {"listen", "threads", "read-timeout", "idle-timeout"}, error);
  if (!options) {
    std::cerr << R"({"level":"error","msg":")" << json_escape(error) << "\"}\n";
    return 2;
  }
  try {
    unsigned threads = static_cast<unsigned>(
        std::stoul(options->get("threads", std::to_string(std::max(2u, std::thread::hardware_concurrency())))));
    keyledger::api::ServerLimits limits;
    limits.read_timeout = std::chrono::seconds(std::stoul(options->get("read-timeout", "10")));
    limits.idle_timeout = std::chrono::seconds(std::stoul(options->get("idle-timeout", "60")));
    keyledger::api::HttpServer server(options->get("listen", "127.0.0.1:8080"),
                                      keyledger::api::route, limits);
    std::cerr << R"({"level":"info","msg":"listening","address":")"
              << json_escape(server.local_address()) << "\"}" << std::endl;
    server.run(threads);
    std::cerr << R"({"level":"info","msg":"stopped"})" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << R"({"level":"error","msg":"cannot serve","error":")" << json_escape(e.what())
              << "\"}" << std::endl;
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  bool wants_help = !rest.empty() && (rest[0] == "--help" || rest[0] == "-h");
  if (command == "serve") {
    if (wants_help) {
      std::cout << kServeUsage;
      return 0;
    }
    return serve(rest);
  }
  std::cerr << "keyledger: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}
