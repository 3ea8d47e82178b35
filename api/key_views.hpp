// How keys are shown to API callers: masked, never a secret (a disclosure adds `key` itself).
// A key is one JSON object whose members are in name order, as a DOM's dump() writes them:
// written straight into the answer's text (single-key answers are the command path's: no
// DOM is built for them), or as a DOM for the few answers that nest a key in another object.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "domain/dashboard_state.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/json_writer.hpp"
#include "problem.hpp"

namespace keyledger::api {

// `secret`, when given, is shown as the member `key`: a disclosure.
void write_key(eventstore::json_writer::Writer& w, std::string_view key_id, const domain::ApiKey& key,
               domain::Timestamp now, const std::string* secret = nullptr);
std::string key_text(std::string_view key_id, const domain::ApiKey& key, domain::Timestamp now,
                     const std::string* secret = nullptr);
// The dashboard's key as it stands now; nullopt when there is no such key.
std::optional<std::string> key_text(const eventstore::CommandPipeline& pipeline, const std::string& dashboard_id,
                                    const std::string& key_id, const std::string* secret = nullptr);
nlohmann::json key_json(std::string_view key_id, const domain::ApiKey& key, domain::Timestamp now);
// `status` with the key's text; 404 `not_found` when the dashboard holds no such key.
Result key_response(int status, std::optional<std::string> text);

}  // namespace keyledger::api
