#include "command_pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <thread>
#include <type_traits>

#include "binary_codec.hpp"
#include "crypto/crypto.hpp"
#include "rfc3339.hpp"
#include "state_codec.hpp"
#include "thread_name.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

// One dashboard: its decider state and its stream's head (a copyable record, for snapshots),
// guarded by one mutex.
struct CommandPipeline::SlotRecord {
  domain::DashboardState state;
  std::uint64_t sequence = 0;
  std::string head_hash = kGenesisHash;
  std::optional<LogPosition> last_position;  // of its last event
  // Versions of the dashboard's streams other than its keys' (users, numbers, bots, the
  // dashboard itself); a key's stream version is its ApiKey::version.
  std::map<std::string, std::uint64_t> stream_versions;
  struct IdempotentRequest {
    std::string digest;
    LogPosition first_position;
    std::uint32_t count;
  };
  std::map<std::string, IdempotentRequest> idempotency;
};
struct CommandPipeline::PendingCommand {
  std::string dashboard_id;
  domain::Command command;
  CommandMeta meta;
  Post post;
  CommandDone done;
};
// `mutex` guards everything here. One command of the dashboard at a time holds `busy`, from
// when it is taken until its events are folded; the others wait in `waiting`, in arrival
// order, without a thread. `in_flight` is true while a command's events are at the log and
// not yet folded: a snapshot waits for it (see write_snapshot), and while one waits
// (`snapshot_waiting`) no further command starts, so that it cannot be starved.
struct CommandPipeline::Slot : SlotRecord {
  mutable std::mutex mutex;
  bool busy = false;
  bool in_flight = false;
  mutable std::size_t snapshot_waiting = 0;
  mutable std::condition_variable folded;
  mutable std::deque<PendingCommand> waiting;
};

CommandPipeline::CommandPipeline(EventLog& log, Clock clock)
    : log_(log), clock_(std::move(clock)), applied_(log.partitions()) {}
CommandPipeline::~CommandPipeline() = default;

void CommandPipeline::subscribe(Listener listener) { listeners_.push_back(std::move(listener)); }

void CommandPipeline::add_snapshot_section(SnapshotSection section) { sections_.push_back(std::move(section)); }

std::vector<std::uint64_t> CommandPipeline::applied() const {
  std::vector<std::uint64_t> out;
  for (auto& a : applied_) out.push_back(a.load(std::memory_order_acquire));
  return out;
}

CommandPipeline::Slot* CommandPipeline::find_slot(const std::string& dashboard_id) const {
  std::shared_lock lock(slots_mutex_);
  auto it = slots_.find(dashboard_id);
  return it == slots_.end() ? nullptr : it->second.get();
}

std::optional<std::uint32_t> CommandPipeline::partition_of(const std::string& dashboard_id) const {
  Slot* slot = find_slot(dashboard_id);
  if (!slot) return std::nullopt;
  std::lock_guard lock(slot->mutex);
  if (!slot->last_position) return std::nullopt;
  return slot->last_position->partition;
}

bool CommandPipeline::decides_for(const std::string& dashboard_id) const {
  return log_.writable(placement_of(dashboard_id)).has_value();
}

CommandPipeline::Slot& CommandPipeline::slot_for_creation(const std::string& dashboard_id) {
  std::unique_lock lock(slots_mutex_);
  auto& slot = slots_[dashboard_id];
  if (!slot) slot = std::make_unique<Slot>();
  return *slot;
}

namespace {
constexpr std::string_view kKeyStream = "key:";
bool is_key_stream(std::string_view stream) { return stream.starts_with(kKeyStream); }
}  // namespace

// The version the stream has reached: a key's from its state (a key is never forgotten, so
// a key not in the state has had no event yet), any other from the slot's table.
std::uint64_t CommandPipeline::stream_version(const Slot& slot, const std::string& stream) {
  if (is_key_stream(stream)) {
    auto key = slot.state.keys.find(stream.substr(kKeyStream.size()));
    return key == slot.state.keys.end() ? 0 : key->second.version;
  }
  auto it = slot.stream_versions.find(stream);
  return it == slot.stream_versions.end() ? 0 : it->second;
}

