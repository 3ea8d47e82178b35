#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <filesystem>
#include <mutex>
#include <thread>

#include "crypto/crypto.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/crc32c.hpp"
#include "eventstore/file_keyring.hpp"
#include "eventstore/file_log.hpp"
#include "eventstore/password_hash.hpp"
#include "eventstore/secret_vault.hpp"
#include "eventstore/snapshot_store.hpp"
#include "eventstore/store.hpp"
#include "eventstore/store_error.hpp"
#include "support/actors.hpp"
#include "support/test_store.hpp"
#include "support/temp_dir.hpp"

namespace es = keyledger::eventstore;
namespace crypto = keyledger::crypto;
namespace kd = keyledger::domain;
using keyledger::testing::TempDir;
using keyledger::testing::kAdmin;
using keyledger::testing::kOperator;
using keyledger::testing::read_bytes;
using keyledger::testing::write_bytes;

namespace {

constexpr const char* kPassword = "a long admin password";

// A real store: the file log in a temporary directory, or with KEYLEDGER_TEST_BACKEND=kafka
// a topic named after that directory on the test broker, opened as `keyledger serve` would.
struct Store {
  explicit Store(const std::string& dir, bool use_snapshots = true) : directory(dir) {
    if (!std::filesystem::exists(dir + "/master.key")) REQUIRE(es::write_new_master_key(dir + "/master.key"));
    es::StoreOptions options;
    options.use_snapshots = use_snapshots;
    auto opened = es::Store::open(keyledger::testing::test_store_url(dir), dir + "/master.key", options);
    if (!opened) FAIL(opened.error());
    store = std::move(*opened);
    options.report = [this](const std::string& note) { notes.push_back(note); };
    store->report = options.report;
    if (auto recovered = store->recover(); !recovered) FAIL(recovered.error());
    log = store->log.get();
    vault = store->vault.get();
    pipeline = store->pipeline.get();
  }

  es::CommandResult run(const std::string& dashboard, kd::Command command, kd::Actor actor = kAdmin,
                        std::string idempotency_key = "", std::string digest = "") {
    return pipeline->execute(dashboard, std::move(command), {actor, "req", idempotency_key, digest});
  }

  std::string create_dashboard(const std::string& id) {
    auto rcs = vault->issue(kd::Channel::rcs, id, "rcs-" + id, true).value();
    plaintexts.push_back(rcs.plaintext);
    auto result = run(id, kd::CreateDashboard{id, "Acme", "ada@example.com", es::hash_password(kPassword),
                                              "rcs-" + id, rcs.sealed},
                      kOperator);
    REQUIRE(result.accepted());
    return id;
  }

  // Thread-safe: concurrency tests issue secrets from several threads.
  kd::SealedSecret secret(kd::Channel channel, const std::string& dashboard, const std::string& key_id) {
    auto issued = vault->issue(channel, dashboard, key_id, true).value();
    std::lock_guard lock(plaintexts_mutex);
    plaintexts.push_back(issued.plaintext);
    return issued.sealed;
  }

  std::string directory;
  std::unique_ptr<es::Store> store;
  es::EventLog* log;
  es::SecretVault* vault;
  es::CommandPipeline* pipeline;
  std::vector<std::string> plaintexts;
  std::mutex plaintexts_mutex;
  std::vector<std::string> notes;  // what recovery reported
};

std::vector<std::string> snapshot_files(const std::string& data_dir) {
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(data_dir + "/snapshots")) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

bool mentions(const std::vector<std::string>& notes, const std::string& what) {
  return std::any_of(notes.begin(), notes.end(), [&](auto& n) { return n.find(what) != std::string::npos; });
}

}  // namespace

