#include "usecases/migration.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "eventstore/envelope.hpp"
#include "eventstore/rfc3339.hpp"
#include "projections/projector.hpp"
#include "usecases/hash_chains.hpp"

namespace keyledger::usecases {

namespace es = eventstore;

namespace {

constexpr std::size_t kBatchRecords = 512;
constexpr std::size_t kBatchBytes = 1 << 20;
constexpr std::size_t kBatchesInFlight = 32;

// A store opened with the read models whose sections its snapshots carry.
struct Opened {
  std::unique_ptr<projections::Projector> read_models;
  std::unique_ptr<es::Store> store;
};

std::expected<Opened, std::string> open_folded(const std::string& url, const std::string& master_key_file,
                                               const es::StoreOptions& options, bool fold) {
  Opened opened;
  auto store = es::Store::open(url, master_key_file, options);
  if (!store) return std::unexpected(url + ": " + store.error());
  opened.store = std::move(*store);
  opened.read_models = std::make_unique<projections::Projector>(opened.store->keyring->store_keys().fingerprint_pepper);
  opened.read_models->attach(*opened.store->pipeline);
  if (fold) {
    if (auto r = opened.store->recover(); !r) return std::unexpected(url + ": " + r.error());
  }
  return opened;
}

// Every record of every partition, in partition order, until `visit` returns false.
std::error_code read_all(es::EventLog& log, const es::RecordVisitor& visit) {
  bool go_on = true;
  for (std::uint32_t p = 0; p < log.partitions() && go_on; ++p) {
    if (auto ec = log.read(p, 0, log.end(p), [&](const es::StoredRecord& r) { return go_on = visit(r); })) return ec;
  }
  return {};
}

// Appends batches without waiting for each, at most kBatchesInFlight at once; the first
// refusal is kept and ends the copy.
class Appender {
 public:
  explicit Appender(es::EventLog& log) : log_(log) {}
  bool add(es::AppendRecord record) {
    bytes_ += record.bytes.size();
    batch_.push_back(std::move(record));
    return (batch_.size() < kBatchRecords && bytes_ < kBatchBytes) || flush();
  }
  bool flush() {
    if (batch_.empty()) return ok();
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return in_flight_ < kBatchesInFlight; });
      if (failure_) return false;
      ++in_flight_;
    }
    log_.append(std::exchange(batch_, {}), [this](es::AppendResult result) {
      std::lock_guard lock(mutex_);
      --in_flight_;
      if (!result && !failure_) failure_ = result.error();
      changed_.notify_all();
    });
    bytes_ = 0;
    return ok();
  }
  // Waits for every batch; the first refusal, if any.
  std::error_code finish() {
    flush();
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return in_flight_ == 0; });
    return failure_;
  }

 private:
  bool ok() {
    std::lock_guard lock(mutex_);
    return !failure_;
  }
  es::EventLog& log_;
  std::vector<es::AppendRecord> batch_;
  std::size_t bytes_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t in_flight_ = 0;
  std::error_code failure_;
};

std::map<std::string, std::pair<std::uint64_t, std::string>> heads(const es::CommandPipeline& pipeline) {
  std::map<std::string, std::pair<std::uint64_t, std::string>> out;
  for (const auto& id : pipeline.dashboard_ids()) {
    pipeline.with_dashboard(id, [&](const es::DashboardView& v) { out[id] = {v.sequence, v.head_hash}; });
  }
  return out;
}

}  // namespace

