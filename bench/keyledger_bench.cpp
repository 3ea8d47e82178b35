// The in-process parts of tools/bench: each subcommand does one measurement or one setup
// step and prints one JSON object on stdout. tools/bench (bench/run_bench.py) drives them,
// together with wrk, nginx, Kafka's producer perf tool and the keyledger server itself.
//
//   verify-inprocess --keys N --seconds S
//       Verifications per second on one thread over N live keys of every channel, through
//       VerifyIndex (format and checksum, keyed HMAC fingerprint, lookup, restrictions).
//   fsync-baseline --dir DIR --seconds S
//       The raw rate of 4 KiB write + fdatasync in DIR: the file log's baseline.
//   seed --store URL --master-key-file F --operator-token T --dashboards D --email-keys N
//        [--all-channels] [--keys-out FILE] [--tokens-out FILE]
//       Fills a store through the real API handlers (Application::handle, no sockets): D
//       dashboards with an admin each, N Email keys per dashboard, and with --all-channels
//       also 3 WhatsApp keys, 10 SMS numbers and the RCS key revealed. Writes the keys (one
//       per line; the bench's own throwaway keys, in its temporary directory) and the admin
//       session tokens (one "dashboard_id token" per line) when asked.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/application.hpp"
#include "domain/key_format.hpp"
#include "domain/validation.hpp"
#include "crypto/crypto.hpp"
#include "eventstore/store.hpp"
#include "projections/verify_index.hpp"

namespace {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;
namespace crypto = keyledger::crypto;
namespace pj = keyledger::projections;
using Clock = std::chrono::steady_clock;

struct Args {
  std::map<std::string, std::string> values;
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  std::string required(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) throw std::runtime_error("--" + name + " is required");
    return it->second;
  }
  std::uint64_t number(const std::string& name, std::uint64_t fallback) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : std::stoull(it->second);
  }
  bool flag(const std::string& name) const { return values.contains(name); }
};

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) throw std::runtime_error("unexpected argument " + name);
    name = name.substr(2);
    if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      args.values[name] = argv[++i];
    } else {
      args.values[name] = "";
    }
  }
  return args;
}

std::string random_key(kd::Channel channel, std::mt19937_64& rng) {
  std::array<std::uint8_t, kd::kKeyRandomLength> digits;
  for (auto& d : digits) d = static_cast<std::uint8_t>(rng() % 62);
  return kd::format_key(channel, digits);
}

