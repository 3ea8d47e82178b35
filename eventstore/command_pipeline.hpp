// The write side: decides each command against its dashboard's state and appends the
// resulting events to the log before anything else sees them.
//
// Threading contract: execute() may be called from any number of threads. Commands of one
// dashboard are decided and appended strictly one after another (one at a time per
// dashboard, from decide until its events are folded; the others wait in a queue, not on a
// thread); different dashboards proceed in parallel and share the log's group commit. No
// thread waits while the log makes a command durable: the log's completion is posted to
// the command's executor, which folds the events and calls the command's callback. State
// changes only by folding events that the log acknowledged as durable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <vector>

#include "domain/decide.hpp"
#include "envelope.hpp"
#include "event_log.hpp"

namespace keyledger::eventstore {

struct CommandMeta {
  domain::Actor actor;
  std::string correlation_id;   // the request id; also the causation id of the events
  std::string idempotency_key;  // empty when the request had none
  std::string request_digest;   // identifies the request an idempotency key was used for
};

struct CommandResult {
  domain::Outcome outcome;         // what was decided (replayed: rebuilt from the log)
  std::vector<Envelope> appended;  // as stored; empty when nothing was appended
  LogPosition first_position;      // of the first appended event; the others follow it
  std::error_code log_error;       // the log refused the batch: nothing changed at all
  bool replayed = false;           // the idempotency key named an earlier, identical request
  bool idempotency_conflict = false;  // the key was used before for a different request
  bool idempotency_in_progress = false;  // a creation with the same key is being decided now
  std::string internal_error;  // deciding or sealing threw (a bug): nothing was appended

  bool accepted() const {
    return !log_error && !idempotency_conflict && !idempotency_in_progress && internal_error.empty() &&
           outcome.accepted();
  }
};

// What a reader of one dashboard sees, consistent with every acknowledged command.
struct DashboardView {
  const domain::DashboardState& state;
  std::uint64_t sequence;        // events in the dashboard's stream
  const std::string& head_hash;  // hash of its last event
};

// A read model's share of each dashboard in snapshots, written and read beside the
// dashboard's decider state. `capture` runs with the dashboard's lock held, so what it takes
// is consistent with the state; it should only copy, and return the writer that encodes the
// copy later, without the lock. `load` restores one dashboard's share before catch-up.
struct SnapshotSection {
  using Writer = std::function<void(std::string& out)>;
  std::string name;
  std::function<Writer(const std::string& dashboard_id)> capture;
  std::function<bool(const std::string& dashboard_id, std::string_view in)> load;
  std::function<void()> clear;  // forgets everything loaded (a snapshot refused half-way)
};

// Start-up and rebuild progress: events folded so far and of how many (estimated from the
// log's ends), called every few thousand events from the folding thread.
using ReplayProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

class CommandPipeline {
 public:
  using Clock = std::function<domain::Timestamp()>;
  // Called for every event once it is durable and folded, in log order per dashboard, with
  // the dashboard's lock held and its state after the event. Listeners must not call back
  // into the pipeline.
  using Listener = std::function<void(const Envelope&, LogPosition position, const domain::DashboardState& after)>;

  CommandPipeline(EventLog& log, Clock clock);
  ~CommandPipeline();

  void subscribe(Listener listener);
  void add_snapshot_section(SnapshotSection section);

  // Folds every log record from the applied positions to the log's end into the state,
  // partition by partition; events a restored snapshot already holds are skipped. Returns
  // an error (and a sentence in `problem`) when a record does not decode. Also run while
  // commands go on, to fold what other processes appended (one catch_up at a time): an
  // event already folded is recognised by its dashboard sequence and skipped, here and when
  // a command's own batch completes.
  std::error_code catch_up(std::string* problem = nullptr, const ReplayProgress& progress = nullptr);
  // Per partition, one past the offset of the last event folded into state: every event
  // before it is applied.
  std::vector<std::uint64_t> applied() const;
  // Events folded into state since position 0 (a snapshot's events included).
  std::uint64_t events() const { return events_.load(std::memory_order_relaxed); }
  // Phone numbers reserved for registrations being decided or made durable right now (here,
  // or by another process of a cluster: see reserve_number).
  std::uint64_t open_reservations() const { return open_reservations_.load(std::memory_order_relaxed); }