std::expected<MigrationReport, std::string> migrate_store(const std::string& from, const std::string& to,
                                                          const std::string& master_key_file,
                                                          const es::StoreOptions& options,
                                                          const MigrationProgress& progress) {
  if (from == to) return std::unexpected(std::string("--from and --to name the same store"));
  MigrationReport report;

  // 1. The source, folded: its lock taken (or its producer fencing any writer), the master
  // key checked, each dashboard's head known.
  auto source = open_folded(from, master_key_file, options, true);
  if (!source) return std::unexpected(source.error());
  es::EventLog& source_log = *source->store->log;

  // 2. The keyring, record by record as wrapped, before any event that needs it.
  auto source_keyring = es::Store::open_keyring_storage(from, options);
  if (!source_keyring) return std::unexpected(from + ": " + source_keyring.error());
  auto records = (*source_keyring)->load();
  if (!records) return std::unexpected(from + ": " + records.error());
  {
    auto target_keyring = es::Store::open_keyring_storage(to, options);
    if (!target_keyring) return std::unexpected(to + ": " + target_keyring.error());
    auto existing = (*target_keyring)->load();
    if (!existing) return std::unexpected(to + ": " + existing.error());
    if (existing->empty()) {
      if (!(*target_keyring)->write(*records)) return std::unexpected(to + ": cannot write the keyring");
    } else if (*existing != *records) {
      return std::unexpected(to + " is not empty: its keyring is another store's (migrate only into an empty store)");
    }
    report.keyring_records = records->size();
  }

  // 3. The events, in the source's order, after those an interrupted run copied already.
  auto target = open_folded(to, master_key_file, options, false);
  if (!target) return std::unexpected(target.error());
  es::EventLog& target_log = *target->store->log;
  std::set<std::string> present;
  std::string problem;
  auto ec = read_all(target_log, [&](const es::StoredRecord& r) {
    auto e = es::decode_envelope(r.bytes);
    if (!e) problem = to + " holds an event that does not decode: " + e.error();
    if (e) present.insert(e->id);
    return e.has_value();
  });
  if (ec || !problem.empty()) return std::unexpected(problem.empty() ? to + ": cannot read: " + ec.message() : problem);

  std::uint64_t total = 0;
  for (std::uint32_t p = 0; p < source_log.partitions(); ++p) total += source_log.end(p);  // at most; Kafka has gaps
  const std::uint64_t already = present.size();
  Appender appender(target_log);
  std::uint64_t seen = 0;
  ec = read_all(source_log, [&](const es::StoredRecord& r) {
    auto e = es::decode_envelope(r.bytes);
    if (!e) {
      problem = from + ": the event at " + r.position.to_string() + " does not decode: " + e.error();
      return false;
    }
    if (seen++ < already) {
      if (!present.contains(e->id)) {
        problem = to + " is not empty: it holds events other than the first " + std::to_string(already) +
                  " of " + from + " (migrate only into an empty store)";
        return false;
      }
      return true;
    }
    if (!appender.add(es::AppendRecord{e->dashboard_id, e->id, std::string(e->type()),
                                       es::format_rfc3339(e->recorded.occurred_at), std::string(r.bytes)})) {
      return false;
    }
    ++report.copied;
    if (progress && report.copied % 4096 == 0) progress(seen, total);
    return true;
  });
  const std::error_code appended = appender.finish();
  if (!problem.empty()) return std::unexpected(problem);
  if (ec) return std::unexpected(from + ": cannot read: " + ec.message());
  if (appended) return std::unexpected(to + ": the target refused the events: " + appended.message());
  if (seen < already) return std::unexpected(to + " holds more events than " + from + ": it is another store's");
  report.events = seen;
  report.resumed_after = already;

  // 4. The target as it will be served: every chain links and ends where the source's does.
  if (auto r = target->store->recover(); !r) return std::unexpected(to + ": " + r.error());
  const auto want = heads(*source->store->pipeline);
  const auto got = heads(*target->store->pipeline);
  if (want != got) return std::unexpected(to + " does not end where " + from + " does: some dashboard differs");
  for (const auto& [id, head] : got) {
    auto checked = verify_dashboard_chain(target_log, id, target->read_models->audit_index.all(id));
    if (checked.broken) return std::unexpected(to + ": dashboard " + id + "'s chain breaks: " + checked.broken->reason);
  }
  report.dashboards = got.size();
  return report;
}

}  // namespace keyledger::usecases