TEST_CASE("pipeline: accepted commands are appended as a hash chain in the dashboard's sequence") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  auto generated = store.run("d1", kd::GenerateEmailKey{"e1", "billing", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e1")});
  REQUIRE(generated.accepted());
  REQUIRE(generated.appended.size() == 1);
  REQUIRE(generated.appended[0].sequence == 4);
  std::string prev = es::kGenesisHash;
  std::uint64_t count = 0;
  for (std::uint32_t p = 0; p < store.log->partitions(); ++p) {
    store.log->read(p, 0, store.log->end(p), [&](const es::StoredRecord& r) {
      auto link = es::check_link(r.bytes, prev);
      REQUIRE(link.has_value());
      prev = *link;
      ++count;
      return true;
    });
  }
  REQUIRE(count == 4);
  store.pipeline->with_dashboard("d1", [&](const es::DashboardView& view) {
    REQUIRE(view.head_hash == prev);
    REQUIRE(view.state.keys.contains("e1"));
  });
}

TEST_CASE("pipeline: a store fenced by a second writer folds what that one appends as it arrives, each event once", "[kafka]") {
  TempDir dir;
  Store first(dir.path());
  first.create_dashboard("d1");
  REQUIRE(first.run("d1", kd::GenerateEmailKey{"e1", "before", {"all"}, {}, first.secret(kd::Channel::email, "d1", "e1")})
              .accepted());

  Store second(dir.path());  // takes the topic's transactional id: the first is fenced
  REQUIRE_FALSE(first.run("d1", kd::GenerateEmailKey{"z", "zombie", {"all"}, {}, first.secret(kd::Channel::email, "d1", "z")})
                    .accepted());
  second.create_dashboard("d2");
  for (int i = 0; i < 20; ++i) {
    const std::string id = "k" + std::to_string(i);
    const std::string dashboard = i % 2 ? "d1" : "d2";
    REQUIRE(second.run(dashboard, kd::GenerateEmailKey{id, id, {"all"}, {}, second.secret(kd::Channel::email, dashboard, id)})
                .accepted());
  }
  // The first folds the second's events as they arrive: the same state, every event once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (first.pipeline->events() < second.pipeline->events() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(first.pipeline->events() == second.pipeline->events());
  REQUIRE(first.pipeline->applied() == second.pipeline->applied());
  REQUIRE(first.pipeline->canonical_state() == second.pipeline->canonical_state());
  first.pipeline->with_dashboard("d2", [&](const es::DashboardView& view) {
    REQUIRE(std::count_if(view.state.keys.begin(), view.state.keys.end(),
                          [](const auto& key) { return key.first.view().starts_with("k"); }) == 10);
  });
  REQUIRE(first.pipeline->partition_of("d2") == second.pipeline->partition_of("d2"));
}

TEST_CASE("pipeline: one thread sends many commands of one dashboard without waiting, and each completes once, in order") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  // The executor: completions queue here and this thread runs them, so no other thread
  // ever holds a command (the log's writer thread only posts).
  std::mutex mutex;
  std::condition_variable posted;
  std::deque<std::move_only_function<void()>> jobs;
  es::CommandPipeline::Post post = [&](std::move_only_function<void()> job) {
    std::lock_guard lock(mutex);
    jobs.push_back(std::move(job));
    posted.notify_one();
  };
  constexpr int kCommands = 200;
  std::vector<std::uint64_t> sequences;  // by completion order
  for (int i = 0; i < kCommands; ++i) {
    const std::string id = "e" + std::to_string(i);
    // Returns at once: the command is decided (or queued behind the one in flight) and
    // handed to the log.
    store.pipeline->execute("d1", kd::GenerateEmailKey{id, "k", {"all"}, {}, store.secret(kd::Channel::email, "d1", id)},
                            {kAdmin, "req", "", ""}, post, [&sequences](es::CommandResult r) {
                              REQUIRE(r.accepted());
                              sequences.push_back(r.appended.at(0).sequence);
                            });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (sequences.size() < kCommands && std::chrono::steady_clock::now() < deadline) {
    std::move_only_function<void()> job;
    {
      std::unique_lock lock(mutex);
      if (!posted.wait_until(lock, deadline, [&] { return !jobs.empty(); })) break;
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    job();
  }
  REQUIRE(sequences.size() == kCommands);
  for (int i = 0; i < kCommands; ++i) REQUIRE(sequences[i] == 4 + static_cast<std::uint64_t>(i));
  store.pipeline->with_dashboard("d1", [&](const es::DashboardView& view) {
    REQUIRE(view.sequence == 3 + kCommands);
    REQUIRE(view.state.keys.size() == kCommands + 1);  // and the RCS key
  });
}

TEST_CASE("pipeline: a refused command appends its audit event, and bad input appends nothing") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  auto before = store.pipeline->events();
  auto denied = store.run("d1", kd::GenerateSmsKey{});
  REQUIRE(denied.outcome.rejection->code == kd::RejectionCode::sms_key_auto_assigned);
  REQUIRE(store.pipeline->events() == before + 1);
  auto invalid = store.run("d1", kd::GenerateEmailKey{"e1", "", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e1")});
  REQUIRE(invalid.outcome.rejection->code == kd::RejectionCode::invalid_request);
  REQUIRE(store.pipeline->events() == before + 1);
  auto unknown = store.run("nope", kd::GenerateSmsKey{});
  REQUIRE(unknown.outcome.rejection->code == kd::RejectionCode::not_found);
  REQUIRE(store.pipeline->events() == before + 1);
}

TEST_CASE("pipeline: when the log cannot take a batch the command fails and state does not change", "[file]") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  // Make every further write to the segment fail for real: a file size limit below its size.
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit original{};
  getrlimit(RLIMIT_FSIZE, &original);
  rlimit tight = original;
  tight.rlim_cur = std::filesystem::file_size(dir.path() + "/data/log/00000000000000000000.seg");
  REQUIRE(setrlimit(RLIMIT_FSIZE, &tight) == 0);
  auto failed = store.run("d1", kd::GenerateWhatsAppKey{"w1", "n", store.secret(kd::Channel::whatsapp, "d1", "w1")});
  REQUIRE(setrlimit(RLIMIT_FSIZE, &original) == 0);
  REQUIRE(failed.log_error == es::StoreErrc::log_unavailable);
  REQUIRE_FALSE(failed.accepted());
  store.pipeline->with_dashboard("d1", [](const es::DashboardView& view) {
    REQUIRE_FALSE(view.state.keys.contains("w1"));
    REQUIRE(view.sequence == 3);
  });
  // Service resumes once the log takes writes again, with the chain intact.
  auto retried = store.run("d1", kd::GenerateWhatsAppKey{"w1", "n", store.secret(kd::Channel::whatsapp, "d1", "w1")});
  REQUIRE(retried.accepted());
  REQUIRE(retried.appended[0].sequence == 4);
}

TEST_CASE("pipeline: two dashboards registering one number at once never both succeed") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  store.create_dashboard("d2");
  for (int round = 0; round < 25; ++round) {
    std::string number = "+1415555" + std::to_string(1000 + round);
    std::atomic<int> accepted{0}, refused_otherwise{0};
    // No assertion inside the threads: Catch2's assertions are not thread-safe.
    auto attempt = [&](const std::string& dashboard) {
      auto key_id = "s-" + dashboard + "-" + std::to_string(round);
      auto result = store.run(dashboard, kd::RegisterSmsNumber{number, key_id, store.secret(kd::Channel::sms, dashboard, key_id), ""});
      if (result.accepted()) {
        ++accepted;
      } else if (!result.outcome.rejection ||
                 result.outcome.rejection->code != kd::RejectionCode::number_already_registered) {
        ++refused_otherwise;
      }
    };
    std::thread a(attempt, "d1"), b(attempt, "d2");
    a.join();
    b.join();
    REQUIRE(refused_otherwise == 0);
    REQUIRE(accepted == 1);
  }
  // After deregistration the other dashboard may take the number.
  std::string holder;
  for (auto d : {"d1", "d2"}) {
    store.pipeline->with_dashboard(d, [&](const es::DashboardView& v) {
      if (v.state.numbers.contains("+14155551000")) holder = d;
    });
  }
  std::string other = holder == "d1" ? "d2" : "d1";
  REQUIRE(store.run(holder, kd::DeregisterSmsNumber{"+14155551000"}).accepted());
  REQUIRE(store.run(other, kd::RegisterSmsNumber{"+14155551000", "s-x", store.secret(kd::Channel::sms, other, "s-x"), ""}).accepted());
}

TEST_CASE("pipeline: a catch-up while a registration is in flight keeps its number reserved", "[file]") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  store.create_dashboard("d2");
  const std::string number = "+14155550177";
  std::mutex mutex;
  std::condition_variable done;
  std::vector<es::CommandResult> results;
  auto register_in = [&](const std::string& dashboard) {
    store.pipeline->execute(dashboard, kd::RegisterSmsNumber{number, "s-" + dashboard, store.secret(kd::Channel::sms, dashboard, "s-" + dashboard), ""},
                            {kAdmin, "req", "", ""}, es::CommandPipeline::inline_post(), [&](es::CommandResult result) {
                              std::lock_guard lock(mutex);
                              results.push_back(std::move(result));
                              done.notify_all();
                            });
  };
  {
    // The log held: d1's registration is decided, its number reserved, its batch queued.
    auto held = dynamic_cast<es::FileLog&>(*store.log).hold();
    register_in("d1");
    // What a replica's follower does when records arrive: fold the log's end.
    REQUIRE_FALSE(store.pipeline->catch_up());
    register_in("d2");  // refused at its reservation (its audited refusal waits for the log too)
  }
  std::unique_lock lock(mutex);
  REQUIRE(done.wait_for(lock, std::chrono::seconds(10), [&] { return results.size() == 2; }));
  REQUIRE(std::count_if(results.begin(), results.end(), [](const auto& r) { return r.accepted(); }) == 1);
}

