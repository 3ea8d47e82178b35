#include "operations_routes.hpp"

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

Result OperationsRoutes::metrics() const {
  const auto stats = log_.stats();
  std::string text = metrics_.render();
  text += "# HELP keyledger_log_batches_total Batches (one per accepted command) the log made durable.\n";
  text += "# TYPE keyledger_log_batches_total counter\n";
  text += "keyledger_log_batches_total " + std::to_string(stats.batches) + "\n";
  text += "# HELP keyledger_log_syncs_total Durability points that covered them: fdatasync calls (file) or committed transactions (Kafka).\n";
  text += "# TYPE keyledger_log_syncs_total counter\n";
  text += "keyledger_log_syncs_total " + std::to_string(stats.syncs) + "\n";
  const auto applied = pipeline_.applied();
  text += "# HELP keyledger_partition_applied_offset One past the offset of the last record folded into state, per log partition.\n";
  text += "# TYPE keyledger_partition_applied_offset gauge\n";
  for (std::uint32_t p = 0; p < applied.size(); ++p) {
    text += "keyledger_partition_applied_offset{partition=\"" + std::to_string(p) + "\"} " + std::to_string(applied[p]) + "\n";
  }
  text += "# HELP keyledger_partition_staleness_seconds Time since this process's copy of the partition last held everything committed to it (0 for a file store).\n";
  text += "# TYPE keyledger_partition_staleness_seconds gauge\n";
  for (std::uint32_t p = 0; p < applied.size(); ++p) {
    text += "keyledger_partition_staleness_seconds{partition=\"" + std::to_string(p) + "\"} " +
            std::to_string(std::chrono::duration<double>(log_.staleness(p)).count()) + "\n";
  }
  text += "# HELP keyledger_partition_owned 1 when this process decides the commands of the partition's dashboards (a Kafka cluster's partition owner; always 1 for a file store).\n";
  text += "# TYPE keyledger_partition_owned gauge\n";
  for (std::uint32_t p = 0; p < applied.size(); ++p) {
    text += "keyledger_partition_owned{partition=\"" + std::to_string(p) + "\"} " + (log_.writable(p) ? "1" : "0") + "\n";
  }
  text += "# HELP keyledger_rebalances_total Times the owners' group changed this process's partitions (Kafka cluster).\n";
  text += "# TYPE keyledger_rebalances_total counter\n";
  text += "keyledger_rebalances_total " + std::to_string(stats.rebalances) + "\n";
  text += "# HELP keyledger_fenced_appends_total Batches refused because another writer had fenced this process's writer of their partition (Kafka).\n";
  text += "# TYPE keyledger_fenced_appends_total counter\n";
  text += "keyledger_fenced_appends_total " + std::to_string(stats.fenced) + "\n";
  text += "# HELP keyledger_partition_lag_offsets Offsets committed to the partition, as the brokers last said, that this process has not read yet (0 for a file store).\n";
  text += "# TYPE keyledger_partition_lag_offsets gauge\n";
  for (std::uint32_t p = 0; p < applied.size(); ++p) {
    text += "keyledger_partition_lag_offsets{partition=\"" + std::to_string(p) + "\"} " + std::to_string(log_.lag(p)) + "\n";
  }
  text += "# HELP keyledger_number_reservations_open Phone numbers reserved for registrations being decided or made durable now.\n";
  text += "# TYPE keyledger_number_reservations_open gauge\n";
  text += "keyledger_number_reservations_open " + std::to_string(pipeline_.open_reservations()) + "\n";
  return HttpResponse{200, "text/plain; version=0.0.4", std::move(text), {}, {}};
}

}  // namespace keyledger::api
