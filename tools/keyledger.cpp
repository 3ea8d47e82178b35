// The keyledger executable: one binary, one subcommand per operator task (SPEC §8).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <unistd.h>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/application.hpp"
#include "api/http_server.hpp"
#include "domain/key_format.hpp"
#include "domain/validation.hpp"
#include "crypto/crypto.hpp"
#include "eventstore/envelope.hpp"
#include "eventstore/file_log.hpp"
#include "eventstore/store.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/snapshot_store.hpp"
#include "projections/projector.hpp"
#include "usecases/dashboards.hpp"
#include "usecases/hash_chains.hpp"

namespace {

using nlohmann::json;
namespace es = keyledger::eventstore;
namespace crypto = keyledger::crypto;
namespace kd = keyledger::domain;

constexpr std::string_view kUsage = R"(usage: keyledger <command> [options]

The API-key lifecycle engine for Email, SMS, RCS and WhatsApp keys.

commands:
  serve              run the HTTP API (configured by KEYLEDGER_* variables or flags)
  keygen FILE        write a new master key file (32 random bytes, mode 0600)
  dashboard create   create a dashboard from the shell (the operator's bootstrap)
  rebuild            rebuild the state and read models from log position 0
  audit verify       recompute every dashboard's hash chain; exit 1 at the first break
  scan PATH...       find keyledger keys in files and check their checksums offline

Run `keyledger <command> --help` for a command's options.
)";

constexpr std::string_view kStoreOptions = R"(  --store file:DIR          KEYLEDGER_STORE, default file:./keyledger-data
  --master-key-file FILE    KEYLEDGER_MASTER_KEY_FILE (required; see `keyledger keygen`)
)";

constexpr std::string_view kServeUsage = R"(usage: keyledger serve [options]

Every option is also an environment variable; a flag wins over the variable.
  --listen HOST:PORT        KEYLEDGER_LISTEN, default 127.0.0.1:8080; port 0 picks a free port
  --store file:DIR          KEYLEDGER_STORE, default file:./keyledger-data
  --master-key-file FILE    KEYLEDGER_MASTER_KEY_FILE (required; see `keyledger keygen`)
  --operator-token TOKEN    KEYLEDGER_OPERATOR_TOKEN: bearer token of the platform operator
  --service-token TOKEN     KEYLEDGER_SERVICE_TOKEN: bearer token of the sending services
  --tls-cert FILE           KEYLEDGER_TLS_CERT  } HTTPS when both are set
  --tls-key FILE            KEYLEDGER_TLS_KEY   }
  --session-ttl SECONDS     KEYLEDGER_SESSION_TTL, default 3600
  --threads N               KEYLEDGER_THREADS, I/O threads, default: the number of cores
  --workers N               KEYLEDGER_WORKERS, threads for requests that write, default 64
  --read-timeout SECONDS    KEYLEDGER_READ_TIMEOUT, default 10: time for a whole request
  --idle-timeout SECONDS    KEYLEDGER_IDLE_TIMEOUT, default 60: keep-alive wait
  --drain-timeout SECONDS   KEYLEDGER_DRAIN_TIMEOUT, default 10: after SIGTERM, time in-flight requests
                            get to finish before the server stops regardless
  --snapshot-every N        KEYLEDGER_SNAPSHOT_EVERY, default 100000 events (file stores)
  --group-commit-us N       KEYLEDGER_GROUP_COMMIT_US, default 500: when commands are queued behind
                            one being made durable, wait up to N microseconds for more to join
                            its fsync (or Kafka transaction); a lone command never waits
  --checkpoint-every S      KEYLEDGER_CHECKPOINT_EVERY, default 3600: sign each changed dashboard's
                            chain head (Ed25519) this often
  --usage-interval S        KEYLEDGER_USAGE_INTERVAL, default 60: record verification counts per
                            key as one event per dashboard this often
  --rotation-age-days N     KEYLEDGER_ROTATION_AGE_DAYS, default 90: compliance report's rotation age