TEST_CASE("pipeline: a command whose events cannot be sealed fails, appends nothing, gives back its number, and the "
          "dashboard's next command runs") {
  TempDir dir;
  Store store(dir.path());
  store.create_dashboard("d1");
  store.create_dashboard("d2");
  auto sequence_of = [&](const std::string& d) {
    std::uint64_t sequence = 0;
    store.pipeline->with_dashboard(d, [&](const es::DashboardView& v) { sequence = v.sequence; });
    return sequence;
  };
  const auto before = sequence_of("d1");
  // Not UTF-8: the envelope cannot be written as JSON (the API refuses such a key before it
  // gets here; this is the pipeline's own guard against whatever else might throw).
  const std::string unsealable = "caf\xe9";
  auto generated = store.run("d1", kd::GenerateEmailKey{"e1", "n", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e1")},
                             kAdmin, unsealable, std::string(64, 'a'));
  REQUIRE_FALSE(generated.internal_error.empty());
  REQUIRE_FALSE(generated.accepted());
  REQUIRE(generated.appended.empty());
  auto registered = store.run("d1", kd::RegisterSmsNumber{"+14155550100", "s1", store.secret(kd::Channel::sms, "d1", "s1"), ""},
                              kAdmin, unsealable, std::string(64, 'a'));
  REQUIRE_FALSE(registered.internal_error.empty());
  REQUIRE(sequence_of("d1") == before);
  REQUIRE(store.pipeline->open_reservations() == 0);
  // The dashboard's turn was given back, and so was the number.
  REQUIRE(store.run("d1", kd::GenerateEmailKey{"e2", "n", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e2")}).accepted());
  REQUIRE(store.run("d2", kd::RegisterSmsNumber{"+14155550100", "s2", store.secret(kd::Channel::sms, "d2", "s2"), ""}).accepted());
  REQUIRE(sequence_of("d1") == before + 1);
}

TEST_CASE("pipeline: an idempotency key returns the first result, survives a restart, and refuses another body") {
  TempDir dir;
  std::string key_id;
  {
    Store store(dir.path());
    store.create_dashboard("d1");
    auto first = store.run("d1", kd::GenerateEmailKey{"e1", "n", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e1")}, kAdmin,
                           "idem-1", std::string(64, 'a'));
    REQUIRE(first.accepted());
    auto again = store.run("d1", kd::GenerateEmailKey{"e2", "n", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e2")}, kAdmin,
                           "idem-1", std::string(64, 'a'));
    REQUIRE(again.replayed);
    REQUIRE(again.appended.size() == 1);
    REQUIRE(again.appended[0].id == first.appended[0].id);
    store.pipeline->with_dashboard("d1", [](const es::DashboardView& v) { REQUIRE_FALSE(v.state.keys.contains("e2")); });
  }
  Store restarted(dir.path());
  auto after_restart = restarted.run("d1", kd::GenerateEmailKey{"e3", "n", {"all"}, {}, restarted.secret(kd::Channel::email, "d1", "e3")},
                                     kAdmin, "idem-1", std::string(64, 'a'));
  REQUIRE(after_restart.replayed);
  REQUIRE(std::get<kd::EmailKeyGenerated>(after_restart.outcome.events[0]).key_id == "e1");
  auto conflict = restarted.run("d1", kd::RevokeEmailKey{"e1"}, kAdmin, "idem-1", std::string(64, 'b'));
  REQUIRE(conflict.idempotency_conflict);
  REQUIRE_FALSE(conflict.accepted());
}

TEST_CASE("pipeline: a snapshot plus the tail rebuilds exactly the state a full replay does", "[file]") {
  TempDir dir;
  {
    Store store(dir.path());
    store.create_dashboard("d1");
    store.run("d1", kd::RegisterSmsNumber{"+14155550100", "s1", store.secret(kd::Channel::sms, "d1", "s1"), ""});
    REQUIRE(es::write_snapshot(dir.path() + "/data", *store.pipeline).has_value());
    store.run("d1", kd::GenerateWhatsAppKey{"w1", "n", store.secret(kd::Channel::whatsapp, "d1", "w1")});
    store.create_dashboard("d2");
  }
  std::string full, from_snapshot;
  {
    Store replayed(dir.path(), /*use_snapshots=*/false);  // catch_up from position 0
    full = replayed.pipeline->canonical_state();
  }
  {
    auto log = std::move(es::FileLog::open({dir.path() + "/data", 64ull << 20, nullptr}).value());
    es::CommandPipeline pipeline(*log, [] { return kd::Timestamp{}; });
    auto restored = es::restore_latest_snapshot(dir.path() + "/data", pipeline, nullptr);
    REQUIRE(restored.has_value());
    REQUIRE(restored->events == 5);
    REQUIRE(pipeline.events() == 5);
    REQUIRE_FALSE(pipeline.catch_up());
    REQUIRE(pipeline.events() == 9);
    from_snapshot = pipeline.canonical_state();
    // The number registered before the snapshot is still held platform-wide.
    auto result = pipeline.execute("d2", kd::RegisterSmsNumber{"+14155550100", "s9", {}, ""},
                                   {kAdmin, "r", "", ""});
    REQUIRE(result.outcome.rejection->code == kd::RejectionCode::number_already_registered);
  }
  REQUIRE(full == from_snapshot);
}

TEST_CASE("pipeline: a damaged snapshot is ignored, said so, and the whole log replayed", "[file]") {
  TempDir dir;
  std::string full;
  {
    Store store(dir.path());
    store.create_dashboard("d1");
    store.run("d1", kd::GenerateEmailKey{"e1", "billing", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e1")});
    REQUIRE(es::write_snapshot(dir.path() + "/data", *store.pipeline).has_value());
    full = store.pipeline->canonical_state();
  }
  const std::string path = snapshot_files(dir.path() + "/data").back();
  const std::string whole = read_bytes(path);
  for (std::size_t at : {std::size_t{3}, whole.size() / 2, whole.size() - 12, whole.size() - 1}) {
    INFO("byte " << at << " of " << whole.size());
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
    write_bytes(path, damaged);
    Store reopened(dir.path());
    REQUIRE(reopened.store->snapshot_events == 0);
    REQUIRE(mentions(reopened.notes, "ignored snapshot"));
    REQUIRE(reopened.pipeline->canonical_state() == full);
  }
  write_bytes(path, whole.substr(0, whole.size() / 2));  // cut short
  Store reopened(dir.path());
  REQUIRE(mentions(reopened.notes, "not a whole keyledger snapshot"));
  REQUIRE(reopened.pipeline->canonical_state() == full);
}

TEST_CASE("pipeline: a snapshot of another format version is ignored and the log replayed", "[file]") {
  TempDir dir;
  std::string full;
  {
    Store store(dir.path());
    store.create_dashboard("d1");
    REQUIRE(es::write_snapshot(dir.path() + "/data", *store.pipeline).has_value());
    full = store.pipeline->canonical_state();
  }
  const std::string path = snapshot_files(dir.path() + "/data").back();
  std::string newer = read_bytes(path);
  newer[6] = static_cast<char>(es::kSnapshotVersion + 1);  // a version from a later keyledger, CRC and all
  std::uint32_t crc = es::crc32c(std::string_view(newer).substr(0, newer.size() - 10));
  for (int i = 0; i < 4; ++i) newer[newer.size() - 10 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  write_bytes(path, newer);
  Store reopened(dir.path());
  REQUIRE(mentions(reopened.notes, "format version " + std::to_string(es::kSnapshotVersion + 1)));
  REQUIRE(reopened.store->snapshot_events == 0);
  REQUIRE(reopened.pipeline->canonical_state() == full);
}

TEST_CASE("pipeline: snapshots taken while commands run restore exactly what a replay from position 0 builds", "[file]") {
  TempDir dir;
  std::atomic<int> failed{0};
  std::atomic<int> snapshots{0};
  {
    Store store(dir.path());
    for (int d = 0; d < 8; ++d) store.create_dashboard("d" + std::to_string(d));
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t) {
      writers.emplace_back([&, t] {
        const std::string d = "d" + std::to_string(t);
        for (int i = 0; i < 150; ++i) {
          const std::string id = "k" + std::to_string(i);
          auto generated = store.run(d, kd::GenerateEmailKey{id, "n", {"all"}, {}, store.secret(kd::Channel::email, d, id)});
          auto revoked = i % 3 == 0 ? store.run(d, kd::RevokeEmailKey{id}) : generated;
          if (!generated.accepted() || !revoked.accepted()) ++failed;
        }
      });
    }
    // Snapshots one after another while the writers run: each a cut some dashboards are past.
    std::thread snapshotter([&] {
      while (!stop) {
        if (es::write_snapshot(dir.path() + "/data", *store.pipeline)) ++snapshots;
      }
    });
    for (auto& w : writers) w.join();
    stop = true;
    snapshotter.join();
    // More events after the last snapshot: the restart replays them as its tail.
    store.run("d0", kd::GenerateEmailKey{"late", "n", {"all"}, {}, store.secret(kd::Channel::email, "d0", "late")});
  }
  REQUIRE(failed == 0);
  REQUIRE(snapshots > 0);
  std::string full;
  {
    Store replayed(dir.path(), /*use_snapshots=*/false);
    full = replayed.pipeline->canonical_state();
  }
  Store restored(dir.path());
  REQUIRE(restored.store->snapshot_events > 0);
  REQUIRE(restored.notes.empty());
  REQUIRE(crypto::to_hex(crypto::sha256(restored.pipeline->canonical_state())) == crypto::to_hex(crypto::sha256(full)));
  REQUIRE(restored.pipeline->events() == 8 * 3 + 8 * 200 + 1);
}

TEST_CASE("pipeline: no file in the data directory holds a plaintext secret or password", "[file]") {
  TempDir dir;
  std::vector<std::string> plaintexts;
  {
    Store store(dir.path());
    store.create_dashboard("d1");
    store.run("d1", kd::GenerateEmailKey{"e1", "n", {"all"}, {}, store.secret(kd::Channel::email, "d1", "e1")});
    store.run("d1", kd::GenerateWhatsAppKey{"w1", "n", store.secret(kd::Channel::whatsapp, "d1", "w1")});
    store.run("d1", kd::RotateWhatsAppKey{"w1", 60, store.secret(kd::Channel::whatsapp, "d1", "w1")});
    store.run("d1", kd::RegisterSmsNumber{"+14155550100", "s1", store.secret(kd::Channel::sms, "d1", "s1"), ""});
    store.run("d1", kd::AddUser{"dev@example.com", kd::Role::developer, es::hash_password("developer password 1")});
    es::write_snapshot(dir.path() + "/data", *store.pipeline);
    plaintexts = store.plaintexts;
  }
  plaintexts.push_back(kPassword);
  plaintexts.push_back("developer password 1");
  REQUIRE(plaintexts.size() == 7);
  std::size_t files = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string bytes = read_bytes(entry.path());
    for (auto& secret : plaintexts) {
      INFO(entry.path().string());
      REQUIRE(bytes.find(secret) == std::string::npos);
      REQUIRE(bytes.find(secret.substr(4, 20)) == std::string::npos);
    }
  }
  REQUIRE(files >= 4);  // segment, keyring, snapshot, master key (and the lock)
}