// Folds one durable event into its dashboard's slot and the platform-wide indexes.
// Runs with the slot's mutex held (or single-threaded during catch-up).
void CommandPipeline::apply(Slot& slot, const Envelope& e, LogPosition position) {
  domain::evolve(slot.state, e.recorded);
  slot.sequence = e.sequence;
  slot.head_hash = e.hash;
  slot.last_position = position;
  if (!is_key_stream(e.stream)) slot.stream_versions[e.stream] = e.stream_version;
  std::visit(
      [&](const auto& event) {
        using E = std::decay_t<decltype(event)>;
        if constexpr (std::is_same_v<E, domain::SmsNumberRegistered>) {
          std::lock_guard lock(numbers_mutex_);
          number_owner_[event.number] = e.dashboard_id;
          if (remote_reservations_.erase(event.number) > 0) {
            open_reservations_.fetch_sub(1, std::memory_order_relaxed);
            record_release(event.number);  // by the number's owner (elsewhere refused, harmlessly)
          }
        } else if constexpr (std::is_same_v<E, domain::SmsNumberDeregistered>) {
          // Only this dashboard's: another may hold (or be registering) the number by now.
          std::lock_guard lock(numbers_mutex_);
          if (auto it = number_owner_.find(event.number); it != number_owner_.end() && it->second == e.dashboard_id) {
            number_owner_.erase(it);
          }
        } else if constexpr (std::is_same_v<E, domain::DashboardClosed>) {
          std::lock_guard lock(numbers_mutex_);
          std::erase_if(number_owner_, [&](const auto& entry) { return entry.second == e.dashboard_id; });
          for (auto r = remote_reservations_.begin(); r != remote_reservations_.end();) {
            if (r->second.dashboard_id != e.dashboard_id) {
              ++r;
              continue;
            }
            record_release(r->first);  // a registration in flight for the closed dashboard
            r = remote_reservations_.erase(r);
            open_reservations_.fetch_sub(1, std::memory_order_relaxed);
          }
        } else if constexpr (std::is_same_v<E, domain::DashboardCreated>) {
          if (!e.idempotency_key.empty()) {
            std::lock_guard lock(creation_keys_mutex_);
            creation_keys_[e.idempotency_key] = e.dashboard_id;
          }
        }
      },
      e.recorded.event);
  if (!e.idempotency_key.empty()) {
    auto [it, inserted] = slot.idempotency.try_emplace(e.idempotency_key,
                                                       Slot::IdempotentRequest{e.request_digest, position, 0});
    if (it->second.first_position.partition == position.partition &&
        it->second.first_position.offset + it->second.count == position.offset) {
      ++it->second.count;
    }
    (void)inserted;
  }
  for (auto& listener : listeners_) listener(e, position, slot.state);
  events_.fetch_add(1, std::memory_order_relaxed);
  advance(position);
}

void CommandPipeline::advance(LogPosition position) {
  auto& applied = applied_[position.partition];
  std::uint64_t next = position.offset + 1;
  std::uint64_t current = applied.load(std::memory_order_relaxed);
  while (current < next && !applied.compare_exchange_weak(current, next, std::memory_order_acq_rel)) {
  }
}

namespace {

// A queue of at most `capacity` items between two threads; close() ends it for both sides.
template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  bool push(T item) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    changed_.notify_all();
    return true;
  }
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    changed_.notify_all();
    return item;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<T> items_;
  bool closed_ = false;
};

struct DecodedRecord {
  LogPosition position;
  std::expected<Envelope, std::string> envelope;
};

}  // namespace

// Two stages on two threads: one reads the log and decodes envelopes (most of the work), the
// caller's thread folds them, in log order, as they come.
std::error_code CommandPipeline::catch_up(std::string* problem, const ReplayProgress& progress) {
  std::lock_guard one_at_a_time(catch_up_mutex_);
  std::uint64_t total = 0, done = 0;
  for (std::uint32_t p = 0; p < applied_.size(); ++p) total += log_.end(p) - std::min(log_.end(p), applied_[p].load());
  constexpr std::size_t kBatch = 512;
  BoundedQueue<std::vector<DecodedRecord>> decoded(8);
  std::error_code read_failure;
  std::thread decoder([&] {
    name_this_thread("kl-decode");
    std::vector<DecodedRecord> batch;
    batch.reserve(kBatch);
    for (std::uint32_t p = 0; p < applied_.size() && !read_failure; ++p) {
      bool open = true;
      read_failure = log_.read(p, applied_[p].load(), log_.end(p), [&](const StoredRecord& record) {
        batch.push_back(DecodedRecord{record.position, decode_envelope(record.bytes, DecodeScope::fold)});
        if (batch.size() < kBatch) return true;
        open = decoded.push(std::move(batch));
        batch = {};
        batch.reserve(kBatch);
        return open;
      });
      if (!open) break;
    }
    if (!batch.empty()) decoded.push(std::move(batch));
    decoded.close();
  });
  std::error_code failure;
  while (auto batch = decoded.pop()) {
    for (auto& record : *batch) {
      if (!record.envelope) {
        if (problem) *problem = "event at position " + record.position.to_string() + ": " + record.envelope.error();
        failure = make_error_code(StoreErrc::decode_failed);
        break;
      }
      const Envelope& envelope = *record.envelope;
      Slot* slot = find_slot(envelope.dashboard_id);
      if (!slot) slot = &slot_for_creation(envelope.dashboard_id);
      std::lock_guard lock(slot->mutex);
      if (envelope.sequence <= slot->sequence) {
        advance(record.position);  // a restored snapshot holds it already
      } else {
        apply(*slot, envelope, record.position);
      }
      if (progress && ++done % 4096 == 0) progress(done, total);
    }
    if (failure) break;
  }
  decoded.close();  // a failure stops the decoder too
  decoder.join();
  if (!failure) failure = read_failure;
  if (progress) progress(total, total);
  rebuild_number_owners();
  return failure;
}

