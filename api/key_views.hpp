// How keys are shown to API callers: masked, never a secret (a disclosure adds `key` itself).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "domain/dashboard_state.hpp"
#include "eventstore/command_pipeline.hpp"

namespace keyledger::api {

nlohmann::json key_json(std::string_view key_id, const domain::ApiKey& key, domain::Timestamp now);
// The dashboard's key as it stands now; null when there is no such key.
nlohmann::json key_json(const eventstore::CommandPipeline& pipeline, const std::string& dashboard_id,
                        const std::string& key_id);

}  // namespace keyledger::api
