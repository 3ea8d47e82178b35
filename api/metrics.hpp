// Counters and histograms for /metrics in the Prometheus text format. Thread-safe; the
// verify counters are lock-free because they sit on the hot path.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "projections/verify_index.hpp"

namespace keyledger::api {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // one more than bounds: +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  Metrics();
  void record_request(const std::string& route, int status, double seconds);
  void record_command(const std::string& type, const std::string& outcome);
  void record_verify(projections::VerifyReason reason) {
    verify_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  // A verification refused because the key's partition was stale here (503 replica_stale).
  void record_stale_verify() { stale_verifications_.fetch_add(1, std::memory_order_relaxed); }
  // A command forwarded to its partition's owner (SPEC §10) and how it ended.
  enum class Forwarded { answered, no_owner, failed };
  void record_forward(Forwarded outcome) { forwarded_[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed); }
  void record_append(double seconds) { append_latency_.observe(seconds); }
  // A verification answered inside its connection (always 200): lock-free, as it is made
  // once a message by every sending service.
  void record_inline_verify(double seconds) {
    inline_verifications_.fetch_add(1, std::memory_order_relaxed);
    request_latency_.observe(seconds);
  }
  // Requests handed to the worker pool and not answered yet (those that may wait on the
  // log), open connections, and runs of the key usage recorder.
  void begin_waiting_request() { waiting_requests_.fetch_add(1, std::memory_order_relaxed); }
  void end_waiting_request() { waiting_requests_.fetch_sub(1, std::memory_order_relaxed); }
  std::atomic<std::int64_t>& open_connections() { return open_connections_; }
  void record_usage_interval() { usage_intervals_.fetch_add(1, std::memory_order_relaxed); }
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> commands_;
  std::array<std::atomic<std::uint64_t>, projections::kVerifyReasonCount> verify_{};
  std::atomic<std::uint64_t> inline_verifications_{0};
  std::atomic<std::uint64_t> stale_verifications_{0};
  std::array<std::atomic<std::uint64_t>, 3> forwarded_{};
  std::atomic<std::int64_t> waiting_requests_{0}, open_connections_{0};
  std::atomic<std::uint64_t> usage_intervals_{0};
  Histogram request_latency_;
  Histogram append_latency_;
};

}  // namespace keyledger::api