void CommandPipeline::rebuild_number_owners() {
  std::map<std::string, std::string> owners;
  {
    std::shared_lock lock(slots_mutex_);
    for (auto& [id, slot] : slots_) {
      std::lock_guard slot_lock(slot->mutex);
      if (!slot->state.exists || slot->state.closed) continue;
      for (auto& [number, registration] : slot->state.numbers) owners[number] = id;
    }
  }
  std::lock_guard numbers(numbers_mutex_);
  // A number no state holds may be reserved by a registration in flight (catch_up also runs
  // while commands go on): it stays reserved.
  for (auto& [number, dashboard] : number_owner_) owners.try_emplace(number, dashboard);
  number_owner_ = std::move(owners);
}

CommandResult CommandPipeline::replay_result(const Slot& slot, const std::string& key, const std::string& digest) {
  CommandResult result;
  const auto& request = slot.idempotency.at(key);
  if (request.digest != digest) {
    result.idempotency_conflict = true;
    return result;
  }
  result.replayed = true;
  result.first_position = request.first_position;
  const LogPosition first = request.first_position;
  log_.read(first.partition, first.offset, first.offset + request.count, [&](const StoredRecord& record) {
    if (auto envelope = decode_envelope(record.bytes)) {
      result.outcome.events.push_back(envelope->recorded.event);
      if (auto* denied = std::get_if<domain::CommandDenied>(&envelope->recorded.event); denied && !result.outcome.rejection) {
        result.outcome.rejection = domain::Rejection{denied->code, {}, denied->detail};
      }
      result.appended.push_back(std::move(*envelope));
    }
    return true;
  });
  return result;
}

CommandPipeline::Post CommandPipeline::inline_post() {
  return [](std::move_only_function<void()> f) { f(); };
}

CommandResult CommandPipeline::execute(const std::string& dashboard_id, domain::Command command,
                                       const CommandMeta& meta) {
  std::promise<CommandResult> result;
  auto future = result.get_future();
  execute(dashboard_id, std::move(command), meta, inline_post(),
          [&result](CommandResult r) { result.set_value(std::move(r)); });
  return future.get();
}

void CommandPipeline::execute(const std::string& dashboard_id, domain::Command command, const CommandMeta& meta,
                              Post post, CommandDone done) {
  const bool creation = std::holds_alternative<domain::CreateDashboard>(command);
  if (creation && !meta.idempotency_key.empty()) {
    std::string existing;
    {
      std::lock_guard lock(creation_keys_mutex_);
      if (auto it = creation_keys_.find(meta.idempotency_key); it != creation_keys_.end()) {
        existing = it->second;
      } else if (!creating_keys_.insert(meta.idempotency_key).second) {
        // The same key's first creation is not decided yet: its retry is answered once it is.
        CommandResult result;
        result.idempotency_in_progress = true;
        return done(std::move(result));
      } else {
        // Let go once this creation is decided (and, if accepted, folded: the key is then
        // in creation_keys_).
        done = [this, key = meta.idempotency_key, done = std::move(done)](CommandResult result) mutable {
          {
            std::lock_guard lock(creation_keys_mutex_);
            creating_keys_.erase(key);
          }
          done(std::move(result));
        };
      }
    }
    if (!existing.empty()) {
      Slot& slot = *find_slot(existing);
      CommandResult result;
      {
        std::lock_guard lock(slot.mutex);
        result = replay_result(slot, meta.idempotency_key, meta.request_digest);
      }
      return done(std::move(result));
    }
  }
  Slot* found = creation ? &slot_for_creation(dashboard_id) : find_slot(dashboard_id);
  if (!found) {
    // No such dashboard: decide against the empty state, which refuses without events.
    static const Slot kNoDashboard;
    CommandResult result;
    result.outcome = domain::decide(kNoDashboard.state, command, {meta.actor, clock_()});
    return done(std::move(result));
  }
  Slot& slot = *found;
  PendingCommand pending{dashboard_id, std::move(command), meta, std::move(post), std::move(done)};
  {
    std::lock_guard lock(slot.mutex);
    if (slot.busy || slot.snapshot_waiting > 0) {
      slot.waiting.push_back(std::move(pending));
      return;
    }
    slot.busy = true;
  }
  run(slot, std::move(pending));
}

