// The group commit queue both logs share, with a backend the test holds in its hand: while
// one group is being made durable every batch that arrives waits, and the next durability
// point covers all of them. No timing decides anything: the test waits (with a bound) for
// the writer to be inside the backend before it submits the batches that must share a sync.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "eventstore/group_commit.hpp"
#include "eventstore/store_error.hpp"

namespace es = keyledger::eventstore;

namespace {

constexpr auto kBound = std::chrono::seconds(10);

// A backend whose first durability point blocks until the test releases it.
struct GatedBackend {
  std::mutex mutex;
  std::condition_variable changed;
  bool inside_first = false;
  bool released = false;
  std::vector<std::size_t> group_sizes;
  std::uint64_t next_offset = 0;
  std::error_code fail_with;  // when set, every group fails with it

  es::GroupCommitQueue::MakeDurable make_durable() {
    return [this](std::span<es::PendingBatch> group) -> std::expected<std::vector<es::LogPosition>, std::error_code> {
      std::unique_lock lock(mutex);
      group_sizes.push_back(group.size());
      if (group_sizes.size() == 1) {
        inside_first = true;
        changed.notify_all();
        changed.wait(lock, [&] { return released; });
      }
      if (fail_with) return std::unexpected(fail_with);
      std::vector<es::LogPosition> positions;
      for (auto& batch : group) {
        positions.push_back({0, next_offset});
        next_offset += batch.records.size();
      }
      return positions;
    };
  }
  bool wait_inside_first() {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kBound, [&] { return inside_first; });
  }
  void release() {
    std::lock_guard lock(mutex);
    released = true;
    changed.notify_all();
  }
};

// What each batch was answered, in the order the answers came.
struct Answers {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<int, es::AppendResult>> got;

  es::PendingBatch batch(int id) {
    std::vector<es::AppendRecord> records{es::AppendRecord{"d1", "id", "Type", "t", "payload " + std::to_string(id)}};
    return {std::move(records), [this, id](es::AppendResult r) {
              std::lock_guard lock(mutex);
              got.emplace_back(id, std::move(r));
              changed.notify_all();
            },
            {}};
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kBound, [&] { return got.size() >= n; });
  }
};

}  // namespace

TEST_CASE("group commit: batches that arrive during a sync share the next one, answered in order") {
  GatedBackend backend;
  Answers answers;
  {
    es::GroupCommitQueue queue(backend.make_durable(), es::GroupCommitSettings{});
    queue.submit(answers.batch(0));
    REQUIRE(backend.wait_inside_first());
    for (int id = 1; id <= 15; ++id) queue.submit(answers.batch(id));
    backend.release();
    REQUIRE(answers.wait_for(16));
    auto stats = queue.stats();
    CHECK(stats.batches == 16);
    CHECK(stats.syncs == 2);
  }
  CHECK(backend.group_sizes == std::vector<std::size_t>{1, 15});
  for (int id = 0; id < 16; ++id) {
    INFO("batch " << id);
    REQUIRE(answers.got[id].first == id);
    REQUIRE(answers.got[id].second.has_value());
    CHECK(answers.got[id].second->offset == static_cast<std::uint64_t>(id));
  }
}

TEST_CASE("group commit: a failed sync fails every batch of its group, and a refused queue answers at once") {
  GatedBackend backend;
  backend.fail_with = make_error_code(es::StoreErrc::log_unavailable);
  Answers answers;
  es::GroupCommitQueue queue(backend.make_durable(), es::GroupCommitSettings{});
  queue.submit(answers.batch(0));
  REQUIRE(backend.wait_inside_first());
  for (int id = 1; id <= 3; ++id) queue.submit(answers.batch(id));
  backend.release();
  REQUIRE(answers.wait_for(4));
  for (auto& [id, result] : answers.got) {
    INFO("batch " << id);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error() == make_error_code(es::StoreErrc::log_unavailable));
  }
  CHECK(queue.stats().batches == 0);

  // Refused: the answer comes on the submitting thread, before submit() returns.
  queue.refuse(make_error_code(es::StoreErrc::log_unavailable));
  queue.submit(answers.batch(4));
  {
    std::lock_guard lock(answers.mutex);
    REQUIRE(answers.got.size() == 5);
    CHECK_FALSE(answers.got.back().second.has_value());
  }
  CHECK(backend.group_sizes.size() == 2);
}
