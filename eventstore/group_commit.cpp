#include "group_commit.hpp"

#include "store_error.hpp"
#include "thread_name.hpp"

namespace keyledger::eventstore {

GroupCommitQueue::GroupCommitQueue(MakeDurable make_durable, GroupCommitSettings settings)
    : make_durable_(std::move(make_durable)), settings_(std::move(settings)), writer_([this] {
        name_this_thread(settings_.thread_name);
        writer_loop();
      }) {}

GroupCommitQueue::~GroupCommitQueue() { stop(); }

void GroupCommitQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void GroupCommitQueue::submit(PendingBatch batch) {
  std::unique_lock lock(mutex_);
  if (refusal_ || stopping_) {
    std::error_code why = refusal_ ? refusal_ : make_error_code(StoreErrc::log_unavailable);
    lock.unlock();
    batch.done(std::unexpected(why));
    return;
  }
  queue_.push_back(std::move(batch));
  lock.unlock();
  wake_.notify_one();
}

void GroupCommitQueue::refuse(std::error_code why) {
  std::lock_guard lock(mutex_);
  refusal_ = why;
}

void GroupCommitQueue::fail_queued(std::error_code why) {
  std::deque<PendingBatch> failed;
  {
    std::lock_guard lock(mutex_);
    failed.swap(queue_);
  }
  for (auto& b : failed) b.done(std::unexpected(why));
}

void GroupCommitQueue::allow() {
  std::lock_guard lock(mutex_);
  refusal_.clear();
}

LogStats GroupCommitQueue::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void GroupCommitQueue::writer_loop() {
  while (true) {
    std::vector<PendingBatch> group;
    {
      std::unique_lock lock(mutex_);
      // Held: even a stop waits for the hold's owner to release it.
      wake_.wait(lock, [&] { return !held_ && (stopping_ || !queue_.empty()); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      if (settings_.window.count() > 0 && !stopping_ && queue_.size() >= settings_.wait_when_queued &&
          queue_.size() < settings_.max_group_batches) {
        // Let more batches join this group: one durability point then covers them all.
        wake_.wait_for(lock, settings_.window,
                       [&] { return stopping_ || held_ || queue_.size() >= settings_.max_group_batches; });
        if (held_) continue;
      }
      writing_ = true;
      const std::size_t n = std::min(queue_.size(), settings_.max_group_batches);
      group.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto positions = make_durable_(group);
    if (positions) {
      std::lock_guard lock(mutex_);
      stats_.batches += group.size();
      stats_.syncs += 1;
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (positions) {
        group[i].done((*positions)[i]);
      } else {
        group[i].done(std::unexpected(positions.error()));
      }
    }
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
    }
    idle_.notify_all();
  }
}

void GroupCommitQueue::hold() {
  std::unique_lock lock(mutex_);
  held_ = true;
  idle_.wait(lock, [&] { return !writing_; });
}

void GroupCommitQueue::release_hold() {
  {
    std::lock_guard lock(mutex_);
    held_ = false;
  }
  wake_.notify_all();
}

}  // namespace keyledger::eventstore
