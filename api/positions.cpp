#include "positions.hpp"

#include <thread>

#include "eventstore/thread_name.hpp"
#include "request_context.hpp"

namespace keyledger::api {

namespace {

ApiError not_applied() {
  return ApiError{503, "position_not_applied",
                  "this process has not applied the position in Keyledger-Min-Position yet; retry shortly", "",
                  {{"Retry-After", "1"}}};
}

}  // namespace

std::string position_header(const WrittenPositions& written) {
  std::string text;
  for (const auto& [partition, offset] : written) {
    if (!text.empty()) text += ',';
    text += std::to_string(partition) + ":" + std::to_string(offset);
  }
  return text;
}

Expected<WrittenPositions> parse_min_position(const std::string& text, std::uint32_t partitions) {
  auto bad = [] {
    return std::unexpected(invalid_request("Keyledger-Min-Position",
                                           "Keyledger-Min-Position must be partition:offset pairs, comma-separated, as "
                                           "a command's Keyledger-Position gave them"));
  };
  WrittenPositions wanted;
  std::string_view rest = text;
  if (rest.empty() || rest.size() > 4096) return bad();
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view pair = rest.substr(0, comma);
    const std::size_t colon = pair.find(':');
    if (colon == std::string_view::npos) return bad();
    const auto partition = parse_decimal(pair.substr(0, colon));
    const auto offset = parse_decimal(pair.substr(colon + 1));
    if (!partition || !offset || *partition >= partitions || wanted.contains(static_cast<std::uint32_t>(*partition))) {
      return bad();
    }
    wanted[static_cast<std::uint32_t>(*partition)] = *offset;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return wanted;
}

namespace {
bool all_applied(const WrittenPositions& wanted, const eventstore::CommandPipeline& pipeline) {
  const auto applied = pipeline.applied();
  for (const auto& [partition, offset] : wanted) {
    if (applied[partition] <= offset) return false;
  }
  return true;
}
}  // namespace

Expected<void> await_applied(const WrittenPositions& wanted, const eventstore::CommandPipeline& pipeline,
                             std::chrono::milliseconds limit) {
  // Its own writes' folds are in flight here; other processes' records come through the
  // log's follower (a Kafka replica), so a position past this copy's end may still arrive.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!all_applied(wanted, pipeline)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::unexpected(not_applied());
    pipeline.wait_folded(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!all_applied(wanted, pipeline)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return {};
}

AppliedWaits::AppliedWaits(const eventstore::CommandPipeline& pipeline, eventstore::EventLog& log)
    : pipeline_(pipeline), log_(log), watcher_([this] {
        name_this_thread("kl-min-position");
        watch();
      }) {}

AppliedWaits::~AppliedWaits() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  waiting_.notify_all();
  watcher_.join();
}

void AppliedWaits::wait(WrittenPositions wanted, std::chrono::milliseconds limit, Done done) {
  if (all_applied(wanted, pipeline_)) return done({});
  add(Waiting{std::move(wanted), std::chrono::steady_clock::now() + limit, std::move(done), std::nullopt});
}

void AppliedWaits::wait_current(std::uint32_t partition, std::chrono::milliseconds limit, Done done) {
  const auto now = std::chrono::steady_clock::now();
  log_.request_currency();
  add(Waiting{{}, now + limit, std::move(done), std::pair{partition, now}});
}

void AppliedWaits::wait_number_current(const std::string& number, const std::string& dashboard_id, Done done) {
  const auto elsewhere = pipeline_.number_held_elsewhere(number, dashboard_id);
  if (!elsewhere) return done({});
  wait_current(*elsewhere, kNumberCurrencyWait, std::move(done));
}

void AppliedWaits::add(Waiting waiting) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      waits_.push_back(std::move(waiting));
      waiting_.notify_all();
      return;
    }
  }
  waiting.done(std::unexpected(not_applied()));
}

void AppliedWaits::watch() {
  std::unique_lock lock(mutex_);
  while (true) {
    waiting_.wait(lock, [&] { return stopping_ || !waits_.empty(); });
    // Its own writes' folds and other processes' records (a Kafka replica's follower) both
    // move the applied positions on: look again every 2 ms while anyone waits.
    std::vector<std::pair<Done, Expected<void>>> answered;
    const auto now = std::chrono::steady_clock::now();
    for (auto w = waits_.begin(); w != waits_.end();) {
      if (w->current_since && log_.current_since(w->current_since->first, w->current_since->second)) {
        // Everything committed before the instant is in the copy: wait for it to be applied.
        const std::uint32_t partition = w->current_since->first;
        if (const std::uint64_t end = log_.end(partition); end > 0) w->wanted[partition] = end - 1;
        w->current_since.reset();
      }
      if (!w->current_since && all_applied(w->wanted, pipeline_)) {
        answered.emplace_back(std::move(w->done), Expected<void>{});
      } else if (stopping_ || now >= w->deadline) {
        answered.emplace_back(std::move(w->done), std::unexpected(not_applied()));
      } else {
        ++w;
        continue;
      }
      w = waits_.erase(w);
    }
    const bool stop = stopping_ && waits_.empty();
    lock.unlock();
    for (auto& [done, answer] : answered) {
      post_([done = std::move(done), answer = std::move(answer)]() mutable { done(std::move(answer)); });
    }
    if (stop) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    lock.lock();
  }
}

}  // namespace keyledger::api
