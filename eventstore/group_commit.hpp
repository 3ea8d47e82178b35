// Group commit, the one mechanism both logs share: appenders queue batches and return at
// once; one writer thread takes every batch waiting (after an optional short window that
// lets more arrive), hands the group to the backend to make durable in one step (one
// fdatasync, one Kafka transaction), and completes each batch by its callback, in order.
// A backend only says how a group becomes durable.
//
// Threading: submit(), refuse(), allow() and stats() from any thread; the backend's
// MakeDurable and every completion run on the writer thread, one group at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "event_log.hpp"

namespace keyledger::eventstore {

struct PendingBatch {
  std::vector<AppendRecord> records;
  AppendDone done;
  // Records of the backend's own made durable with the batch, all or none (Kafka: number
  // reservations, in the same transaction). The file log takes none.
  std::vector<NumberReservation> reservations;
};

struct GroupCommitSettings {
  // How long the writer waits for more batches to join a group once it sees others waiting
  // (at least `wait_when_queued` batches): on a fast disk an fsync is over before the next
  // command arrives, and a short wait makes one sync cover many commands. A lone appender
  // never waits. Zero: a group is whatever queued while the previous one was made durable.
  std::chrono::microseconds window{0};
  std::size_t wait_when_queued = 2;
  std::size_t max_group_batches = 4096;
  std::string thread_name = "kl-commit";  // the writer thread's (thread_name.hpp)
};

class GroupCommitQueue {
 public:
  // Makes every batch of a group durable, all or none: the position of each batch's first
  // record, in order, or one error for all of them (then none of them is in the log).
  using MakeDurable = std::function<std::expected<std::vector<LogPosition>, std::error_code>(std::span<PendingBatch>)>;

  GroupCommitQueue(MakeDurable make_durable, GroupCommitSettings settings);
  // Writes what is still queued, then stops the writer thread (stop()).
  ~GroupCommitQueue();
  // The same, before the queue goes: a backend whose make-durable step uses the queue
  // (refuse() from the writer thread) stops it while the queue is still reachable.
  void stop();
  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  void submit(PendingBatch batch);

  // From now on submit() completes at once with `why` (a fenced or broken log, a stalled
  // commit); fail_queued also completes what is already waiting. allow() lifts a refusal.
  void refuse(std::error_code why);
  void fail_queued(std::error_code why);
  void allow();

  LogStats stats() const;

  // Keeps the writer between groups until release_hold(): appenders still queue, but no
  // batch becomes durable meanwhile. Returns once the group being written, if any, is
  // durable and its batches completed (a consistent cut of the log: a backup's). One
  // holder at a time.
  void hold();
  void release_hold();

 private:
  void writer_loop();

  MakeDurable make_durable_;
  GroupCommitSettings settings_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<PendingBatch> queue_;
  std::error_code refusal_;
  bool stopping_ = false;
  bool held_ = false;     // hold() until release_hold()
  bool writing_ = false;  // a group is taken and not yet completed
  std::condition_variable idle_;
  LogStats stats_;
  std::thread writer_;
};

}  // namespace keyledger::eventstore