With --store kafka://HOST:PORT[,HOST:PORT]/TOPIC:
  --kafka-transactional-id ID  KEYLEDGER_KAFKA_TRANSACTIONAL_ID, default keyledger-TOPIC; a second
                            instance with the same id fences the first
  --kafka-partitions N      KEYLEDGER_KAFKA_PARTITIONS, default 3 (when the topic is created)
  --kafka-replication N     KEYLEDGER_KAFKA_REPLICATION, default 1 (when the topic is created)
  KEYLEDGER_KAFKA_<SETTING> any librdkafka setting, e.g. KEYLEDGER_KAFKA_SECURITY_PROTOCOL=SASL_SSL
                            for security.protocol (dots written as underscores)

Logs are one JSON object per line on stderr. The first line once requests are accepted is
{"msg":"listening","address":...}. SIGTERM drains in-flight requests and exits 0.
)";

void log_line(json line) { std::cerr << line.dump() + "\n" << std::flush; }

// Options of one subcommand: flags "--name value" or "--name=value", falling back to the
// KEYLEDGER_NAME environment variable, then to the default.
class Options {
 public:
  static std::optional<Options> parse(const std::vector<std::string>& args, const std::vector<std::string>& known,
                                      std::string& error) {
    Options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
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

  std::string get(const std::string& name, const std::string& fallback = "") const {
    if (auto it = flags_.find(name); it != flags_.end()) return it->second;
    std::string env = "KEYLEDGER_";
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (const char* v = std::getenv(env.c_str()); v && *v) return v;
    return fallback;
  }

  unsigned long number(const std::string& name, unsigned long fallback) const {
    std::string text = get(name, std::to_string(fallback));
    try {
      std::size_t used = 0;
      unsigned long v = std::stoul(text, &used);
      if (used == text.size()) return v;
    } catch (const std::exception&) {
    }
    throw std::runtime_error("--" + name + " must be a whole number, got '" + text + "'");
  }

  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> flags_;
  std::vector<std::string> positional_;
};

std::string file_store_directory(const std::string& store) {
  if (store.rfind("file:", 0) == 0 && store.size() > 5) return store.substr(5);
  throw std::runtime_error("this command works on a file store (file:DIR), got '" + store + "'");
}

// KEYLEDGER_KAFKA_<SETTING> variables pass librdkafka settings through, e.g.
// KEYLEDGER_KAFKA_SECURITY_PROTOCOL=SASL_SSL becomes security.protocol=SASL_SSL.
std::map<std::string, std::string> kafka_settings_from_environment() {
  std::map<std::string, std::string> settings;
  const std::set<std::string> ours{"KEYLEDGER_KAFKA_TRANSACTIONAL_ID", "KEYLEDGER_KAFKA_PARTITIONS",
                                   "KEYLEDGER_KAFKA_REPLICATION"};
  for (char** env = environ; *env; ++env) {
    std::string entry(*env);
    auto eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    if (name.rfind("KEYLEDGER_KAFKA_", 0) != 0 || ours.contains(name)) continue;
    std::string key = name.substr(16);
    for (auto& c : key) c = c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    settings[key] = entry.substr(eq + 1);
  }
  return settings;
}

std::unique_ptr<es::Store> open_store(const Options& options, bool use_snapshots = true) {
  es::StoreOptions store_options;
  store_options.use_snapshots = use_snapshots;
  store_options.kafka_settings = kafka_settings_from_environment();
  store_options.kafka_transactional_id = options.get("kafka-transactional-id");
  store_options.kafka_partitions = static_cast<int>(options.number("kafka-partitions", 3));
  store_options.kafka_replication = static_cast<int>(options.number("kafka-replication", 1));
  store_options.group_commit_window = std::chrono::microseconds(options.number("group-commit-us", 500));
  store_options.report = [](const std::string& note) { log_line({{"level", "warn"}, {"msg", "store"}, {"detail", note}}); };
  auto store = es::Store::open(options.get("store", "file:./keyledger-data"), options.get("master-key-file"), store_options);
  if (!store) throw std::runtime_error(store.error());
  return std::move(*store);
}

// Long work says how far it is: on a terminal one line rewritten in place, otherwise one
// JSON line every 5 s; nothing at all for work done within its first 2 s.
class ProgressReport {
 public:
  explicit ProgressReport(std::string what) : what_(std::move(what)), terminal_(::isatty(STDERR_FILENO) == 1) {}
  ~ProgressReport() {
    if (terminal_ && shown_) std::cerr << "\n";
  }
  void operator()(std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - started_).count();
    if (elapsed < 2.0 || (now < next_ && done < total)) return;
    next_ = now + (terminal_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000));
    const double rate = done / elapsed;
    const double left = rate > 0 && total > done ? (total - done) / rate : 0;
    shown_ = true;
    if (terminal_) {
      std::cerr << "\r" << what_ << ": " << done << " of " << total << " events, " << static_cast<std::uint64_t>(rate)
                << " events/s, " << static_cast<std::uint64_t>(left) << " s left   " << std::flush;
    } else {
      log_line({{"level", "info"}, {"msg", "progress"}, {"work", what_}, {"done", done}, {"total", total},
                {"events_per_second", static_cast<std::uint64_t>(rate)}, {"seconds_left", static_cast<std::uint64_t>(left)}});
    }
  }

 private:
  std::string what_;
  bool terminal_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now(), next_{};
};

