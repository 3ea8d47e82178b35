#include "metrics.hpp"

#include <cstdio>

namespace keyledger::api {

namespace {
std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(value * 1e6), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::uint64_t cumulative = 0;
  std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " +
         number(static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6) + "\n";
  out += name + "_count" + (labels.empty() ? "" : "{" + labels + "}") + " " +
         std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
}

Metrics::Metrics()
    : request_latency_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      append_latency_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::record_request(const std::string& route, int status, double seconds) {
  request_latency_.observe(seconds);
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
}

void Metrics::record_command(const std::string& type, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  ++commands_[{type, outcome}];
}

std::string Metrics::render() const {
  std::string out;
  out += "# HELP keyledger_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE keyledger_http_requests_total counter\n";
  {
    std::lock_guard lock(mutex_);
    auto requests = requests_;
    requests[{"POST /v1/verify", 200}] += inline_verifications_.load(std::memory_order_relaxed);
    for (auto& [k, v] : requests) {
      if (v == 0) continue;
      out += "keyledger_http_requests_total{route=\"" + escape_label(k.first) + "\",status=\"" +
             std::to_string(k.second) + "\"} " + std::to_string(v) + "\n";
    }
    out += "# HELP keyledger_commands_total Commands by type and outcome.\n";
    out += "# TYPE keyledger_commands_total counter\n";
    for (auto& [k, v] : commands_) {
      out += "keyledger_commands_total{type=\"" + escape_label(k.first) + "\",outcome=\"" + escape_label(k.second) +
             "\"} " + std::to_string(v) + "\n";
    }
  }
  out += "# HELP keyledger_verify_total Verifications by result reason.\n";
  out += "# TYPE keyledger_verify_total counter\n";
  for (std::size_t i = 0; i < verify_.size(); ++i) {
    out += "keyledger_verify_total{reason=\"" +
           std::string(projections::to_string(static_cast<projections::VerifyReason>(i))) + "\"} " +
           std::to_string(verify_[i].load(std::memory_order_relaxed)) + "\n";
  }
  out += "# HELP keyledger_verify_stale_total Verifications refused with 503 replica_stale (the key's partition stale here).\n";
  out += "# TYPE keyledger_verify_stale_total counter\n";
  out += "keyledger_verify_stale_total " + std::to_string(stale_verifications_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP keyledger_forwarded_commands_total Commands this process forwarded to their partition's owner, by how "
         "they ended: answered (by the owner), no_owner (none found in time: 503), failed (the owner did not answer: 502).\n";
  out += "# TYPE keyledger_forwarded_commands_total counter\n";
  const char* forward_outcomes[] = {"answered", "no_owner", "failed"};
  for (std::size_t i = 0; i < forwarded_.size(); ++i) {
    out += "keyledger_forwarded_commands_total{outcome=\"" + std::string(forward_outcomes[i]) + "\"} " +
           std::to_string(forwarded_[i].load(std::memory_order_relaxed)) + "\n";
  }
  out += "# HELP keyledger_http_requests_in_flight Requests being handled on the worker pool (those that may wait on the log).\n";
  out += "# TYPE keyledger_http_requests_in_flight gauge\n";
  out += "keyledger_http_requests_in_flight " + std::to_string(waiting_requests_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP keyledger_http_connections_open Open client connections.\n";
  out += "# TYPE keyledger_http_connections_open gauge\n";
  out += "keyledger_http_connections_open " + std::to_string(open_connections_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP keyledger_key_usage_intervals_total Runs of the key usage recorder (one KeyUsageRecorded per dashboard with uses).\n";
  out += "# TYPE keyledger_key_usage_intervals_total counter\n";
  out += "keyledger_key_usage_intervals_total " + std::to_string(usage_intervals_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP keyledger_http_request_duration_seconds Time from a complete request to its answer.\n";
  out += "# TYPE keyledger_http_request_duration_seconds histogram\n";
  request_latency_.render(out, "keyledger_http_request_duration_seconds", "");
  out += "# HELP keyledger_log_append_duration_seconds Time for a batch to become durable in the log.\n";
  out += "# TYPE keyledger_log_append_duration_seconds histogram\n";
  append_latency_.render(out, "keyledger_log_append_duration_seconds", "");
  return out;
}

}  // namespace keyledger::api
