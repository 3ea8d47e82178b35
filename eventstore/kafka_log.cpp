#include "kafka_log.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <future>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "kafka_delivery.hpp"
#include "store_error.hpp"
#include "thread_name.hpp"

namespace keyledger::eventstore {

namespace {
// A `<topic>-numbers` record (docs/events/number-reservation.schema.json).
std::string encode_reservation(const NumberReservation& r) {
  nlohmann::json record{{"number", r.number}, {"state", r.dashboard_id.empty() ? "released" : "reserved"}, {"at_ms", r.at_ms}};
  if (!r.dashboard_id.empty()) record["dashboard_id"] = r.dashboard_id;
  return record.dump();
}

std::optional<NumberReservation> decode_reservation(std::string_view bytes) {
  auto record = nlohmann::json::parse(bytes, nullptr, false);
  if (!record.is_object() || !record.contains("number") || !record["number"].is_string() || !record.contains("state") ||
      !record["state"].is_string() || !record.contains("at_ms") || !record["at_ms"].is_number_integer()) {
    return std::nullopt;
  }
  NumberReservation r{record["number"].get<std::string>(), "", record["at_ms"].get<std::int64_t>()};
  if (record["state"] == "reserved") {
    if (!record.contains("dashboard_id") || !record["dashboard_id"].is_string()) return std::nullopt;
    r.dashboard_id = record["dashboard_id"].get<std::string>();
    if (r.dashboard_id.empty()) return std::nullopt;
  } else if (record["state"] != "released") {
    return std::nullopt;
  }
  return r;
}
}  // namespace

// One partition's writer: its producer and the group-commit queue that feeds it.
struct KafkaLog::Writer {
  std::uint32_t partition = 0;
  std::string transactional_id;
  DeliveryReports delivery;  // before the producer, which reports to it
  std::unique_ptr<RdKafka::Producer> producer;
  std::atomic<bool> fenced{false};  // another instance took the transactional id: never append again
  bool needs_abort = false;         // an abandoned transaction still to be aborted (writer thread only)
  bool needs_producer = false;      // the producer failed fatally without being fenced: make a new one
  std::uint64_t decide_from = 0;    // see EventLog::writable
  std::atomic<bool> publish_due{false};      // the owners record is to go into the next transaction
  std::atomic<bool> publish_queued{false};   // an empty batch is queued to carry it
  std::unique_ptr<GroupCommitQueue> queue;  // last: its writer thread stops first

