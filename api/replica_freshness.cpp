#include "replica_freshness.hpp"

namespace keyledger::api {

std::optional<std::chrono::milliseconds> ReplicaFreshness::stale(const std::string& dashboard_id) const {
  if (log_.staleness() <= limit_) return std::nullopt;
  const auto partition = pipeline_.partition_of(dashboard_id);
  // A dashboard with no folded event has no partition known here: its key cannot be in the
  // verify index either, so this is only a guard.
  const auto staleness = partition ? log_.staleness(*partition) : log_.staleness();
  if (staleness <= limit_) return std::nullopt;
  return staleness;
}

ApiError ReplicaFreshness::stale_error(std::chrono::milliseconds staleness) {
  return ApiError{503, "replica_stale",
                  "this process's copy of the key's partition was last known current " +
                      std::to_string(staleness.count()) + " ms ago, longer than KEYLEDGER_MAX_STALENESS allows; retry shortly",
                  "", {{"Retry-After", "1"}}};
}

}  // namespace keyledger::api
