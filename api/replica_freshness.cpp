#include "replica_freshness.hpp"

namespace keyledger::api {

std::optional<std::chrono::milliseconds> ReplicaFreshness::stale(const std::string& dashboard_id) const {
  if (log_.staleness() <= limit_) return std::nullopt;
  // A key found in no dashboard (an empty id) has no partition to be stale on.
  const auto partition = pipeline_.partition_of(dashboard_id);
  if (!partition) return std::nullopt;
  const auto staleness = log_.staleness(*partition);
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
