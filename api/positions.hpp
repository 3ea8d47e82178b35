// Read-your-writes across processes (SPEC §10): a command's answer carries
// `Keyledger-Position: <partition>:<offset>[,…]`, the offset of the last record it wrote in
// each partition; a read that sends it back as `Keyledger-Min-Position` is answered once
// this process has applied those offsets — after a bounded wait, else 503 with Retry-After.
// A process applies what it wrote before it answers; what other processes write reaches
// it through the log's follower (kafka_follower.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "http_message.hpp"
#include "problem.hpp"

namespace keyledger::api {

// partition → offset of the last record written there.
using WrittenPositions = std::map<std::uint32_t, std::uint64_t>;

// The header's value: "0:41" or "0:41,3:7" (partitions in order).
std::string position_header(const WrittenPositions& written);

// Parses `Keyledger-Min-Position`: each partition at most once and within the log's
// partitions. 400 naming the header otherwise.
Expected<WrittenPositions> parse_min_position(const std::string& text, std::uint32_t partitions);

// Waits, at most `limit`, until every position of `wanted` is applied — this process's own
// writes being folded, or (on a Kafka replica) other processes' records arriving; 503 with
// Retry-After (code position_not_applied) if not by then.
Expected<void> await_applied(const WrittenPositions& wanted, const eventstore::CommandPipeline& pipeline,
                             std::chrono::milliseconds limit);

// The same for requests, without holding the thread that handles them: every read waiting
// for a position is watched by one thread of its own, which hands each its answer through
// `post` (the server's worker pool) once its positions are applied or its time is up.
class AppliedWaits {
 public:
  using Done = std::move_only_function<void(Expected<void>)>;
  AppliedWaits(const eventstore::CommandPipeline& pipeline, eventstore::EventLog& log);
  ~AppliedWaits();  // answers what still waits (503), then stops its thread
  AppliedWaits(const AppliedWaits&) = delete;
  AppliedWaits& operator=(const AppliedWaits&) = delete;

  // Where answers run: by default on the watching thread. Set before the first wait.
  void set_executor(eventstore::CommandPipeline::Post post) { post_ = std::move(post); }
  // `done` gets the answer: on the calling thread when `wanted` is applied already.
  void wait(WrittenPositions wanted, std::chrono::milliseconds limit, Done done);
  // The same without a position: until this process has applied everything committed to
  // `partition` before now (whoever wrote it; EventLog::current_since says when its copy
  // holds it, and the copy's end then is the position to wait for).
  void wait_current(std::uint32_t partition, std::chrono::milliseconds limit, Done done);
  // Before a registration or reservation of `number` for `dashboard_id` is decided here:
  // when this process knows the number as another dashboard's, in a partition another
  // process writes, it may know old news — the number deregistered there a moment ago, and
  // the caller told so — so wait_current for that partition (a failed wait leaves the
  // decision to what is known: a refusal, never a number given twice). At once otherwise.
  void wait_number_current(const std::string& number, const std::string& dashboard_id, Done done);
  static constexpr std::chrono::milliseconds kNumberCurrencyWait{2000};

 private:
  struct Waiting {
    WrittenPositions wanted;
    std::chrono::steady_clock::time_point deadline;
    Done done;
    // wait_current's: the partition and instant the log's copy must be current for before
    // its end joins `wanted`.
    std::optional<std::pair<std::uint32_t, std::chrono::steady_clock::time_point>> current_since;
  };
  void add(Waiting waiting);
  void watch();

  const eventstore::CommandPipeline& pipeline_;
  eventstore::EventLog& log_;
  eventstore::CommandPipeline::Post post_ = eventstore::CommandPipeline::inline_post();
  std::mutex mutex_;
  std::condition_variable waiting_;
  std::vector<Waiting> waits_;
  bool stopping_ = false;
  std::thread watcher_;  // last: started once everything else is in place
};

}  // namespace keyledger::api