// Folds the log into the store's state and the read models attached to its pipeline.
void recover(es::Store& store, const std::string& what) {
  ProgressReport progress(what);
  auto recovered = store.recover(std::ref(progress));
  if (!recovered) throw std::runtime_error(recovered.error());
}

int serve(const Options& options) {
  // A full disk or a file size limit must surface as a write error (503), not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  keyledger::api::ServeConfig config;
  config.listen = options.get("listen", config.listen);
  config.store = options.get("store", config.store);
  config.master_key_file = options.get("master-key-file");
  config.operator_token = options.get("operator-token");
  config.service_token = options.get("service-token");
  config.tls_cert = options.get("tls-cert");
  config.tls_key = options.get("tls-key");
  config.session_ttl = std::chrono::seconds(options.number("session-ttl", 3600));
  config.threads = static_cast<unsigned>(options.number("threads", std::max(2u, std::thread::hardware_concurrency())));
  config.workers = static_cast<unsigned>(options.number("workers", 64));
  config.read_timeout = std::chrono::seconds(options.number("read-timeout", 10));
  config.idle_timeout = std::chrono::seconds(options.number("idle-timeout", 60));
  config.drain_timeout = std::chrono::seconds(options.number("drain-timeout", 10));
  config.snapshot_every = options.number("snapshot-every", 100000);
  config.checkpoint_every = std::chrono::seconds(options.number("checkpoint-every", 3600));
  config.usage_interval = std::chrono::seconds(options.number("usage-interval", 60));
  config.rotation_age_days = static_cast<int>(options.number("rotation-age-days", 90));
  if (config.operator_token.size() < 16 && !config.operator_token.empty()) {
    throw std::runtime_error("KEYLEDGER_OPERATOR_TOKEN must be at least 16 characters");
  }
  if (config.service_token.size() < 16 && !config.service_token.empty()) {
    throw std::runtime_error("KEYLEDGER_SERVICE_TOKEN must be at least 16 characters");
  }

  auto started = std::chrono::steady_clock::now();
  auto store = open_store(options);
  keyledger::api::Application app(config, *store->log, *store->pipeline, *store->vault, store->master_key);
  recover(*store, "replaying the log");
  log_line({{"level", "info"},
            {"msg", "log recovered"},
            {"store", config.store},
            {"events", store->pipeline->events()},
            {"snapshot_events", store->snapshot_events},
            {"replayed", store->pipeline->events() - store->snapshot_events},
            {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});

  app.start();

  keyledger::api::ServerOptions server_options;
  server_options.limits.read_timeout = config.read_timeout;
  server_options.limits.idle_timeout = config.idle_timeout;
  server_options.limits.drain_timeout = config.drain_timeout;
  server_options.answers_inline = &keyledger::api::Application::answers_without_waiting;
  server_options.inline_endpoint = app.inline_endpoint();
  server_options.open_connections = &app.metrics().open_connections();
  server_options.worker_threads = config.workers;
  server_options.tls_cert_file = config.tls_cert;
  server_options.tls_key_file = config.tls_key;
  keyledger::api::HttpServer server(config.listen, [&app](const auto& request) { return app.handle(request); },
                                    server_options);

  // Snapshots in the background, so that a restart replays at most snapshot_every events.
  std::mutex snapshot_mutex;
  std::condition_variable snapshot_cv;
  bool stopping = false;
  std::uint64_t snapshot_at = store->snapshot_events;
  auto take_snapshot = [&] {
    if (!store->snapshots_supported() || store->pipeline->events() == snapshot_at) return;
    auto began = std::chrono::steady_clock::now();
    if (auto written = es::write_snapshot(store->directory, *store->pipeline)) {
      snapshot_at = written->events;
      log_line({{"level", "info"}, {"msg", "snapshot written"}, {"events", written->events}, {"path", written->path},
                {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count()}});
    } else {
      log_line({{"level", "warn"}, {"msg", "snapshot failed"}, {"directory", store->directory}});
    }
  };
  // Background duties on one thread: snapshots, signed audit checkpoints, key usage.
  std::thread duties([&] {
    auto next_checkpoint = std::chrono::steady_clock::now() + config.checkpoint_every;
    auto next_usage = std::chrono::steady_clock::now() + config.usage_interval;
    std::unique_lock lock(snapshot_mutex);
    while (!snapshot_cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping; })) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next_usage) {
        app.record_key_usage();
        next_usage = now + config.usage_interval;
      }
      if (now >= next_checkpoint) {
        app.sign_due_checkpoints();
        next_checkpoint = now + config.checkpoint_every;
      }
      if (store->pipeline->events() - snapshot_at >= config.snapshot_every) take_snapshot();
    }
  });

  log_line({{"level", "info"},
            {"msg", "listening"},
            {"address", server.local_address()},
            {"scheme", server.tls() ? "https" : "http"}});
  server.run(config.threads);
  {
    std::lock_guard lock(snapshot_mutex);
    stopping = true;
  }
  snapshot_cv.notify_all();
  duties.join();
  app.record_key_usage();  // the last interval's counts are not lost at shutdown
  take_snapshot();
  log_line({{"level", "info"}, {"msg", "stopped"}});
  return 0;
}

