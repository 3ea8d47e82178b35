// The event streams' frames (api/event_frames.hpp) over a real log, the file log or, with
// KEYLEDGER_TEST_BACKEND=kafka, a topic (whose offsets have gaps where transaction markers
// sit): every event's frame is its audit view, whether it comes from the window of newest
// events or is read alone, and a kept event is rendered once for every reader.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/audit_view.hpp"
#include "api/event_frames.hpp"
#include "crypto/crypto.hpp"
#include "domain/commands.hpp"
#include "eventstore/envelope.hpp"
#include "eventstore/master_key.hpp"
#include "eventstore/rfc3339.hpp"
#include "eventstore/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_store.hpp"

namespace es = keyledger::eventstore;
namespace api = keyledger::api;
namespace crypto = keyledger::crypto;
namespace kd = keyledger::domain;
using keyledger::api::Frame;

namespace {

// A dashboard's chain of events, appended a command's batch of one to three at a time: real
// envelopes (the Kafka suite checks every event it finds against docs/events).
struct Chain {
  std::string dashboard;
  std::string head = es::kGenesisHash;
  std::uint64_t sequence = 0;

  std::vector<es::LogPosition> append(es::EventLog& log, int count) {
    std::vector<es::LogPosition> positions;
    for (int n = 0; n < count;) {
      std::vector<es::AppendRecord> batch;
      for (int i = 0; i < 1 + n % 3 && n < count; ++i, ++n) {
        es::Envelope e;
        e.id = crypto::uuid_v7(1764325230456 + static_cast<std::int64_t>(sequence));
        e.dashboard_id = dashboard;
        kd::Event event = kd::EmailKeyRevoked{"key_" + std::to_string(sequence)};
        e.stream = kd::stream_of(event);
        e.stream_version = 1;
        e.sequence = ++sequence;
        e.recorded = kd::RecordedEvent{std::move(event), {kd::ActorKind::user, "ada@example.com", "127.0.0.1"},
                                       *es::parse_rfc3339("2026-11-28T10:20:30.456Z")};
        e.correlation_id = e.causation_id = e.id;
        e.prev_hash = head;
        std::string bytes = es::seal_envelope(e);
        head = e.hash;
        batch.push_back({dashboard, e.id, std::string(e.type()), "2026-11-28T10:20:30.456Z", std::move(bytes)});
      }
      const auto size = batch.size();
      auto first = log.append(batch);
      REQUIRE(first.has_value());
      for (std::size_t i = 0; i < size; ++i) positions.push_back({first->partition, first->offset + i});
    }
    return positions;
  }
};

// A store of the test's backend, opened and recovered, and a dashboard's chain to append.
struct TestLog {
  keyledger::testing::TempDir dir;
  std::unique_ptr<es::Store> store;
  Chain chain{"dsh_" + crypto::to_hex(crypto::sha256(dir.path())).substr(0, 20)};

  TestLog() {
    REQUIRE(es::write_new_master_key(dir.path() + "/master.key"));
    auto opened = es::Store::open(keyledger::testing::test_store_url(dir.path()), dir.path() + "/master.key", {});
    if (!opened) FAIL(opened.error());
    store = std::move(*opened);
    if (auto recovered = store->recover(); !recovered) FAIL(recovered.error());
  }
  es::EventLog& log() { return *store->log; }
};

}  // namespace

TEST_CASE("event frames: every event's frame is its audit view, kept ones rendered once, old ones read alone") {
  TestLog test;
  es::EventLog& log = test.log();
  api::EventFrames frames(log, 8 * log.partitions());
  Chain& chain = test.chain;

  auto expected = [&](es::LogPosition at) {
    const std::string stored = log.read_one(at);
    REQUIRE_FALSE(stored.empty());
    return "event: EmailKeyRevoked\ndata: " + api::audit_view_text(stored) + "\n\n";
  };

  auto positions = chain.append(log, 20);
  // A reader following the log asks for the newest event: the window comes up to the end.
  auto newest = frames.at(positions.back());
  REQUIRE(newest);
  REQUIRE(*newest == expected(positions.back()));
  REQUIRE(frames.at(positions.back()) == newest);  // the same frame: rendered once
  // Every event, oldest first: the old ones read alone, those among the newest eight
  // offsets (a Kafka partition's include transaction markers) from the window.
  const std::uint64_t end = log.end(positions.back().partition);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    INFO("event " << i);
    auto frame = frames.at(positions[i]);
    REQUIRE(frame);
    REQUIRE(*frame == expected(positions[i]));
    REQUIRE((frames.at(positions[i]) == frame) == (positions[i].offset + 8 >= end));
  }
  // A frame given the stored bytes is the same, kept or not.
  for (auto at : {positions.front(), positions.back()}) {
    REQUIRE(*frames.at(at, log.read_one(at)) == expected(at));
  }

  // Events appended since, a few (the window moves on) and then many (it starts afresh).
  for (int more : {3, 30}) {
    auto added = chain.append(log, more);
    positions.insert(positions.end(), added.begin(), added.end());
    for (std::size_t i = positions.size() - 12; i < positions.size(); ++i) {
      INFO("event " << i << " after " << more << " more");
      auto frame = frames.at(positions[i]);
      REQUIRE(frame);
      REQUIRE(*frame == expected(positions[i]));
    }
    REQUIRE(frames.at(positions.back()) == frames.at(positions.back()));
  }

  // Past the log's end there is no event (yet).
  const es::LogPosition last = positions.back();
  REQUIRE(frames.at({last.partition, log.end(last.partition) + 5}) == nullptr);
}

TEST_CASE("event frames: readers following the log while it is appended to each get every frame right", "[concurrency]") {
  TestLog test;
  es::EventLog& log = test.log();
  api::EventFrames frames(log, 16 * log.partitions());
  Chain& chain = test.chain;

  // The writer publishes each batch's positions once they are in the log; four readers ask
  // for each in turn (the window moving under them), and check them after.
  std::mutex mutex;
  std::vector<es::LogPosition> published;
  std::atomic<bool> done{false};
  std::vector<std::vector<std::pair<es::LogPosition, Frame>>> seen(4);
  std::vector<std::thread> readers;
  for (auto& mine : seen) {
    readers.emplace_back([&] {
      for (std::size_t next = 0;;) {
        // `done` is read before `published`: once it is true, every position is published,
        // so finding none left means this reader has them all.
        const bool finished = done;
        std::optional<es::LogPosition> at;
        {
          std::lock_guard lock(mutex);
          if (next < published.size()) at = published[next];
        }
        if (!at) {
          if (finished) return;
          std::this_thread::yield();
          continue;
        }
        mine.emplace_back(*at, frames.at(*at));
        ++next;
      }
    });
  }
  for (int round = 0; round < 60; ++round) {
    auto added = chain.append(log, 5);
    std::lock_guard lock(mutex);
    published.insert(published.end(), added.begin(), added.end());
  }
  done = true;
  for (auto& reader : readers) reader.join();
  for (const auto& mine : seen) {
    REQUIRE(mine.size() == published.size());
    for (const auto& [at, frame] : mine) {
      REQUIRE(frame);
      REQUIRE(*frame == "event: EmailKeyRevoked\ndata: " + api::audit_view_text(log.read_one(at)) + "\n\n");
    }
  }
}