// One thread, no HTTP: the verify route's work minus JSON parsing.
int verify_inprocess(const Args& args) {
  const std::uint64_t count = args.number("keys", 1'000'000);
  const double seconds = static_cast<double>(args.number("seconds", 5));
  std::mt19937_64 rng(42);
  std::string pepper = crypto::random_bytes(32);
  pj::VerifyIndex index(pepper);
  crypto::HmacSha256Key fingerprinter(pepper);

  // A mix like the platform's: mostly Email keys (some with IP allowlists and limited
  // permissions), then SMS keys bound to numbers, WhatsApp keys and RCS keys.
  // Ids as the API makes them (prefix and 20 hex digits). The presented keys sit in one
  // buffer read in order (as a request arrives in a fresh network buffer), while the keys
  // they name are spread at random over the index.
  auto id_of = [](std::string_view prefix, std::uint64_t n) {
    char hex[21];
    std::snprintf(hex, sizeof hex, "%020llx", static_cast<unsigned long long>(n * 0x9E3779B97F4A7C15ull));
    return std::string(prefix) + hex;
  };
  std::vector<std::string> keys;
  keys.reserve(count);
  auto built = Clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    kd::Channel channel = i % 10 < 7 ? kd::Channel::email
                          : i % 10 == 7 ? kd::Channel::sms
                          : i % 10 == 8 ? kd::Channel::whatsapp
                                        : kd::Channel::rcs;
    kd::ApiKey key;
    key.channel = channel;
    std::string secret = random_key(channel, rng);
    key.fingerprint = fingerprinter.mac(secret);
    if (channel == kd::Channel::email) {
      key.permissions = i % 3 == 0 ? kd::permission_bits(std::vector<std::string>{"mail.send", "webhooks.manage"})
                                   : kd::kAllPermissions;
      if (i % 10 == 1) key.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
    }
    if (channel == kd::Channel::sms) key.name = "+1555" + std::to_string(1000000 + i);
    index.refresh_key(id_of("dsh_", i / 1000), id_of("key_", i), key);
    keys.push_back(std::move(secret));
  }
  double build_seconds = std::chrono::duration<double>(Clock::now() - built).count();
  std::shuffle(keys.begin(), keys.end(), rng);
  std::string presented;
  presented.reserve(count * kd::kKeyLength);
  for (auto& k : keys) presented += k;
  keys.clear();
  keys.shrink_to_fit();

  auto source_ip = kd::parse_ip_address("10.1.2.3").value();
  kd::Timestamp now{std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch())};
  std::uint64_t done = 0, valid = 0;
  auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (std::size_t j = 0; j < 4096; ++j) {
      std::string_view key(presented.data() + (done % count) * kd::kKeyLength, kd::kKeyLength);
      pj::VerifyRequest request{key, source_ip, std::nullopt, std::nullopt, std::nullopt};
      if (index.verify(request, now).reason == pj::VerifyReason::valid) ++valid;
      ++done;
    }
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  // The baseline: the same loop doing nothing but the keyed HMAC of each presented key.
  std::uint64_t macs = 0;
  unsigned char sink = 0;
  auto mac_start = Clock::now();
  double mac_elapsed = 0;
  while (mac_elapsed < seconds / 2) {
    for (std::size_t j = 0; j < 4096; ++j) {
      std::string_view key(presented.data() + (macs % count) * kd::kKeyLength, kd::kKeyLength);
      sink ^= fingerprinter.mac(key)[0];
      ++macs;
    }
    mac_elapsed = std::chrono::duration<double>(Clock::now() - mac_start).count();
  }
  if (valid != done) {
    std::cerr << "verify-inprocess: " << done - valid << " of " << done << " verifications were not valid\n";
    return 1;
  }
  std::cout << json{{"keys", count},
                    {"verifications", done},
                    {"seconds", elapsed},
                    {"per_second", static_cast<double>(done) / elapsed},
                    {"index_build_seconds", build_seconds},
                    {"hmac_per_second", static_cast<double>(macs) / mac_elapsed},
                    {"hmac_sink", sink}}
                   .dump()
            << "\n";
  return 0;
}

int fsync_baseline(const Args& args) {
  std::string path = args.required("dir") + "/fsync-baseline.bin";
  const double seconds = static_cast<double>(args.number("seconds", 5));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::string block(4096, 'x');
  std::uint64_t syncs = 0;
  auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      ::close(fd);
      throw std::runtime_error("write or fdatasync failed in " + path);
    }
    ++syncs;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::cout << json{{"syncs", syncs}, {"seconds", elapsed}, {"per_second", static_cast<double>(syncs) / elapsed}}.dump()
            << "\n";
  return 0;
}

// The API in-process: the same handlers, pipeline and log as `keyledger serve`.
class Seeder {
 public:
  Seeder(keyledger::api::Application& app, std::string operator_token)
      : app_(app), operator_token_(std::move(operator_token)) {}

  json call(const std::string& method, const std::string& target, const json& body, const std::string& token,
            int expected) {
    keyledger::api::HttpRequest request{method, target, {}, body.is_null() ? "" : body.dump(), "127.0.0.1"};
    request.headers["content-type"] = "application/json";
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    auto response = app_.handle(request);
    // A 503 changed nothing and says to try again, as a client would: seeding hashes many
    // passwords at once, and on a saturated machine a Kafka commit can outlast a command's
    // timeout (docs/performance.md, "nice 10").
    for (int retry = 0; response.status == 503 && retry < 5; ++retry) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      response = app_.handle(request);
    }
    if (response.status != expected) {
      throw std::runtime_error(method + " " + target + " answered " + std::to_string(response.status) + ": " +
                               response.body);
    }
    return json::parse(response.body);
  }

  const std::string& operator_token() const { return operator_token_; }

 private:
  keyledger::api::Application& app_;
  std::string operator_token_;
};