int keygen(const Options& options) {
  if (options.positional().size() != 1) throw std::runtime_error("usage: keyledger keygen FILE");
  auto written = es::write_new_master_key(options.positional()[0]);
  if (!written) throw std::runtime_error(written.error());
  std::cout << "wrote a new master key to " << options.positional()[0]
            << " (mode 0600). Keep a copy somewhere safe: without it no stored secret can be read.\n";
  return 0;
}

int create_dashboard(const Options& options) {
  std::string name = options.get("name"), email = options.get("admin-email");
  std::string password = options.get("admin-password");
  if (name.empty() || email.empty() || password.empty()) {
    throw std::runtime_error("--name, --admin-email and --admin-password (or KEYLEDGER_ADMIN_PASSWORD) are required");
  }
  auto store = open_store(options);
  keyledger::projections::Projector read_models(store->master_key.fingerprint_pepper());
  read_models.attach(*store->pipeline);  // so that its snapshots are the server's
  recover(*store, "replaying the log");
  std::string id;
  auto result = keyledger::usecases::create_dashboard(
      *store->vault, {name, email, password, "--admin-password"}, [&](const std::string& dashboard_id, kd::Command command) {
        id = dashboard_id;
        return store->pipeline->execute(dashboard_id, std::move(command),
                                        {{kd::ActorKind::platform_operator, "operator", "127.0.0.1"}, "cli", "", ""});
      });
  if (!result) throw std::runtime_error(result.error().detail);
  if (result->log_error) throw std::runtime_error("the log refused the dashboard: " + result->log_error.message());
  if (result->outcome.rejection) throw std::runtime_error(result->outcome.rejection->detail);
  std::cout << json{{"id", id}, {"name", name}, {"admin", email}}.dump() << "\n";
  return 0;
}

