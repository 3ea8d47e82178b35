#include "command_pipeline.hpp"

#include <algorithm>
#include <type_traits>

#include "crypto/crypto.hpp"
#include "domain_json.hpp"
#include "rfc3339.hpp"
#include "store_error.hpp"

namespace keyledger::eventstore {

using nlohmann::json;

// One dashboard: its decider state and its stream's head, guarded by one mutex.
struct CommandPipeline::Slot {
  mutable std::mutex mutex;
  domain::DashboardState state;
  std::uint64_t sequence = 0;
  std::string head_hash = kGenesisHash;
  std::map<std::string, std::uint64_t> stream_versions;
  struct IdempotentRequest {
    std::string digest;
    LogPosition first_position;
    std::uint32_t count;
  };
  std::map<std::string, IdempotentRequest> idempotency;
};

CommandPipeline::CommandPipeline(EventLog& log, Clock clock)
    : log_(log), clock_(std::move(clock)), applied_(log.partitions()) {}
CommandPipeline::~CommandPipeline() = default;

void CommandPipeline::subscribe(Listener listener) { listeners_.push_back(std::move(listener)); }

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

CommandPipeline::Slot& CommandPipeline::slot_for_creation(const std::string& dashboard_id) {
  std::unique_lock lock(slots_mutex_);
  auto& slot = slots_[dashboard_id];
  if (!slot) slot = std::make_unique<Slot>();
  return *slot;
}

// Folds one durable event into its dashboard's slot and the platform-wide indexes.
// Runs with the slot's mutex held (or single-threaded during catch-up).
void CommandPipeline::apply(Slot& slot, const Envelope& e, LogPosition position) {
  domain::evolve(slot.state, e.recorded);
  slot.sequence = e.sequence;
  slot.head_hash = e.hash;
  slot.stream_versions[e.stream] = e.stream_version;
  std::visit(
      [&](const auto& event) {
        using E = std::decay_t<decltype(event)>;
        if constexpr (std::is_same_v<E, domain::SmsNumberRegistered>) {
          std::lock_guard lock(numbers_mutex_);
          number_owner_[event.number] = e.dashboard_id;
        } else if constexpr (std::is_same_v<E, domain::SmsNumberDeregistered>) {
          std::lock_guard lock(numbers_mutex_);
          number_owner_.erase(event.number);
        } else if constexpr (std::is_same_v<E, domain::DashboardClosed>) {
          std::lock_guard lock(numbers_mutex_);
          std::erase_if(number_owner_, [&](const auto& entry) { return entry.second == e.dashboard_id; });
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
  auto& applied = applied_[position.partition];
  std::uint64_t next = position.offset + 1;
  std::uint64_t current = applied.load(std::memory_order_relaxed);
  while (current < next && !applied.compare_exchange_weak(current, next, std::memory_order_acq_rel)) {
  }
}

std::error_code CommandPipeline::catch_up(std::string* problem) {
  std::error_code failure;
  for (std::uint32_t p = 0; p < applied_.size() && !failure; ++p) {
    auto ec = log_.read(p, applied_[p].load(), log_.end(p), [&](const StoredRecord& record) {
      auto envelope = decode_envelope(record.bytes);
      if (!envelope) {
        if (problem) *problem = "event at position " + record.position.to_string() + ": " + envelope.error();
        failure = make_error_code(StoreErrc::decode_failed);
        return false;
      }
      Slot* slot = find_slot(envelope->dashboard_id);
      if (!slot) slot = &slot_for_creation(envelope->dashboard_id);
      std::lock_guard lock(slot->mutex);
      apply(*slot, *envelope, record.position);
      return true;
    });
    if (ec && !failure) failure = ec;
  }
  return failure;
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

CommandResult CommandPipeline::execute(const std::string& dashboard_id, domain::Command command,
                                       const CommandMeta& meta) {
  std::shared_lock gate(gate_);
  const bool creation = std::holds_alternative<domain::CreateDashboard>(command);
  if (creation && !meta.idempotency_key.empty()) {
    std::string existing;
    {
      std::lock_guard lock(creation_keys_mutex_);
      if (auto it = creation_keys_.find(meta.idempotency_key); it != creation_keys_.end()) existing = it->second;
    }
    if (!existing.empty()) {
      Slot& slot = *find_slot(existing);
      std::lock_guard lock(slot.mutex);
      return replay_result(slot, meta.idempotency_key, meta.request_digest);
    }
  }
  Slot* found = creation ? &slot_for_creation(dashboard_id) : find_slot(dashboard_id);
  static const Slot kNoDashboard;
  if (!found) {
    // No such dashboard: decide against the empty state, which refuses without events.
    CommandResult result;
    result.outcome = domain::decide(kNoDashboard.state, command, {meta.actor, clock_()});
    return result;
  }
  Slot& slot = *found;
  std::lock_guard lock(slot.mutex);

  if (!meta.idempotency_key.empty() && slot.idempotency.contains(meta.idempotency_key)) {
    return replay_result(slot, meta.idempotency_key, meta.request_digest);
  }

  // Reserve a phone number platform-wide before deciding its registration.
  std::string reserved_number;
  if (auto* registration = std::get_if<domain::RegisterSmsNumber>(&command)) {
    std::lock_guard numbers(numbers_mutex_);
    auto [it, inserted] = number_owner_.try_emplace(registration->number, dashboard_id);
    registration->registered_in_dashboard = it->second;
    if (inserted) reserved_number = registration->number;
  }
  auto release_reservation = [&] {
    if (reserved_number.empty()) return;
    std::lock_guard numbers(numbers_mutex_);
    number_owner_.erase(reserved_number);
  };

  CommandResult result;
  const domain::Timestamp now = clock_();
  result.outcome = domain::decide(slot.state, command, {meta.actor, now});
  if (result.outcome.events.empty()) {
    release_reservation();
    return result;
  }

  std::vector<AppendRecord> records;
  std::uint64_t sequence = slot.sequence;
  std::string prev_hash = slot.head_hash;
  std::map<std::string, std::uint64_t> stream_versions;
  const std::string occurred_at = format_rfc3339(now);
  for (const auto& event : result.outcome.events) {
    Envelope e;
    e.id = crypto::uuid_v7(now.time_since_epoch().count());
    e.dashboard_id = dashboard_id;
    e.stream = domain::stream_of(event);
    auto known = stream_versions.find(e.stream);
    std::uint64_t base = known != stream_versions.end() ? known->second
                         : slot.stream_versions.contains(e.stream) ? slot.stream_versions.at(e.stream)
                                                                     : 0;
    e.stream_version = stream_versions[e.stream] = base + 1;
    e.sequence = ++sequence;
    e.recorded = domain::RecordedEvent{event, meta.actor, now};
    e.correlation_id = meta.correlation_id;
    e.causation_id = meta.correlation_id;
    e.idempotency_key = meta.idempotency_key;
    e.request_digest = meta.idempotency_key.empty() ? "" : meta.request_digest;
    e.prev_hash = prev_hash;
    std::string bytes = seal_envelope(e);
    prev_hash = e.hash;
    records.push_back(AppendRecord{dashboard_id, e.id, std::string(e.type()), occurred_at, std::move(bytes)});
    result.appended.push_back(std::move(e));
  }

  auto position = log_.append(records);
  if (!position) {
    release_reservation();
    result.log_error = position.error();
    result.appended.clear();
    return result;
  }
  result.first_position = *position;
  for (std::size_t i = 0; i < result.appended.size(); ++i) {
    apply(slot, result.appended[i], LogPosition{position->partition, position->offset + i});
  }
  if (!slot.state.exists) release_reservation();
  return result;
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

std::string CommandPipeline::snapshot() const {
  json dashboards = json::object();
  std::vector<std::uint64_t> at;
  {
    std::unique_lock gate(gate_);  // no command between reading the position and the states
    at = applied();
    std::shared_lock lock(slots_mutex_);
    for (auto& [id, slot] : slots_) {
      std::lock_guard slot_lock(slot->mutex);
      if (!slot->state.exists) continue;
      json idempotency = json::object();
      for (auto& [key, request] : slot->idempotency) {
        idempotency[key] = json{{"digest", request.digest},
                                {"first_position", {request.first_position.partition, request.first_position.offset}},
                                {"count", request.count}};
      }
      dashboards[id] = json{{"state", slot->state},
                            {"sequence", slot->sequence},
                            {"head_hash", slot->head_hash},
                            {"stream_versions", slot->stream_versions},
                            {"idempotency", idempotency}};
    }
  }
  json creation_keys;
  {
    std::lock_guard lock(creation_keys_mutex_);
    creation_keys = creation_keys_;
  }
  return json{{"format", "keyledger-snapshot"},
              {"version", 2},
              {"positions", at},
              {"events", events()},
              {"dashboards", dashboards},
              {"creation_keys", creation_keys}}
      .dump();
}

std::error_code CommandPipeline::restore(std::string_view snapshot_json, std::string* problem) {
  json doc = json::parse(snapshot_json, nullptr, false);
  try {
    if (doc.is_discarded() || doc.value("format", "") != "keyledger-snapshot" || doc.value("version", 0) != 2) {
      throw std::invalid_argument("not a keyledger snapshot of version 2");
    }
    for (auto& [id, d] : doc.at("dashboards").items()) {
      Slot& slot = slot_for_creation(id);
      slot.state = d.at("state").get<domain::DashboardState>();
      slot.sequence = d.at("sequence").get<std::uint64_t>();
      slot.head_hash = d.at("head_hash").get<std::string>();
      slot.stream_versions = d.at("stream_versions").get<std::map<std::string, std::uint64_t>>();
      for (auto& [key, request] : d.at("idempotency").items()) {
        slot.idempotency[key] = Slot::IdempotentRequest{request.at("digest").get<std::string>(),
                                                        LogPosition{request.at("first_position").at(0).get<std::uint32_t>(),
                                                                    request.at("first_position").at(1).get<std::uint64_t>()},
                                                        request.at("count").get<std::uint32_t>()};
      }
      std::lock_guard numbers(numbers_mutex_);
      if (!slot.state.closed) {
        for (auto& [number, registration] : slot.state.numbers) number_owner_[number] = id;
      }
    }
    {
      std::lock_guard lock(creation_keys_mutex_);
      creation_keys_ = doc.at("creation_keys").get<std::map<std::string, std::string>>();
    }
    auto positions = doc.at("positions").get<std::vector<std::uint64_t>>();
    if (positions.size() != applied_.size()) throw std::invalid_argument("the snapshot is of a log with other partitions");
    for (std::size_t p = 0; p < positions.size(); ++p) applied_[p].store(positions[p], std::memory_order_release);
    events_.store(doc.at("events").get<std::uint64_t>(), std::memory_order_relaxed);
    return {};
  } catch (const std::exception& e) {
    if (problem) *problem = e.what();
    return make_error_code(StoreErrc::decode_failed);
  }
}

}  // namespace keyledger::eventstore