  // Runs a function on some thread soon; it must not run it inside the call unless the
  // caller may block (inline() does, for the CLI and tests).
  using Post = std::function<void(std::move_only_function<void()>)>;
  using CommandDone = std::move_only_function<void(CommandResult)>;
  static Post inline_post();

  // SPEC §10, a number whose partition this process owns, for a registration another process
  // decides (the dashboard's owner): reserves it for `dashboard_id` unless another dashboard
  // holds it or has it reserved, and says which dashboard it belongs to now (`dashboard_id`
  // when the reservation is granted). A grant is answered once the log has recorded it (a
  // record of its own, EventLog::record_reservation), so that a process taking the
  // partition over knows it; `done` then runs through `post`, otherwise on the calling
  // thread. The reservation ends when this process folds the registration, when
  // release_number_reservation() is called, or, unclaimed after kRemoteReservationLifetime
  // (counted from the record's time), when the number is asked for again. not_owner when
  // this process does not own the number's partition.
  using Reserved = std::move_only_function<void(std::expected<std::string, std::error_code>)>;
  void reserve_number(const std::string& number, const std::string& dashboard_id, const Post& post, Reserved done);
  void release_number_reservation(const std::string& number, const std::string& dashboard_id);
  // The partition of the dashboard other than `dashboard_id` that holds the number as far as
  // this process knows, when another process writes that partition: a registration refused
  // on that knowledge may be refused on old news (the number deregistered there a moment
  // ago), so the caller first lets this copy catch up (SPEC §10: read your writes). None
  // when the number is free, `dashboard_id`'s, or held in a partition this process writes.
  std::optional<std::uint32_t> number_held_elsewhere(const std::string& number, const std::string& dashboard_id) const;
  static constexpr std::chrono::seconds kRemoteReservationLifetime{30};

  // Decides the command and appends its events; `done` gets the result exactly once: on
  // the calling thread when nothing is appended (no such dashboard, an idempotent replay),
  // otherwise through `post` once the events (refusals are audited: they have one too) are
  // durable and folded. A command queued behind another of its dashboard is decided through
  // its own `post` when its turn comes.
  void execute(const std::string& dashboard_id, domain::Command command, const CommandMeta& meta, Post post,
               CommandDone done);
  // The same, waiting for the result on the calling thread (the CLI, timers, tests).
  CommandResult execute(const std::string& dashboard_id, domain::Command command, const CommandMeta& meta);

  // Calls `read` with the dashboard's state under its lock; false when it does not exist.
  bool with_dashboard(const std::string& dashboard_id,
                      const std::function<void(const DashboardView&)>& read) const;
  std::vector<std::string> dashboard_ids() const;
  // The log partition holding the dashboard's events; none before its first event is folded.
  std::optional<std::uint32_t> partition_of(const std::string& dashboard_id) const;
  // The dashboard's partition, or for one not folded here (yet), where its id places it.
  std::uint32_t placement_of(const std::string& dashboard_id) const {
    return partition_of(dashboard_id).value_or(log_.partition_for(dashboard_id));
  }
  // The partition the log gives a key (a new dashboard's id, an Idempotency-Key).
  std::uint32_t partition_for(std::string_view key) const { return log_.partition_for(key); }
  // Whether this process decides the partition's commands now (SPEC §10: its owner).
  bool decides_partition(std::uint32_t partition) const { return log_.writable(partition).has_value(); }
  // Whether this process decides the dashboard's commands now (SPEC §10: its partition's owner).
  bool decides_for(const std::string& dashboard_id) const;
  // Has this process decide for no partition from now on, if it decides for none now
  // (EventLog::withdraw_if_idle). It asks the log only, so a listener may call it.
  bool withdraw_if_idle() { return log_.withdraw_if_idle(); }

  // Waits, at most `limit`, until every batch the log has completed so far is folded into
  // state. With the log held still (FileLog::hold) the state is then exactly the log's: a
  // backup's cut. False when `limit` passed first.
  bool wait_folded(std::chrono::milliseconds limit) const;