int rebuild(const Options& options) {
  auto store = open_store(options, /*use_snapshots=*/false);
  keyledger::projections::Projector read_models(store->master_key.fingerprint_pepper());
  read_models.attach(*store->pipeline);
  recover(*store, "rebuilding from position 0");
  if (store->snapshots_supported()) {
    auto written = es::write_snapshot(store->directory, *store->pipeline, 1);
    if (!written) throw std::runtime_error("cannot write the rebuilt snapshot");
  }
  std::string digest = crypto::to_hex(crypto::sha256(store->pipeline->canonical_state()));
  std::cout << json{{"events", store->pipeline->events()}, {"dashboards", store->pipeline->dashboard_ids().size()},
                    {"state_sha256", digest}}.dump()
            << "\n";
  return 0;
}

// A checkpoint saved from GET .../audit/checkpoints/latest, or why it is not one.
std::expected<keyledger::usecases::Checkpoint, std::string> read_checkpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected("cannot read " + path);
  json j = json::parse(in, nullptr, false);
  try {
    return keyledger::usecases::Checkpoint{j.at("dashboard_id"), j.at("sequence"),  j.at("head_hash"),
                                           j.at("signed_at"),    j.at("public_key"), j.at("signature")};
  } catch (const json::exception&) {
    return std::unexpected("not a checkpoint: " + path + " lacks one of dashboard_id, sequence, head_hash, signed_at, "
                           "public_key and signature, or has one of another type");
  }
}

json break_report(const keyledger::usecases::ChainBreak& b) {
  json report{{"ok", false}, {"dashboard_id", b.dashboard_id}, {"reason", b.reason}};
  if (b.position) report["position"] = b.position->offset;
  return report;
}

int audit_verify(const Options& options) {
  namespace uc = keyledger::usecases;
  std::string dir = file_store_directory(options.get("store", "file:./keyledger-data"));
  // Read-only: an audit never repairs (truncates) what it inspects, and needs no lock.
  auto log = es::FileLog::open({dir, 64ull << 20, nullptr, /*read_only=*/true});
  if (!log) throw std::runtime_error(log.error());
  std::optional<json> broken;
  ProgressReport progress("checking the hash chains");
  const uc::LogChains chains = uc::verify_log_chains(**log, std::ref(progress));
  if (chains.broken) broken = break_report(*chains.broken);
  if (!broken && !(*log)->damage().empty()) {
    broken = json{{"ok", false}, {"position", (*log)->end(0)}, {"reason", (*log)->damage()}};
  }
  if (!broken && !options.get("checkpoint").empty()) {
    auto checkpoint = read_checkpoint(options.get("checkpoint"));
    if (!checkpoint) {
      broken = json{{"ok", false}, {"checkpoint", false}, {"reason", checkpoint.error()}};
    } else if (auto b = uc::check_checkpoint(**log, *checkpoint, options.get("public-key"))) {
      broken = break_report(*b);
      if (!b->position) (*broken)["checkpoint"] = false;
    }
  }
  if (broken) {
    std::cout << broken->dump() << "\n";
    return 1;
  }
  json dashboards = json::object();
  for (auto& [d, chain] : chains.dashboards) dashboards[d] = {{"events", chain.events()}, {"head_hash", chain.head()}};
  std::cout << json{{"ok", true}, {"events", chains.events}, {"dashboards", dashboards}}.dump() << "\n";
  return 0;
}