// Decides one command of a dashboard whose turn it is (the caller set `busy` for it) and
// hands its events to the log; complete() continues once they are durable.
std::error_code CommandPipeline::ready_to_decide(const Slot& slot, const std::string& dashboard_id) {
  std::uint32_t partition = 0;
  {
    std::lock_guard lock(slot.mutex);
    partition = slot.last_position ? slot.last_position->partition : log_.partition_for(dashboard_id);
  }
  const auto from = log_.writable(partition);
  if (!from) return make_error_code(StoreErrc::not_owner);
  if (partition >= applied_.size() || applied_[partition].load() >= *from) return {};
  // Just acquired: fold what the previous owner wrote before deciding anything after it.
  std::string problem;
  if (auto ec = catch_up(&problem)) return ec;
  return applied_[partition].load() >= *from ? std::error_code{} : make_error_code(StoreErrc::log_unavailable);
}

void CommandPipeline::run(Slot& slot, PendingCommand pending) {
  // SPEC §10: only the partition's owner decides, from a state that holds what it was given.
  if (auto refused = ready_to_decide(slot, pending.dashboard_id)) {
    CommandResult result;
    result.log_error = refused;
    return finish(slot, std::move(pending.done), std::move(result));
  }
  std::unique_lock lock(slot.mutex);
  const CommandMeta& meta = pending.meta;
  if (!meta.idempotency_key.empty() && slot.idempotency.contains(meta.idempotency_key)) {
    CommandResult replayed = replay_result(slot, meta.idempotency_key, meta.request_digest);
    lock.unlock();
    return finish(slot, std::move(pending.done), std::move(replayed));
  }

  // Reserve a phone number platform-wide before deciding its registration. On a cluster the
  // reservations are exact only in the process that owns the number's own partition (every
  // registration of that number is decided there): another process may refuse one (an
  // invalid number, one registered elsewhere as far as it knows) but not accept it.
  // Elsewhere, the caller may have had the number's owner reserve it (reserve_number on that
  // process): the command then names the dashboard that owner said holds the number.
  std::string reserved_number;
  bool number_decided_elsewhere = false;
  if (auto* registration = std::get_if<domain::RegisterSmsNumber>(&pending.command)) {
    std::lock_guard numbers(numbers_mutex_);
    if (log_.writable(log_.partition_for(registration->number))) {
      adopt_inherited_reservations(registration->number);
      auto [it, inserted] = number_owner_.try_emplace(registration->number, pending.dashboard_id);
      registration->registered_in_dashboard = it->second;
      if (inserted) {
        reserved_number = registration->number;
        open_reservations_.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      const bool granted = registration->registered_in_dashboard == pending.dashboard_id;
      number_decided_elsewhere = !granted;
      if (auto it = number_owner_.find(registration->number); it != number_owner_.end() && it->second != pending.dashboard_id) {
        registration->registered_in_dashboard = it->second;  // known here to be another's
      } else if (registration->registered_in_dashboard.empty()) {
        registration->registered_in_dashboard = pending.dashboard_id;
      }
    }
  }

  CommandResult result;
  const domain::Timestamp now = clock_();
  // A command that ends here, nothing appended: the dashboard's turn and any number reserved
  // for it are given back before it is answered.
  auto end_here = [&](CommandResult answer) {
    lock.unlock();
    release_number(reserved_number);
    if (!reserved_number.empty()) open_reservations_.fetch_sub(1, std::memory_order_relaxed);
    finish(slot, std::move(pending.done), std::move(answer));
  };
  // What throws while deciding or sealing is a bug, not a refusal (those are values): the
  // command is answered as failed and the dashboard goes on.
  auto failed = [](const std::exception& e) {
    CommandResult answer;
    answer.internal_error = e.what();
    return answer;
  };
  try {
    result.outcome = domain::decide(slot.state, pending.command, {meta.actor, now});
  } catch (const std::exception& e) {
    return end_here(failed(e));
  }
  if (number_decided_elsewhere && std::ranges::any_of(result.outcome.events, [](const domain::Event& e) {
        return std::holds_alternative<domain::SmsNumberRegistered>(e);
      })) {
    CommandResult refused;
    refused.log_error = make_error_code(StoreErrc::not_owner);
    return end_here(std::move(refused));
  }
  if (result.outcome.events.empty()) return end_here(std::move(result));

  std::vector<AppendRecord> records;
  std::uint64_t sequence = slot.sequence;
  std::string prev_hash = slot.head_hash;
  std::map<std::string, std::uint64_t> stream_versions;
  const std::string occurred_at = format_rfc3339(now);
  try {
    for (const auto& event : result.outcome.events) {
      Envelope e;
      e.id = crypto::uuid_v7(now.time_since_epoch().count());
      e.dashboard_id = pending.dashboard_id;
      e.stream = domain::stream_of(event);
      auto known = stream_versions.find(e.stream);
      std::uint64_t base = known != stream_versions.end() ? known->second : stream_version(slot, e.stream);
      e.stream_version = stream_versions[e.stream] = base + 1;
      e.sequence = ++sequence;
      e.recorded = domain::RecordedEvent{event, meta.actor, now, e.sequence};
      e.correlation_id = meta.correlation_id;
      e.causation_id = meta.correlation_id;
      e.idempotency_key = meta.idempotency_key;
      e.request_digest = meta.idempotency_key.empty() ? "" : meta.request_digest;
      e.prev_hash = prev_hash;
      std::string bytes = seal_envelope(e);
      prev_hash = e.hash;
      records.push_back(AppendRecord{pending.dashboard_id, e.id, std::string(e.type()), occurred_at, std::move(bytes)});
      result.appended.push_back(std::move(e));
    }
  } catch (const std::exception& e) {
    return end_here(failed(e));
  }
  slot.in_flight = true;
  lock.unlock();

  // The log's writer thread only posts: folding and answering happen on the command's
  // executor, so the writer goes on to the next group at once.
  Post post = pending.post;
  log_.append(std::move(records), [this, &slot, post = std::move(post), pending = std::move(pending),
                                   result = std::move(result),
                                   reserved_number = std::move(reserved_number)](AppendResult position) mutable {
    unfolded_.fetch_add(1);
    post([this, &slot, pending = std::move(pending), result = std::move(result),
          reserved_number = std::move(reserved_number), position = std::move(position)]() mutable {
      complete(slot, std::move(pending), std::move(result), position, reserved_number);
    });
  });
}

// Folds a command's durable events (or forgets them, when the log refused the batch), then
// lets the dashboard's next command run.
void CommandPipeline::complete(Slot& slot, PendingCommand pending, CommandResult result, AppendResult position,
                               const std::string& reserved_number) {
  bool release = false;
  {
    std::lock_guard lock(slot.mutex);
    if (!position) {
      release = true;
      result.log_error = position.error();
      result.appended.clear();
    } else {
      result.first_position = *position;
      for (std::size_t i = 0; i < result.appended.size(); ++i) {
        const LogPosition at{position->partition, position->offset + i};
        // A follower of the log (a Kafka replica) may have folded it first: catch_up()
        // reads what the log holds, and the batch is in the log before this runs.
        if (result.appended[i].sequence <= slot.sequence) {
          advance(at);
          continue;
        }
        apply(slot, result.appended[i], at);
      }
      // Kept only when the number is now registered here; a refused registration (audited,
      // so it has events too) must not hold it.
      release = !slot.state.exists || !slot.state.numbers.contains(reserved_number);
    }
    slot.in_flight = false;
  }
  slot.folded.notify_all();
  if (unfolded_.fetch_sub(1) == 1 && fold_waiters_.load() > 0) {
    std::lock_guard lock(folded_mutex_);
    all_folded_.notify_all();
  }
  if (release) release_number(reserved_number);
  if (!reserved_number.empty()) open_reservations_.fetch_sub(1, std::memory_order_relaxed);
  finish(slot, std::move(pending.done), std::move(result));
}

// Answers a command whose events (if any) are folded and starts the dashboard's next one
// through that one's executor, unless a snapshot waits for the dashboard (it starts it then).
void CommandPipeline::finish(Slot& slot, CommandDone done, CommandResult result) {
  std::optional<PendingCommand> next;
  {
    std::lock_guard lock(slot.mutex);
    if (!slot.waiting.empty() && slot.snapshot_waiting == 0) {
      next.emplace(std::move(slot.waiting.front()));
      slot.waiting.pop_front();
    } else {
      slot.busy = false;
    }
  }
  done(std::move(result));
  if (next) {
    Post post = next->post;
    post([this, &slot, pending = std::move(*next)]() mutable { run(slot, std::move(pending)); });
  }
}

void CommandPipeline::reserve_number(const std::string& number, const std::string& dashboard_id, const Post& post,
                                     Reserved done) {
  if (!log_.writable(log_.partition_for(number))) return done(std::unexpected(make_error_code(StoreErrc::not_owner)));
  const auto now = std::chrono::steady_clock::now();
  std::string holder;
  {
    std::lock_guard numbers(numbers_mutex_);
    adopt_inherited_reservations(number);
    if (auto r = remote_reservations_.find(number);
        r != remote_reservations_.end() && r->second.dashboard_id != dashboard_id &&
        now - r->second.granted_at > kRemoteReservationLifetime) {
      // Granted long ago and never registered (its process failed before it could, say).
      forget_remote_reservation(number, r->second.dashboard_id);
    }
    auto [it, inserted] = number_owner_.try_emplace(number, dashboard_id);
    holder = it->second;
    if (inserted) {
      remote_reservations_[number] = RemoteReservation{dashboard_id, now};
      open_reservations_.fetch_add(1, std::memory_order_relaxed);
    } else if (auto r = remote_reservations_.find(number); r != remote_reservations_.end() && r->second.dashboard_id == dashboard_id) {
      r->second.granted_at = now;  // the same registration asked again: recorded again below
    } else {
      return done(std::move(holder));  // another's, or registered: nothing to record
    }
  }
  log_.record_reservation(
      NumberReservation{number, dashboard_id, epoch_ms()},
      [this, number, dashboard_id, post, done = std::move(done)](AppendResult recorded) mutable {
        if (!recorded) {
          std::lock_guard numbers(numbers_mutex_);
          forget_remote_reservation(number, dashboard_id);
        }
        post([done = std::move(done), recorded, dashboard_id]() mutable {
          if (!recorded) return done(std::unexpected(recorded.error()));
          done(dashboard_id);
        });
      });
}

void CommandPipeline::adopt_inherited_reservations(const std::string& number) {
  const std::uint32_t partition = log_.partition_for(number);
  auto inherited = log_.take_inherited_reservations(partition);
  if (!inherited) return;
  // What this process granted in an earlier tenure may have ended elsewhere since.
  std::vector<std::pair<std::string, std::string>> earlier;
  for (const auto& [n, r] : remote_reservations_) {
    if (log_.partition_for(n) == partition) earlier.emplace_back(n, r.dashboard_id);
  }
  for (const auto& [n, dashboard] : earlier) forget_remote_reservation(n, dashboard);
  const auto now = epoch_ms();
  for (const auto& recorded : *inherited) {
    const auto age = std::chrono::milliseconds(std::max<std::int64_t>(0, now - recorded.at_ms));
    if (age >= kRemoteReservationLifetime || number_owner_.contains(recorded.number)) {
      record_release(recorded.number);  // lapsed, or its registration is folded already
      continue;
    }
    number_owner_[recorded.number] = recorded.dashboard_id;
    remote_reservations_[recorded.number] = RemoteReservation{recorded.dashboard_id, std::chrono::steady_clock::now() - age};
    open_reservations_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool CommandPipeline::forget_remote_reservation(const std::string& number, const std::string& dashboard_id) {
  auto r = remote_reservations_.find(number);
  if (r == remote_reservations_.end() || r->second.dashboard_id != dashboard_id) return false;
  remote_reservations_.erase(r);
  open_reservations_.fetch_sub(1, std::memory_order_relaxed);
  if (auto it = number_owner_.find(number); it != number_owner_.end() && it->second == dashboard_id) number_owner_.erase(it);
  return true;
}

std::optional<std::uint32_t> CommandPipeline::number_held_elsewhere(const std::string& number,
                                                                    const std::string& dashboard_id) const {
  std::string holder;
  {
    std::lock_guard numbers(numbers_mutex_);
    const auto it = number_owner_.find(number);
    if (it == number_owner_.end() || it->second == dashboard_id) return std::nullopt;
    holder = it->second;
  }
  const std::uint32_t partition = placement_of(holder);
  if (log_.writable(partition)) return std::nullopt;
  return partition;
}

void CommandPipeline::release_number_reservation(const std::string& number, const std::string& dashboard_id) {
  {
    std::lock_guard numbers(numbers_mutex_);
    if (!forget_remote_reservation(number, dashboard_id)) return;
  }
  record_release(number);
}

void CommandPipeline::record_release(const std::string& number) {
  log_.record_reservation(NumberReservation{number, "", epoch_ms()}, [](AppendResult) {});
}

void CommandPipeline::release_number(const std::string& number) {
  if (number.empty()) return;
  std::lock_guard numbers(numbers_mutex_);
  number_owner_.erase(number);
}

bool CommandPipeline::wait_folded(std::chrono::milliseconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  fold_waiters_.fetch_add(1);
  std::unique_lock lock(folded_mutex_);
  // Woken when the count reaches zero; the short timeout covers a wake-up that raced the wait.
  while (unfolded_.load() != 0 && std::chrono::steady_clock::now() < deadline) {
    all_folded_.wait_for(lock, std::chrono::milliseconds(1));
  }
  fold_waiters_.fetch_sub(1);
  return unfolded_.load() == 0;
}

bool CommandPipeline::with_dashboard(const std::string& dashboard_id,
                                     const std::function<void(const DashboardView&)>& read) const {
  Slot* slot = find_slot(dashboard_id);
  if (!slot) return false;
  std::lock_guard lock(slot->mutex);
  if (!slot->state.exists) return false;
  read(DashboardView{slot->state, slot->sequence, slot->head_hash});
  return true;
}

std::vector<std::string> CommandPipeline::dashboard_ids() const {
  std::shared_lock lock(slots_mutex_);
  std::vector<std::string> ids;
  for (auto& [id, slot] : slots_) ids.push_back(id);
  return ids;
}

// The snapshot body: the cut, the section names, then every dashboard (its stream head,
// idempotency records, decider state and each section's share), then creation keys.
//   varint partitions, varint cut[p]... | varint sections, bytes name... |
//   (u8 1 | bytes id | bytes dashboard | bytes section...)* u8 0 | varint n, (bytes key, bytes id)*
void CommandPipeline::encode_dashboard(const SlotRecord& slot, std::string& out) {
  binary::Writer w(out);
  w.varint(slot.sequence);
  w.bytes(slot.head_hash);
  w.boolean(slot.last_position.has_value());
  if (slot.last_position) {
    w.u32(slot.last_position->partition);
    w.varint(slot.last_position->offset);
  }
  w.varint(slot.stream_versions.size());
  for (auto& [stream, version] : slot.stream_versions) {
    w.bytes(stream);
    w.varint(version);
  }
  w.varint(slot.idempotency.size());
  for (auto& [key, request] : slot.idempotency) {
    w.bytes(key);
    w.bytes(request.digest);
    w.u32(request.first_position.partition);
    w.varint(request.first_position.offset);
    w.varint(request.count);
  }
  encode_state(w, slot.state);
}

bool CommandPipeline::write_snapshot(const std::function<bool(std::string_view)>& sink) const {
  std::string buffer;
  binary::Writer w(buffer);
  // The cut, per partition: the log's end now, but no further than what is applied. Every
  // event before it is then folded once its dashboard has no command in flight (waited for
  // below): this process's own commands fold out of order, but records other processes
  // appended (a Kafka replica) are folded in order by catch_up, which may be behind the end.
  auto cut = log_.ends();
  const auto applied_now = applied();
  for (std::size_t p = 0; p < cut.size(); ++p) cut[p] = std::min(cut[p], applied_now[p]);
  w.varint(cut.size());
  for (auto end : cut) w.varint(end);
  w.varint(sections_.size());
  for (auto& section : sections_) w.bytes(section.name);
  std::vector<std::pair<std::string, Slot*>> dashboards;
  {
    std::shared_lock lock(slots_mutex_);  // every dashboard with an event before the cut is here
    for (auto& [id, slot] : slots_) dashboards.emplace_back(id, slot.get());
  }
  std::string part;
  std::vector<SnapshotSection::Writer> writers;
  for (auto& [id, slot] : dashboards) {
    // Under the dashboard's lock only copies (what commands of that dashboard wait for);
    // the encoding happens after.
    // A command whose events are at the log but not yet folded may be before the cut: wait
    // for its fold (and start no other meanwhile), then copy.
    SlotRecord record;
    writers.clear();
    std::optional<PendingCommand> next;
    {
      std::unique_lock lock(slot->mutex);
      ++slot->snapshot_waiting;
      slot->folded.wait(lock, [&] { return !slot->in_flight; });
      if (slot->state.exists) {
        record = *slot;
        for (auto& section : sections_) writers.push_back(section.capture(id));
      }
      if (--slot->snapshot_waiting == 0 && !slot->busy && !slot->waiting.empty()) {
        slot->busy = true;
        next.emplace(std::move(slot->waiting.front()));
        slot->waiting.pop_front();
      }
    }
    if (next) {
      auto* self = const_cast<CommandPipeline*>(this);
      Post post = next->post;
      post([self, slot, pending = std::move(*next)]() mutable { self->run(*slot, std::move(pending)); });
    }
    if (!record.state.exists) continue;
    w.u8(1);
    w.bytes(id);
    part.clear();
    encode_dashboard(record, part);
    w.bytes(part);
    for (auto& write : writers) {
      part.clear();
      write(part);
      w.bytes(part);
    }
    if (buffer.size() >= (1u << 20)) {
      if (!sink(buffer)) return false;
      buffer.clear();
    }
  }
  w.u8(0);
  std::map<std::string, std::string> creation_keys;
  {
    std::lock_guard lock(creation_keys_mutex_);
    creation_keys = creation_keys_;
  }
  w.varint(creation_keys.size());
  for (auto& [key, dashboard] : creation_keys) {
    w.bytes(key);
    w.bytes(dashboard);
  }
  return sink(buffer);
}

std::error_code CommandPipeline::restore_snapshot(std::string_view body, std::string* problem) {
  auto refuse = [&](const std::string& why) {
    if (problem) *problem = why;
    forget_everything();
    return make_error_code(StoreErrc::decode_failed);
  };
  binary::Reader r(body);
  const auto partitions = r.count();
  if (partitions != applied_.size()) return refuse("the snapshot is of a log with another number of partitions");
  std::vector<std::uint64_t> cut(partitions);
  for (auto& end : cut) end = r.varint();
  for (std::uint32_t p = 0; p < partitions; ++p) {
    if (cut[p] > log_.end(p)) return refuse("the snapshot is beyond the log's end (partition " + std::to_string(p) + ")");
  }
  std::vector<std::string> names(r.count());
  for (auto& name : names) name = r.string();
  if (names.size() != sections_.size() ||
      !std::equal(names.begin(), names.end(), sections_.begin(), [](auto& n, auto& s) { return n == s.name; })) {
    return refuse("the snapshot's read models are not the ones this keyledger keeps");
  }
  std::uint64_t events = 0;
  while (r.ok() && r.u8() == 1) {
    const std::string id = r.string();
    binary::Reader d(r.bytes());
    Slot& slot = slot_for_creation(id);
    slot.sequence = d.varint();
    slot.head_hash = d.string();
    if (d.boolean()) {
      LogPosition last{d.u32(), d.varint()};
      if (last.partition >= partitions || last.offset >= log_.end(last.partition)) {
        return refuse("dashboard " + id + "'s last event is beyond the log's end");
      }
      slot.last_position = last;
    }
    for (auto n = d.count(); n > 0 && d.ok(); --n) {
      std::string stream = d.string();
      slot.stream_versions[stream] = d.varint();
    }
    for (auto n = d.count(); n > 0 && d.ok(); --n) {
      std::string key = d.string();
      Slot::IdempotentRequest request;
      request.digest = d.string();
      request.first_position.partition = d.u32();
      request.first_position.offset = d.varint();
      request.count = static_cast<std::uint32_t>(d.varint());
      slot.idempotency.emplace(std::move(key), std::move(request));
    }
    if (!decode_state(d, slot.state) || !d.at_end()) return refuse("dashboard " + id + " does not decode");
    for (auto& section : sections_) {
      if (!section.load(id, r.bytes()) || !r.ok()) return refuse("dashboard " + id + "'s " + section.name + " does not decode");
    }
    events += slot.sequence;
  }
  for (auto n = r.count(); n > 0 && r.ok(); --n) {
    std::string key = r.string();
    creation_keys_[key] = r.string();
  }
  if (!r.ok() || !r.at_end()) return refuse("the snapshot's body is cut short or has bytes after its end");
  for (std::uint32_t p = 0; p < partitions; ++p) applied_[p].store(cut[p], std::memory_order_release);
  events_.store(events, std::memory_order_relaxed);
  rebuild_number_owners();
  return {};
}

void CommandPipeline::forget_everything() {
  {
    std::unique_lock lock(slots_mutex_);
    slots_.clear();
  }
  for (auto& a : applied_) a.store(0);
  events_.store(0);
  {
    std::lock_guard lock(creation_keys_mutex_);
    creation_keys_.clear();
  }
  {
    std::lock_guard lock(numbers_mutex_);
    number_owner_.clear();
    open_reservations_.fetch_sub(remote_reservations_.size(), std::memory_order_relaxed);
    remote_reservations_.clear();
  }
  for (auto& section : sections_) section.clear();
}

std::string CommandPipeline::canonical_state() const {
  std::string out;
  std::shared_lock lock(slots_mutex_);
  for (auto& [id, slot] : slots_) {  // ordered by id
    std::lock_guard slot_lock(slot->mutex);
    if (!slot->state.exists) continue;
    binary::Writer(out).bytes(id);
    encode_dashboard(*slot, out);
  }
  return out;
}

}  // namespace keyledger::eventstore
