#include "operations_routes.hpp"

#include <functional>

#include "openapi_document.hpp"

namespace keyledger::api {

void OperationsRoutes::add_to(Router& router) {
  router.add("GET", "/healthz", [](RequestContext&) -> Result { return json_response(200, {{"status", "ok"}}); });
  router.add("GET", "/readyz", [this](RequestContext&) { return readyz(); });
  router.add("GET", "/metrics", [this](RequestContext&) { return metrics(); });
  router.add("GET", "/openapi.json", [](RequestContext&) -> Result {
    return HttpResponse{200, "application/json", std::string(openapi_document()), {}, {}};
  });
}

Result OperationsRoutes::readyz() const {
  const bool ready = ready_.load();
  return json_response(ready ? 200 : 503, {{"ready", ready}, {"log_position", pipeline_.events()}});
}

namespace {

// One series in Prometheus's text format: its HELP and TYPE lines, then its value.
void series(std::string& text, const std::string& name, const char* type, const char* help, const std::string& value) {
  text += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + value + "\n";
}

// A gauge with one value per log partition.
void per_partition(std::string& text, const std::string& name, const char* help, std::uint32_t partitions,
                   const std::function<std::string(std::uint32_t)>& value) {
  text += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
  for (std::uint32_t p = 0; p < partitions; ++p) {
    text += name + "{partition=\"" + std::to_string(p) + "\"} " + value(p) + "\n";
  }
}

}  // namespace

Result OperationsRoutes::metrics() const {
  const auto stats = log_.stats();
  const auto applied = pipeline_.applied();
  const auto partitions = static_cast<std::uint32_t>(applied.size());
  std::string text = metrics_.render();
  series(text, "keyledger_log_batches_total", "counter", "Batches (one per accepted command) the log made durable.",
         std::to_string(stats.batches));
  series(text, "keyledger_log_syncs_total", "counter",
         "Durability points that covered them: fdatasync calls (file) or committed transactions (Kafka).",
         std::to_string(stats.syncs));
  per_partition(text, "keyledger_partition_applied_offset",
                "One past the offset of the last record folded into state, per log partition.", partitions,
                [&](std::uint32_t p) { return std::to_string(applied[p]); });
  per_partition(text, "keyledger_partition_staleness_seconds",
                "Time since this process's copy of the partition last held everything committed to it (0 for a file "
                "store).",
                partitions,
                [&](std::uint32_t p) { return std::to_string(std::chrono::duration<double>(log_.staleness(p)).count()); });
  per_partition(text, "keyledger_partition_lag_offsets",
                "Offsets committed to the partition, as the brokers last said, that this process has not read yet (0 "
                "for a file store).",
                partitions, [&](std::uint32_t p) { return std::to_string(log_.lag(p)); });
  per_partition(text, "keyledger_partition_owned",
                "1 when this process decides the commands of the partition's dashboards (a Kafka cluster's partition "
                "owner; always 1 for a file store).",
                partitions, [&](std::uint32_t p) { return std::string(log_.writable(p) ? "1" : "0"); });
  series(text, "keyledger_rebalances_total", "counter",
         "Times the owners' group changed this process's partitions (Kafka cluster).", std::to_string(stats.rebalances));
  series(text, "keyledger_fenced_appends_total", "counter",
         "Batches refused because another writer had fenced this process's writer of their partition (Kafka).",
         std::to_string(stats.fenced));
  series(text, "keyledger_number_reservations_open", "gauge",
         "Phone numbers reserved for registrations being decided or made durable now.",
         std::to_string(pipeline_.open_reservations()));
  return HttpResponse{200, "text/plain; version=0.0.4", std::move(text), {}, {}};
}

}  // namespace keyledger::api