int scan(const Options& options) {
  if (options.positional().empty()) throw std::runtime_error("usage: keyledger scan PATH...");
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
  for (auto& p : options.positional()) {
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

struct Command {
  std::vector<std::string> words;
  std::string usage;
  std::vector<std::string> options;
  int (*run)(const Options&);
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table{
      {{"serve"}, std::string(kServeUsage),
       {"listen", "store", "master-key-file", "operator-token", "service-token", "tls-cert", "tls-key", "session-ttl",
        "threads", "workers", "read-timeout", "idle-timeout", "drain-timeout", "snapshot-every", "checkpoint-every",
        "usage-interval", "rotation-age-days", "group-commit-us", "kafka-transactional-id",
        "kafka-partitions", "kafka-replication"},
       serve},
      {{"keygen"}, "usage: keyledger keygen FILE\n\nWrites 32 random bytes to FILE with mode 0600; never overwrites.\n", {},
       keygen},
      {{"dashboard", "create"},
       "usage: keyledger dashboard create --name NAME --admin-email EMAIL --admin-password PASSWORD [options]\n\n"
       "Creates a dashboard, its first admin and its RCS key directly in the store (the server must not be\n"
       "running on it; with a server, use POST /v1/dashboards). The password may come from\n"
       "KEYLEDGER_ADMIN_PASSWORD instead.\n" + std::string(kStoreOptions),
       {"name", "admin-email", "admin-password", "store", "master-key-file"}, create_dashboard},
      {{"rebuild"},
       "usage: keyledger rebuild [options]\n\nReplays the log from position 0, replaces the snapshots with one of the\n"
       "rebuilt state and prints its SHA-256 digest.\n" + std::string(kStoreOptions),
       {"store", "master-key-file"}, rebuild},
      {{"audit", "verify"},
       "usage: keyledger audit verify [--store file:DIR] [--checkpoint FILE [--public-key HEX]]\n\n"
       "Recomputes every dashboard's hash chain from the log, read-only; prints the first broken\n"
       "position and exits 1 if any event was changed or a batch fails its checksum. With\n"
       "--checkpoint (a checkpoint saved from GET .../audit/checkpoints/latest), also checks its\n"
       "Ed25519 signature (against --public-key, from GET /v1/audit/public-key, when given) and that\n"
       "the dashboard's history still leads to the signed head. Run it on a stopped store, or expect\n"
       "the batch being written at that instant to look torn.\n",
       {"store", "checkpoint", "public-key"}, audit_verify},
      {{"scan"},
       "usage: keyledger scan PATH...\n\nFinds keyledger keys in files (recursively in directories), checks their checksums\n"
       "offline and prints file, line and the masked key. Exits 1 when it found any.\n",
       {}, scan},
  };
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  for (const auto& command : commands()) {
    if (args.size() < command.words.size() || !std::equal(command.words.begin(), command.words.end(), args.begin())) {
      continue;
    }
    std::vector<std::string> rest(args.begin() + static_cast<long>(command.words.size()), args.end());
    if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
      std::cout << command.usage;
      return 0;
    }
    std::string error;
    auto options = Options::parse(rest, command.options, error);
    if (!options) {
      std::cerr << "keyledger: " << error << "\n\n" << command.usage;
      return 2;
    }
    try {
      return command.run(*options);
    } catch (const std::exception& e) {
      if (command.words[0] == "serve") {
        log_line({{"level", "error"}, {"msg", "cannot serve"}, {"error", e.what()}});
      } else {
        std::cerr << "keyledger: " << e.what() << "\n";
      }
      return 1;
    }
  }
  std::cerr << "keyledger: unknown command '" << args[0] << "'\n\n" << kUsage;
  return 2;
}