int seed(const Args& args) {
  const std::uint64_t dashboards = args.number("dashboards", 64);
  const std::uint64_t email_keys = args.number("email-keys", 100);
  const bool all_channels = args.flag("all-channels");
  keyledger::api::ServeConfig config;
  config.store = args.required("store");
  config.master_key_file = args.required("master-key-file");
  config.operator_token = args.required("operator-token");
  config.session_ttl = std::chrono::hours(24);
  auto store = es::Store::open(config.store, config.master_key_file, {});
  if (!store) throw std::runtime_error(store.error());
  keyledger::api::Application app(config, *(*store)->log, *(*store)->pipeline, *(*store)->vault, *(*store)->keyring);
  if (auto recovered = (*store)->recover(); !recovered) throw std::runtime_error(recovered.error());
  app.start();
  Seeder seeder(app, config.operator_token);
  const std::string password = "bench admin password";

  std::mutex out_mutex;
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, std::string>> tokens;
  std::atomic<std::uint64_t> next{0}, commands{0};
  std::atomic<bool> failed{false};
  std::string failure;
  auto started = Clock::now();
  auto fill = [&](std::uint64_t n) {
    std::string email = "admin" + std::to_string(n) + "@bench.example";
    auto created = seeder.call("POST", "/v1/dashboards",
                               {{"name", "bench " + std::to_string(n)}, {"admin", {{"email", email}, {"password", password}}}},
                               seeder.operator_token(), 201);
    std::string d = created["id"];
    std::string path = "/v1/dashboards/" + d;
    std::string token =
        seeder.call("POST", "/v1/sessions", {{"dashboard_id", d}, {"email", email}, {"password", password}}, "", 201)["token"];
    std::vector<std::string> mine;
    std::uint64_t ran = 2;
    if (all_channels) {
      for (int w = 0; w < 3; ++w) {
        std::string id = seeder.call("POST", path + "/whatsapp/keys", {{"name", "wa " + std::to_string(w)}}, token, 201)["id"];
        mine.push_back(seeder.call("POST", path + "/whatsapp/keys/" + id + "/reveal", {{"password", password}}, token, 200)["key"]);
        ran += 2;
      }
      for (int s = 0; s < 10; ++s) {
        std::string number = "+1555" + std::to_string(n * 100 + static_cast<std::uint64_t>(s) + 1000000);
        seeder.call("POST", path + "/sms/numbers", {{"number", number}}, token, 201);
        mine.push_back(seeder.call("GET", path + "/sms/numbers/" + number + "/key", nullptr, token, 200)["key"]);
        ran += 2;
      }
      mine.push_back(seeder.call("POST", path + "/rcs/key/reveal", {{"password", password}}, token, 200)["key"]);
      ++ran;
    }
    for (std::uint64_t k = 0; k < email_keys; ++k) {
      mine.push_back(seeder.call("POST", path + "/email/keys", {{"name", "email " + std::to_string(k)}}, token, 201)["key"]);
      ++ran;
    }
    commands += ran;
    std::lock_guard lock(out_mutex);
    keys.insert(keys.end(), mine.begin(), mine.end());
    tokens.emplace_back(d, token);
  };
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < std::min<std::uint64_t>(dashboards, 64); ++t) {
    threads.emplace_back([&] {
      try {
        for (std::uint64_t n; !failed && (n = next++) < dashboards;) fill(n);
      } catch (const std::exception& e) {
        std::lock_guard lock(out_mutex);
        if (!failed.exchange(true)) failure = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error(failure);
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  if (auto path = args.get("keys-out"); !path.empty()) {
    std::ofstream out(path, std::ios::trunc);
    for (auto& k : keys) out << k << "\n";
  }
  if (auto path = args.get("tokens-out"); !path.empty()) {
    std::ofstream out(path, std::ios::trunc);
    for (auto& [d, t] : tokens) out << d << " " << t << "\n";
  }
  std::cout << json{{"dashboards", dashboards},
                    {"keys", keys.size()},
                    {"commands", commands.load()},
                    {"events", (*store)->pipeline->events()},
                    {"seconds", seconds},
                    {"commands_per_second", static_cast<double>(commands.load()) / seconds}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: keyledger-bench verify-inprocess|fsync-baseline|seed [options] (see bench/keyledger_bench.cpp)\n";
    return 2;
  }
  try {
    std::string command = argv[1];
    Args args = parse_args(argc, argv);
    if (command == "verify-inprocess") return verify_inprocess(args);
    if (command == "fsync-baseline") return fsync_baseline(args);
    if (command == "seed") return seed(args);
    std::cerr << "unknown command " << command << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "keyledger-bench: " << e.what() << "\n";
    return 1;
  }
}