  ~Writer() {
    // Commits what is queued, then stops the writer thread, whose make-durable step may
    // still reach the queue through this writer (a fence refuses what follows).
    if (queue) queue->stop();
    if (producer) producer->flush(5000);
  }
};

KafkaLog::KafkaLog(KafkaOptions options) : options_(std::move(options)) {}

std::expected<std::unique_ptr<KafkaLog>, std::string> KafkaLog::open(KafkaOptions options) {
  if (options.transactional_id.empty()) options.transactional_id = "keyledger-" + options.topic;
  std::unique_ptr<KafkaLog> log(new KafkaLog(std::move(options)));
  if (auto started = log->start(); !started) return std::unexpected(started.error());
  return log;
}

void KafkaLog::note(const std::string& sentence) const {
  if (options_.report) options_.report(sentence);
}

std::expected<void, std::string> KafkaLog::start() {
  // The event stream is kept for ever: it is the system of record.
  if (auto created = ensure_kafka_topic(options_, options_.topic, options_.partitions,
                                        {{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}});
      !created) {
    return std::unexpected(created.error());
  }
  // A keyledger from before partition ownership wrote with the topic's id alone: fence it,
  // and settle what it left open, before reading.
  DeliveryReports ignored;
  auto legacy = transactional_producer(options_.transactional_id, &ignored);
  if (!legacy) return std::unexpected(legacy.error());
  auto partition_count = kafka_partition_count(**legacy, options_.topic);
  if (!partition_count) return std::unexpected(partition_count.error());
  legacy->reset();
  replica_.resize(static_cast<std::size_t>(*partition_count));
  writers_.resize(replica_.size());
  if (!options_.join_group) {
    // Alone: every partition's writer fences its earlier instance first, so that the
    // topic's committed end is final before we read it.
    std::vector<std::uint32_t> all(replica_.size());
    for (std::uint32_t p = 0; p < all.size(); ++p) all[p] = p;
    auto made = make_writers(all);
    for (auto& w : made) {
      if (!w) return std::unexpected(w.error());
      writers_[(*w)->partition] = *w;
    }
  }
  if (auto opened = open_caches(); !opened) return std::unexpected(opened.error());
  auto read = read_to_end();
  if (read && !read->empty()) {
    // A kept cache that is not the brokers' (the topic was made again under its name, say):
    // the directory starts afresh, and the topic is read from its beginning.
    if (auto cleared = replica_directory_->clear(*read); !cleared) return std::unexpected(cleared.error());
    if (auto opened = open_caches(); !opened) return std::unexpected(opened.error());
    read = read_to_end();
  }
  if (!read) return std::unexpected(read.error());
  std::vector<std::uint64_t> ends;
  for (const auto& p : replica_) ends.push_back(p.end);
  auto follower = KafkaFollower::start(
      options_, options_.topic, std::move(ends),
      {.records = [this](std::uint32_t p, std::span<const RecordCache::Record> records) { add_followed(p, records); },
       .idle = [this] { deliver_arrivals(); }});
  if (!follower) return std::unexpected(follower.error());
  follower_ = std::move(*follower);
  for (auto& w : writers_) {
    if (w) start_queue(w);
  }
  if (options_.join_group) {
    // Where each partition's owner answers: a compacted topic, one record per partition.
    if (auto created = ensure_kafka_topic(options_, owners_topic(), 1, {{"cleanup.policy", "compact"}}); !created) {
      return std::unexpected(created.error());
    }
    owner_urls_.resize(replica_.size());
    // Number reservations: a compacted topic partitioned as the events are.
    if (auto created = ensure_kafka_topic(options_, numbers_topic(), static_cast<int>(replica_.size()),
                                          {{"cleanup.policy", "compact"}});
        !created) {
      return std::unexpected(created.error());
    }
    auto numbers = KafkaFollower::start(
        options_, numbers_topic(), std::vector<std::uint64_t>(replica_.size(), 0),
        {.records =
             [this](std::uint32_t, std::span<const RecordCache::Record> records) {
               for (const auto& r : records) add_reservation(r.bytes);
             },
         .idle = [] {}});
    if (!numbers) return std::unexpected(numbers.error());
    numbers_follower_ = std::move(*numbers);
    auto owners = KafkaFollower::start(options_, owners_topic(), {0},
                                       {.records =
                                            [this](std::uint32_t, std::span<const RecordCache::Record> records) {
                                              for (const auto& r : records) add_owner(r.bytes);
                                            },
                                        .idle = [] {}});
    if (!owners) return std::unexpected(owners.error());
    owners_follower_ = std::move(*owners);
    auto ownership = KafkaOwnership::join(
        options_, options_.topic, options_.transactional_id,
        {.gained = [this](const std::vector<std::uint32_t>& partitions) { acquire(partitions); },
         .lost = [this](const std::vector<std::uint32_t>& partitions, bool lost) { release(partitions, lost); },
         .tick = [this] { retry_acquisitions(); },
         .withdraw = [this] { return withdrawn_.load(); }},
        options_.group_session_timeout + std::chrono::seconds(10));
    if (!ownership) return std::unexpected(ownership.error());
    ownership_ = std::move(*ownership);
    // Joining a cluster takes two rounds (cooperative: the others let go first, then the
    // partitions are given, the second round reaching us with a heartbeat): wait until this
    // process has them all, or the group has been quiet for two seconds, so that it starts
    // with its share rather than none. Unless it is asked to stop meanwhile.
    const auto deadline = Clock::now() + options_.group_session_timeout + std::chrono::seconds(10);
    while (owned().size() < replica_.size() && Clock::now() < deadline &&
           Clock::now() - ownership_->last_change() < std::chrono::seconds(2) &&
           !(options_.stopping && options_.stopping())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return {};
}

std::expected<void, std::string> KafkaLog::open_caches() {
  placed_elsewhere_.clear();
  if (options_.replica_directory.empty()) {
    // TMPDIR, or /tmp: put it on a local disk with room for the topic.
    std::error_code no_tmp;
    const std::string cache_directory = std::filesystem::temp_directory_path(no_tmp).string();
    for (auto& p : replica_) {
      auto cache = RecordCache::create(cache_directory);
      if (!cache) return std::unexpected(cache.error());
      p.records = std::move(*cache);
      p.end = 0;
    }
    return {};
  }
  if (!replica_directory_) {
    auto directory = ReplicaDirectory::open(options_.replica_directory, options_.topic,
                                            static_cast<std::uint32_t>(replica_.size()), options_.report);
    if (!directory) return std::unexpected(directory.error());
    replica_directory_ = std::move(*directory);
  }
  placed_elsewhere_ = replica_directory_->placed();
  for (std::uint32_t p = 0; p < replica_.size(); ++p) {
    std::uint64_t dropped = 0;
    auto cache = RecordCache::open(replica_directory_->records_path(p), &dropped);
    if (!cache) return std::unexpected(cache.error());
    if (dropped > 0) {
      note("partition " + std::to_string(p) + "'s kept records end in " + std::to_string(dropped) +
           " bytes that are cut short or damaged: cut off, and read from the brokers again");
    }
    const auto last = (*cache)->last_offset();
    replica_[p].records = std::move(*cache);
    replica_[p].end = last ? *last + 1 : 0;
  }
  return {};
}

std::expected<std::string, std::string> KafkaLog::read_to_end() {
  // A kept partition is read from its cache's last record, which must come back first and
  // the same, byte for byte: then the cache is a prefix of what the brokers hold.
  std::vector<std::uint64_t> from(replica_.size(), 0);
  std::vector<std::optional<std::uint64_t>> unconfirmed(replica_.size());
  std::uint64_t kept = 0;
  for (std::uint32_t p = 0; p < replica_.size(); ++p) {
    if (auto last = replica_[p].records->last_offset()) {
      from[p] = *last;
      unconfirmed[p] = *last;
      kept += replica_[p].records->records();
    }
  }
  if (replica_directory_) {
    if (auto unsettled = replica_directory_->unsettle_placed(); !unsettled) return std::unexpected(unsettled.error());
  }
  std::string disagreement;
  std::uint64_t events = 0;
  // What is read is kept a batch at a time: each partition's records, about 1 MiB of them,
  // with one write.
  struct Unkept {
    std::string bytes;                                           // back to back
    std::vector<std::pair<std::uint64_t, std::size_t>> records;  // (offset, size), in order
  };
  std::vector<Unkept> unkept(replica_.size());
  auto keep_unkept = [&](std::size_t p) {
    Unkept& batch = unkept[p];
    if (batch.records.empty()) return;
    std::vector<RecordCache::Record> records;
    records.reserve(batch.records.size());
    std::size_t at = 0;
    for (const auto& [offset, size] : batch.records) {
      records.push_back({offset, std::string_view(batch.bytes).substr(at, size)});
      at += size;
    }
    std::unique_lock lock(replica_mutex_);  // only to state keep()'s condition
    keep(replica_.at(p), records);
    batch.bytes.clear();
    batch.records.clear();
  };
  auto read = read_kafka_topic(
      options_, options_.topic, /*read_committed=*/true, std::chrono::seconds(120),
      [&](RdKafka::Message& message) {
        if (!disagreement.empty()) return;
        const auto p = static_cast<std::size_t>(message.partition());
        const auto offset = static_cast<std::uint64_t>(message.offset());
        const std::string_view bytes(static_cast<const char*>(message.payload()), message.len());
        if (auto expected = unconfirmed[p]) {
          unconfirmed[p].reset();
          std::string held;
          {
            std::shared_lock lock(replica_mutex_);
            replica_.at(p).records->read(*expected, *expected + 1, [&](std::uint64_t, std::string_view b) {
              held = b;
              return false;
            });
          }
          if (offset != *expected || bytes != held) {
            disagreement = "partition " + std::to_string(p) + "'s record at offset " + std::to_string(*expected) +
                           " is not the one the brokers hold";
          }
          return;  // the kept one itself
        }
        note_partition(message);
        unkept[p].bytes += bytes;
        unkept[p].records.emplace_back(offset, bytes.size());
        if (unkept[p].bytes.size() >= (1u << 20)) keep_unkept(p);
        ++events;
      },
      from);
  if (!read) return std::unexpected(read.error());
  if (disagreement.empty()) {
    for (std::size_t p = 0; p < replica_.size(); ++p) keep_unkept(p);
  }
  for (std::uint32_t p = 0; p < replica_.size() && disagreement.empty(); ++p) {
    if (unconfirmed[p]) {
      disagreement = "the brokers hold no record at partition " + std::to_string(p) + "'s offset " +
                     std::to_string(*unconfirmed[p]);
    }
  }
  if (!disagreement.empty()) return disagreement;
  if (replica_directory_) {
    if (auto saved = replica_directory_->save_placed(placed_elsewhere_); !saved) return std::unexpected(saved.error());
  }
  note("read " + std::to_string(events) + " committed events from topic " + options_.topic +
       (replica_directory_ ? " after the " + std::to_string(kept) + " kept in " + replica_directory_->path() : ""));
  if (!placed_elsewhere_.empty()) {
    note(std::to_string(placed_elsewhere_.size()) +
         " dashboards keep the partition an earlier keyledger's partitioner gave them (not murmur2's)");
  }
  return std::string();
}

std::expected<std::unique_ptr<RdKafka::Producer>, std::string> KafkaLog::transactional_producer(
    const std::string& transactional_id, RdKafka::DeliveryReportCb* reports) {
  auto settings = kafka_base_config(options_);
  settings["transactional.id"] = transactional_id;
  settings["enable.idempotence"] = "true";
  settings["acks"] = "all";
  settings["linger.ms"] = "0";
  // Undeliverable records fail the transaction well before a command's time is up, so that
  // the abort still fits in it.
  settings["message.timeout.ms"] = std::to_string(options_.command_timeout.count() * 3 / 5);
  // Long enough to outlast a broker outage: a coordinator that times our transaction out
  // bumps the producer epoch. An abandoned transaction of a crashed instance is aborted at
  // once by the next instance's init_transactions.
  settings["transaction.timeout.ms"] = "900000";
  std::string error;
  auto conf = make_kafka_conf(settings, error);
  if (!conf) return std::unexpected(error);
  conf->set("dr_cb", reports, error);
  yield_main_thread(*conf);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) return std::unexpected("cannot create the Kafka producer: " + error);
  if (KafkaError e{producer->init_transactions(30000)}) {
    return std::unexpected("cannot initialise Kafka transactions (transactional id " + transactional_id + "): " +
                           e->str());
  }
  return producer;
}

std::vector<std::expected<std::shared_ptr<KafkaLog::Writer>, std::string>> KafkaLog::make_writers(
    const std::vector<std::uint32_t>& partitions) {
  // Each init_transactions is a round trip or two to the transaction coordinator: in parallel.
  std::vector<std::future<std::expected<std::shared_ptr<Writer>, std::string>>> inits;
  for (const auto p : partitions) {
    inits.push_back(std::async(std::launch::async, [this, p]() -> std::expected<std::shared_ptr<Writer>, std::string> {
      name_this_thread("kl-init-p" + std::to_string(p));
      auto w = std::make_shared<Writer>();
      w->partition = p;
      w->transactional_id = options_.transactional_id + "-p" + std::to_string(p);
      auto producer = transactional_producer(w->transactional_id, &w->delivery);
      if (!producer) return std::unexpected(producer.error());
      w->producer = std::move(*producer);
      // Asked of the producer itself, which then knows the topic's partitions before its
      // first transaction (otherwise that transaction waits for a metadata refresh).
      if (auto count = kafka_partition_count(*w->producer, options_.topic); !count) {
        return std::unexpected(count.error());
      }
      // Likewise the owners topic, which its first transaction writes (publish_owner), and
      // the numbers topic.
      if (options_.join_group) {
        for (const std::string& topic : {owners_topic(), numbers_topic()}) {
          if (auto count = kafka_partition_count(*w->producer, topic); !count) {
            return std::unexpected(count.error());
          }
        }
      }
      return w;
    }));
  }
  std::vector<std::expected<std::shared_ptr<Writer>, std::string>> made;
  for (auto& i : inits) made.push_back(i.get());
  return made;
}

void KafkaLog::start_queue(const std::shared_ptr<Writer>& writer) {
  writer->queue = std::make_unique<GroupCommitQueue>(
      [this, w = writer.get()](std::span<PendingBatch> group) {
        auto committed = commit_group(*w, group);
        if (!committed && committed.error() == StoreErrc::fenced) fenced_batches_.fetch_add(group.size());
        return committed;
      },
      GroupCommitSettings{.window = options_.group_commit_window,
                          .thread_name = "kl-commit-p" + std::to_string(writer->partition)});
}

KafkaLog::~KafkaLog() {
  ownership_.reset();  // leaves the group: the writers it gave are let go of
  follower_.reset();
  owners_follower_.reset();
  numbers_follower_.reset();
  std::unique_lock lock(writers_mutex_);
  auto writers = std::move(writers_);
  auto retired = std::move(retired_);
  lock.unlock();
  writers.clear();  // each commits what is queued, then stops
}

std::shared_ptr<KafkaLog::Writer> KafkaLog::writer(std::uint32_t partition) const {
  std::shared_lock lock(writers_mutex_);
  return partition < writers_.size() ? writers_[partition] : nullptr;
}

void KafkaLog::append(std::vector<AppendRecord> batch, AppendDone done) {
  if (batch.empty()) return done(LogPosition{});
  const auto not_owner = make_error_code(StoreErrc::not_owner);
  const std::uint32_t first = partition_for(batch.front().dashboard_id);
  const bool one_partition = std::all_of(batch.begin(), batch.end(), [&](const AppendRecord& r) {
    return partition_for(r.dashboard_id) == first;
  });
  if (one_partition) {  // every command's batch: one dashboard
    auto w = writer(first);
    if (!w) return done(std::unexpected(not_owner));
    return w->queue->submit(PendingBatch{std::move(batch), std::move(done), {}});
  }
  // A batch of many dashboards (keyledger migrate's): one part per partition, each in its
  // partition's order; done once every part is, with the first part's position. Not atomic
  // across partitions.
  std::map<std::uint32_t, std::vector<AppendRecord>> parts;
  std::vector<std::uint32_t> order;
  for (auto& r : batch) {
    const auto p = partition_for(r.dashboard_id);
    if (!parts.contains(p)) order.push_back(p);
    parts[p].push_back(std::move(r));
  }
  struct Joined {
    std::mutex mutex;
    std::size_t left;
    std::uint32_t first;
    AppendResult result;
    AppendDone done;
  };
  auto joined = std::make_shared<Joined>();
  joined->left = order.size();
  joined->first = order.front();
  joined->done = std::move(done);
  for (const auto p : order) {
    auto part_done = [joined, p](AppendResult result) {
      std::unique_lock lock(joined->mutex);
      if (!result) {
        if (joined->result) joined->result = std::unexpected(result.error());
      } else if (p == joined->first && joined->result) {
        joined->result = *result;
      }
      if (--joined->left > 0) return;
      lock.unlock();
      joined->done(std::move(joined->result));
    };
    auto w = writer(p);
    if (!w) {
      part_done(std::unexpected(not_owner));
      continue;
    }
    w->queue->submit(PendingBatch{std::move(parts[p]), std::move(part_done), {}});
  }
}

std::error_code KafkaLog::fence(Writer& writer, const std::string& why) {
  writer.fenced = true;
  const auto code = make_error_code(StoreErrc::fenced);
  // Said first, so that the log tells why before any caller hears the refusal.
  note("fenced: this instance will not append to partition " + std::to_string(writer.partition) + " again (" + why +
       "); another keyledger took transactional id " + writer.transactional_id);
  writer.queue->refuse(code);
  writer.queue->fail_queued(code);  // batches queued behind this group will never be written either
  if (options_.join_group) {
    // Whoever fenced us owns the partition now, or a rebalance we have not heard of yet gave
    // it away: decide nothing more for it; if the group still says it is ours once its
    // session could have ended, acquire it again.
    {
      std::unique_lock lock(writers_mutex_);
      if (writers_[writer.partition].get() == &writer) retired_.push_back(std::move(writers_[writer.partition]));
    }
    std::lock_guard assigned(assigned_mutex_);  // after writers_mutex_, never while holding it
    if (auto it = assigned_.find(writer.partition); it != assigned_.end()) {
      it->second = Clock::now() + options_.group_session_timeout + std::chrono::seconds(1);
    }
  }
  return code;
}

std::expected<std::vector<LogPosition>, std::error_code> KafkaLog::commit_group(Writer& w, std::span<PendingBatch> group) {
  const int timeout_ms = static_cast<int>(options_.command_timeout.count());
  const auto unavailable = make_error_code(StoreErrc::log_unavailable);
  if (w.fenced) return std::unexpected(make_error_code(StoreErrc::fenced));
  if (w.needs_producer) {
    // A new producer with our transactional id: init_transactions settles whatever our old
    // one left open. Until it succeeds, batches fail fast.
    w.producer.reset();
    auto ready = transactional_producer(w.transactional_id, &w.delivery);
    if (!ready) {
      note("the Kafka producer of partition " + std::to_string(w.partition) + " is not back yet: " + ready.error());
      return std::unexpected(unavailable);
    }
    w.producer = std::move(*ready);
    w.needs_producer = false;
    w.needs_abort = false;
    note("a new Kafka producer took over partition " + std::to_string(w.partition) + " after a fatal producer error");
  }
  // A fatal error fences us for good only when another producer took our transactional id;
  // any other fatal error (e.g. a transaction state the broker lost during an outage) is
  // recovered from with a new producer before the next group.
  auto fatal = [&](const KafkaError& e) -> std::error_code {
    auto code = e->code();
    if (code == RdKafka::ERR__FENCED || code == RdKafka::ERR_PRODUCER_FENCED || code == RdKafka::ERR_INVALID_PRODUCER_EPOCH) {
      return fence(w, e->str());
    }
    note("the Kafka producer failed fatally (" + e->str() + "); a new one will take over");
    w.needs_producer = true;
    return unavailable;
  };
  // An abandoned transaction is never committed, so its batches are known to have failed at
  // once; the abort itself may wait for the broker, and is retried before the next begin.
  auto abandon = [&]() -> std::error_code {
    KafkaError e{w.producer->abort_transaction(timeout_ms)};
    w.needs_abort = false;
    if (!e) return unavailable;
    if (e->is_fatal()) return fatal(e);
    w.needs_abort = true;
    return unavailable;
  };
  if (w.needs_abort) {
    KafkaError e{w.producer->abort_transaction(timeout_ms)};
    if (e && e->is_fatal()) return std::unexpected(fatal(e));
    if (e) return std::unexpected(unavailable);  // the broker is still away: fail fast
    w.needs_abort = false;
  }
  std::size_t total = 0, reservations = 0;
  for (auto& b : group) {
    total += b.records.size();
    reservations += b.reservations.size();
  }
  if (total == 0 && reservations == 0 && !w.publish_due) {  // only asked to publish, and that is done already
    return std::vector<LogPosition>(group.size(), LogPosition{w.partition, end(w.partition)});
  }
  if (KafkaError e{w.producer->begin_transaction()}) {
    return std::unexpected(e->is_fatal() ? fatal(e) : unavailable);
  }
  // Where this process answers, published by the writer itself: a writer that another has
  // fenced cannot overwrite its successor's record. Due again if this transaction fails.
  struct Publication {
    Writer& w;
    bool due;
    ~Publication() {
      if (due) w.publish_due = true;
    }
  } publication{w, w.publish_due.exchange(false)};
  if (publication.due) {
    std::string url;
    {
      std::lock_guard lock(owners_mutex_);
      url = advertised_;
    }
    if (url.empty()) {
      publication.due = false;  // advertise() asks again once the address is known
    } else {
      const std::string key = std::to_string(w.partition);
      const std::string value =
          nlohmann::json{{"partition", w.partition}, {"url", url}, {"transactional_id", w.transactional_id}}.dump();
      auto err = w.producer->produce(owners_topic(), 0, RdKafka::Producer::RK_MSG_COPY,
                                     const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, nullptr);
      if (err != RdKafka::ERR_NO_ERROR) {
        note("cannot produce to " + owners_topic() + ": " + RdKafka::err2str(err));
        return std::unexpected(abandon());
      }
    }
  }
  for (auto& b : group) {
    for (const auto& r : b.reservations) {
      const std::string value = encode_reservation(r);
      auto err = w.producer->produce(numbers_topic(), static_cast<int32_t>(w.partition),
                                     RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()), value.size(),
                                     r.number.data(), r.number.size(), 0, nullptr);
      if (err != RdKafka::ERR_NO_ERROR) {
        note("cannot produce to " + numbers_topic() + ": " + RdKafka::err2str(err));
        return std::unexpected(abandon());
      }
    }
  }
  const std::span<DeliveryReports::Landed> landed = w.delivery.expect(total);
  std::size_t next = 0;
  for (auto& b : group) {
    for (auto& r : b.records) {
      RdKafka::Headers* headers = RdKafka::Headers::create();
      headers->add("ce_specversion", "1.0");
      headers->add("ce_id", r.event_id);
      headers->add("ce_type", r.event_type);
      headers->add("ce_source", "/keyledger/dashboards/" + r.dashboard_id);
      headers->add("ce_time", r.occurred_at);
      headers->add("content-type", "application/json");
      auto err = w.producer->produce(options_.topic, static_cast<int32_t>(w.partition), RdKafka::Producer::RK_MSG_COPY,
                                     const_cast<char*>(r.bytes.data()), r.bytes.size(), r.dashboard_id.data(),
                                     r.dashboard_id.size(), 0, headers, w.delivery.tag(next++));
      if (err != RdKafka::ERR_NO_ERROR) {
        delete headers;
        note("cannot produce to " + options_.topic + ": " + RdKafka::err2str(err));
        return std::unexpected(abandon());
      }
    }
  }
  // Committing waits for every record's acks=all delivery (and serves the delivery
  // reports). A commit whose outcome is unknown (the broker went away mid-way) is retried
  // until it is known: answering before that could report a failure for events that later
  // turn out committed. Meanwhile new batches fail fast.
  bool stalled = false;
  std::error_code failed;
  while (true) {
    KafkaError e{w.producer->commit_transaction(timeout_ms)};
    if (!e) break;
    if (e->is_fatal()) {
      failed = fatal(e);
    } else if (e->txn_requires_abort()) {
      note("a Kafka transaction was aborted: " + e->str());
      failed = abandon();
    } else if (!e->is_retriable()) {
      note("a Kafka commit failed: " + e->str());
      failed = abandon();
    } else {
      note("a Kafka commit is waiting on the broker: " + e->str());
      if (!stalled) w.queue->refuse(unavailable);
      stalled = true;
      continue;
    }
    break;
  }
  if (stalled && !w.fenced) w.queue->allow();
  if (failed) return std::unexpected(failed);
  publication.due = false;
  // Every report has come once the commit succeeded; poll for any not yet served.
  for (int i = 0; i < 100 && std::any_of(landed.begin(), landed.end(), [](auto& l) { return l.offset < 0; }); ++i) {
    w.producer->poll(10);
  }
  for (auto& l : landed) {
    if (l.offset < 0 || l.partition != static_cast<std::int32_t>(w.partition) || l.error != RdKafka::ERR_NO_ERROR) {
      // Committed, yet we cannot say where: refuse to serve a replica with a hole in it.
      note("a committed Kafka record has no delivery report; this instance stops appending");
      return std::unexpected(fence(w, "a committed record's position is unknown"));
    }
  }
  std::vector<LogPosition> positions;
  {
    std::unique_lock lock(replica_mutex_);
    next = 0;
    auto& p = replica_[w.partition];
    std::vector<RecordCache::Record> committed;  // kept with one write
    committed.reserve(total);
    for (auto& b : group) {
      // A batch without events (one that only carried the owners record or reservations) is
      // placed at the end.
      positions.push_back(b.records.empty() ? LogPosition{w.partition, p.end}
                                            : LogPosition{w.partition, static_cast<std::uint64_t>(landed[next].offset)});
      for (auto& r : b.records) {
        auto& l = landed[next++];
        if (static_cast<std::uint64_t>(l.offset) < p.end) continue;  // the follower was first
        committed.push_back({static_cast<std::uint64_t>(l.offset), r.bytes});
      }
    }
    keep(p, committed);
  }
  batches_.fetch_add(static_cast<std::uint64_t>(
      std::count_if(group.begin(), group.end(), [](const PendingBatch& b) { return !b.records.empty(); })));
  if (total > 0) syncs_.fetch_add(1);  // a transaction without events is no command's
  return positions;
}

namespace {
std::string partition_list(const std::vector<std::uint32_t>& partitions) {
  std::string list;
  for (const auto p : partitions) list += (list.empty() ? "" : ", ") + std::to_string(p);
  return list;
}
}  // namespace

void KafkaLog::acquire(const std::vector<std::uint32_t>& partitions) {
  note("taking partitions " + partition_list(partitions) + " (fencing their previous writers)");
  {
    std::lock_guard lock(assigned_mutex_);
    for (const auto p : partitions) assigned_[p] = Clock::now();
  }
  // Fence the previous owners (aborting what they left open)...
  std::vector<std::shared_ptr<Writer>> fencing;
  auto made = make_writers(partitions);
  const auto fenced_at = Clock::now();
  // The wait below ends with the first probe asked after the fence.
  follower_->probe_soon();
  numbers_follower_->probe_soon();
  for (std::size_t i = 0; i < made.size(); ++i) {
    if (made[i]) {
      fencing.push_back(*made[i]);
    } else {
      note("cannot take partition " + std::to_string(partitions[i]) + " yet: " + made[i].error());
      std::lock_guard lock(assigned_mutex_);
      if (auto it = assigned_.find(partitions[i]); it != assigned_.end()) it->second = Clock::now() + std::chrono::seconds(1);
    }
  }
  // ...then wait until this process's copy holds all they committed, events and number
  // reservations: a probe of each partition asked after the fence, settled.
  const auto deadline = fenced_at + options_.command_timeout;
  auto current = [&](std::uint32_t p) {
    return follower_->current_since(p, fenced_at) && numbers_follower_->current_since(p, fenced_at);
  };
  for (auto& w : fencing) {
    while (!current(w->partition) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard lock(assigned_mutex_);
    auto it = assigned_.find(w->partition);
    if (it == assigned_.end()) continue;  // lost again meanwhile
    if (!current(w->partition)) {
      note("cannot take partition " + std::to_string(w->partition) + " yet: its records did not arrive in time");
      it->second = Clock::now() + std::chrono::seconds(1);
      continue;
    }
    w->decide_from = end(w->partition);
    {
      // What the previous owners reserved and did not end, for the pipeline to adopt.
      std::lock_guard reservations(reservations_mutex_);
      auto& inherited = inherited_[w->partition];
      inherited.clear();
      for (const auto& [number, r] : reservations_) {
        if (partition_for(number) == w->partition) inherited.push_back(r);
      }
    }
    start_queue(w);
    {
      std::unique_lock writers(writers_mutex_);
      writers_[w->partition] = w;
    }
    publish_owner(*w);
    note("this process now writes partition " + std::to_string(w->partition) + " (from offset " +
         std::to_string(w->decide_from) + ")");
  }
}

void KafkaLog::release(const std::vector<std::uint32_t>& partitions, bool lost) {
  note(std::string(lost ? "lost" : "handing over") + " partitions " + partition_list(partitions));
  for (const auto p : partitions) {
    {
      std::lock_guard lock(assigned_mutex_);
      assigned_.erase(p);
    }
    {
      std::lock_guard lock(reservations_mutex_);
      inherited_.erase(p);
    }
    std::shared_ptr<Writer> w;
    {
      std::unique_lock lock(writers_mutex_);
      if (p < writers_.size()) w = std::move(writers_[p]);
    }
    if (!w) continue;
    // Commands queued for it are refused; the transaction in flight ends first (committed,
    // or refused: if the partition was lost, its new owner has fenced us).
    const auto code = make_error_code(StoreErrc::not_owner);
    w->queue->refuse(code);
    w->queue->fail_queued(code);
    w.reset();
  }
}

void KafkaLog::retry_acquisitions() {
  {
    std::unique_lock lock(writers_mutex_);
    auto retired = std::move(retired_);
    lock.unlock();
  }
  {
    // An owners record whose transaction failed (the brokers away) is tried again.
    std::shared_lock lock(writers_mutex_);
    for (const auto& w : writers_) {
      if (w && !w->fenced && w->publish_due) publish_owner(*w);
    }
  }
  std::vector<std::uint32_t> due;
  {
    std::lock_guard lock(assigned_mutex_);
    const auto now = Clock::now();
    for (const auto& [p, at] : assigned_) {
      if (at <= now && !writer(p)) due.push_back(p);
    }
  }
  if (!due.empty()) acquire(due);
}

std::optional<std::uint64_t> KafkaLog::writable(std::uint32_t partition) const {
  auto w = writer(partition);
  if (!w || w->fenced) return std::nullopt;
  return w->decide_from;
}

void KafkaLog::publish_owner(Writer& w) {
  w.publish_due = true;
  if (w.publish_queued.exchange(true)) return;
  // A transaction that carries only the record (or joins the next command's).
  w.queue->submit(PendingBatch{{}, [queued = &w.publish_queued](AppendResult) { *queued = false; }, {}});
}

void KafkaLog::advertise(const std::string& url) {
  {
    std::lock_guard lock(owners_mutex_);
    advertised_ = url;
  }
  if (!options_.join_group) return;
  std::shared_lock lock(writers_mutex_);
  for (const auto& w : writers_) {
    if (w && !w->fenced) publish_owner(*w);
  }
}

void KafkaLog::add_owner(std::string_view bytes) {
  auto record = nlohmann::json::parse(bytes, nullptr, false);
  if (!record.is_object() || !record.contains("partition") || !record["partition"].is_number_unsigned() ||
      !record.contains("url") || !record["url"].is_string()) {
    return note("ignoring an owners record that does not name a partition and a url");
  }
  const auto partition = record["partition"].get<std::uint64_t>();
  std::lock_guard lock(owners_mutex_);
  if (partition < owner_urls_.size()) owner_urls_[partition] = record["url"].get<std::string>();
}

std::optional<std::string> KafkaLog::owner_url(std::uint32_t partition) const {
  std::lock_guard lock(owners_mutex_);
  if (partition >= owner_urls_.size() || owner_urls_[partition].empty()) return std::nullopt;
  return owner_urls_[partition];
}

void KafkaLog::record_reservation(NumberReservation reservation, AppendDone done) {
  auto w = options_.join_group ? writer(partition_for(reservation.number)) : nullptr;
  if (!w) return done(std::unexpected(make_error_code(StoreErrc::not_owner)));
  PendingBatch batch{{}, std::move(done), {}};
  batch.reservations.push_back(std::move(reservation));
  w->queue->submit(std::move(batch));
}

void KafkaLog::add_reservation(std::string_view bytes) {
  auto r = decode_reservation(bytes);
  if (!r) return note("ignoring a number reservation record that does not decode");
  std::lock_guard lock(reservations_mutex_);
  if (r->dashboard_id.empty()) {
    reservations_.erase(r->number);
  } else {
    const std::string number = r->number;
    reservations_[number] = std::move(*r);
  }
}

std::optional<std::vector<NumberReservation>> KafkaLog::take_inherited_reservations(std::uint32_t partition) {
  std::lock_guard lock(reservations_mutex_);
  auto it = inherited_.find(partition);
  if (it == inherited_.end()) return std::nullopt;
  auto taken = std::move(it->second);
  inherited_.erase(it);
  return taken;
}

bool KafkaLog::withdraw_if_idle() {
  if (!options_.join_group) return false;
  if (withdrawn_) return true;
  if (!owned().empty()) return false;
  withdrawn_ = true;  // the ownership's thread leaves the group at its next poll
  return true;
}

std::vector<std::uint32_t> KafkaLog::owned() const {
  std::vector<std::uint32_t> owned;
  std::shared_lock lock(writers_mutex_);
  for (const auto& w : writers_) {
    if (w && !w->fenced) owned.push_back(w->partition);
  }
  return owned;
}

std::error_code KafkaLog::read(std::uint32_t partition, std::uint64_t from, std::uint64_t to,
                               const RecordVisitor& visit) {
  std::shared_lock lock(replica_mutex_);
  if (partition >= replica_.size()) return {};
  const bool read = replica_[partition].records->read(from, to, [&](std::uint64_t offset, std::string_view bytes) {
    return visit(StoredRecord{LogPosition{partition, offset}, bytes});
  });
  if (read) return {};
  note("cannot read partition " + std::to_string(partition) + "'s records from offset " + std::to_string(from) +
       " back from the record cache");
  return make_error_code(StoreErrc::log_unavailable);
}

void KafkaLog::keep(Partition& p, std::span<const RecordCache::Record> records) {
  if (records.empty()) return;
  if (auto kept = p.records->append(records); !kept) {
    // Committed, but this process cannot hold it: serving on would answer from a copy with
    // a hole in it. The others (or a restart) take over from the brokers, where it is safe.
    note(kept.error() + "; keyledger stops, since its copy of the topic would have a hole");
    std::_Exit(74);  // EX_IOERR
  }
  p.end = records.back().offset + 1;
}

void KafkaLog::note_partition(const RdKafka::Message& message) {
  if (!message.key_pointer() || message.partition() < 0) return;
  const std::string_view key(static_cast<const char*>(message.key_pointer()), message.key_len());
  const auto partition = static_cast<std::uint32_t>(message.partition());
  if (partition == kafka_partition(key, static_cast<std::uint32_t>(replica_.size()))) return;
  placed_elsewhere_.try_emplace(std::string(key), partition);
}

std::uint32_t KafkaLog::partition_for(std::string_view dashboard_id) const {
  if (!placed_elsewhere_.empty()) {
    if (auto it = placed_elsewhere_.find(std::string(dashboard_id)); it != placed_elsewhere_.end()) return it->second;
  }
  return kafka_partition(dashboard_id, static_cast<std::uint32_t>(replica_.size()));
}

void KafkaLog::add_followed(std::uint32_t partition, std::span<const RecordCache::Record> records) {
  {
    // Most records a writer follows are its own, added when their transaction committed.
    std::shared_lock seen(replica_mutex_);
    if (records.back().offset < replica_.at(partition).end) return;
  }
  {
    std::unique_lock lock(replica_mutex_);
    auto& p = replica_.at(partition);
    const auto fresh = std::ranges::find_if(records, [&](const RecordCache::Record& r) { return r.offset >= p.end; });
    if (fresh == records.end()) return;
    keep(p, std::span<const RecordCache::Record>(fresh, records.end()));
  }
  std::lock_guard lock(arrival_mutex_);
  arrival_due_ = true;
}

void KafkaLog::deliver_arrivals() {
  // Held while the callback runs, so that on_arrival() returns only once no call of the
  // callback it replaces is under way.
  std::lock_guard lock(arrival_mutex_);
  if (!arrival_due_ || !arrived_) return;
  arrival_due_ = false;
  arrived_();
}

void KafkaLog::on_arrival(std::function<void()> arrived) {
  std::lock_guard lock(arrival_mutex_);
  arrived_ = std::move(arrived);
  arrival_due_ = true;
}

std::chrono::milliseconds KafkaLog::staleness(std::uint32_t partition) const {
  return follower_ ? follower_->staleness(partition) : std::chrono::milliseconds{};
}

std::uint64_t KafkaLog::lag(std::uint32_t partition) const { return follower_ ? follower_->lag(partition) : 0; }

bool KafkaLog::current_since(std::uint32_t partition, std::chrono::steady_clock::time_point instant) const {
  return !follower_ || follower_->current_since(partition, instant);
}

void KafkaLog::request_currency() {
  if (follower_) follower_->probe_soon();
}

std::chrono::milliseconds KafkaLog::staleness() const {
  return follower_ ? follower_->staleness() : std::chrono::milliseconds{};
}

LogStats KafkaLog::stats() const {
  return LogStats{batches_.load(), syncs_.load(), rebalances(), fenced_batches_.load()};
}

std::uint64_t KafkaLog::end(std::uint32_t partition) const {
  std::shared_lock lock(replica_mutex_);
  return partition < replica_.size() ? replica_[partition].end : 0;
}

}  // namespace keyledger::eventstore