  // The body of a snapshot (docs/storage.md), handed to `sink` piece by piece while commands
  // go on: only one dashboard at a time is held, for as long as it takes to encode it. The
  // cut is the log's end when it starts; a dashboard encoded later may hold events past it,
  // which restore's catch-up recognises by their sequence and skips. False when `sink` does.
  bool write_snapshot(const std::function<bool(std::string_view)>& sink) const;
  // Restores a snapshot body into this (fresh) pipeline and its sections, before catch_up.
  // An error and a sentence when it does not decode or does not fit this log; the pipeline
  // and its sections are then empty again.
  std::error_code restore_snapshot(std::string_view body, std::string* problem = nullptr);
  // Every dashboard's decider state, stream head and idempotency records in a canonical
  // binary form: equal for equal states however they were reached (rebuild digests).
  std::string canonical_state() const;

  domain::Timestamp now() const { return clock_(); }

 private:
  struct SlotRecord;
  struct Slot;
  struct PendingCommand;
  // Whether this process may decide for the dashboard's partition now (folding first what a
  // previous owner wrote, when it was just acquired); an error when not.
  std::error_code ready_to_decide(const Slot& slot, const std::string& dashboard_id);
  void run(Slot& slot, PendingCommand pending);
  void complete(Slot& slot, PendingCommand pending, CommandResult result, AppendResult position,
                const std::string& reserved_number);
  void finish(Slot& slot, CommandDone done, CommandResult result);
  void release_number(const std::string& number);
  // numbers_mutex_ held, the number's partition owned: once per tenure, the reservations of
  // that partition's numbers become those its previous owners recorded and did not end
  // (still in their lifetime).
  void adopt_inherited_reservations(const std::string& number);
  // numbers_mutex_ held: ends a reservation granted to another process's registration;
  // whether there was one.
  bool forget_remote_reservation(const std::string& number, const std::string& dashboard_id);
  // Records that the number's reservation ended (best effort: a record left open lapses with
  // its lifetime).
  void record_release(const std::string& number);
  std::int64_t epoch_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_().time_since_epoch()).count();
  }
  Slot* find_slot(const std::string& dashboard_id) const;
  Slot& slot_for_creation(const std::string& dashboard_id);
  void apply(Slot& slot, const Envelope& envelope, LogPosition position);
  void advance(LogPosition position);
  static std::uint64_t stream_version(const Slot& slot, const std::string& stream);
  CommandResult replay_result(const Slot& slot, const std::string& key, const std::string& digest);
  static void encode_dashboard(const SlotRecord& slot, std::string& out);
  // Platform-wide number ownership from the open dashboards' states (after a restore or a
  // catch-up, whose partition-by-partition order is not the order commands ran in); the
  // reservations of registrations in flight are kept.
  void rebuild_number_owners();
  void forget_everything();

  EventLog& log_;
  Clock clock_;
  std::vector<Listener> listeners_;
  std::vector<SnapshotSection> sections_;

  mutable std::shared_mutex slots_mutex_;  // guards the map; a Slot never moves or goes away
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  std::vector<std::atomic<std::uint64_t>> applied_;  // per partition; sized once
  std::mutex catch_up_mutex_;                        // one catch_up at a time
  std::atomic<std::uint64_t> events_{0};
  std::atomic<std::uint64_t> open_reservations_{0};
  // Batches the log completed whose completion has not run yet (see wait_folded).
  std::atomic<std::uint64_t> unfolded_{0};
  mutable std::atomic<int> fold_waiters_{0};
  mutable std::mutex folded_mutex_;
  mutable std::condition_variable all_folded_;

  // Platform-wide phone number ownership (SPEC §3's cross-dashboard invariant). A number
  // is reserved here before its registration is decided, so two concurrent registrations
  // in two dashboards cannot both succeed.
  mutable std::mutex numbers_mutex_;
  std::map<std::string, std::string> number_owner_;
  // Reservations granted to other processes' registrations, not folded here yet.
  struct RemoteReservation {
    std::string dashboard_id;
    std::chrono::steady_clock::time_point granted_at;
  };
  std::map<std::string, RemoteReservation> remote_reservations_;

  // Idempotency keys of dashboard creation, which no dashboard scope can hold yet.
  mutable std::mutex creation_keys_mutex_;
  std::map<std::string, std::string> creation_keys_;  // key -> dashboard id
  std::set<std::string> creating_keys_;              // creations with these keys are under way
};

}  // namespace keyledger::eventstore
