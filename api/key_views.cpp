#include "key_views.hpp"

#include "eventstore/rfc3339.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

json key_json(std::string_view key_id, const kd::ApiKey& key, kd::Timestamp now) {
  json j{{"id", key_id},
         {"channel", kd::to_string(key.channel)},
         {"name", key.name},
         {"masked", key.masked()},
         {"status", kd::to_string(key.status_at(now))},
         {"created_at", es::format_rfc3339(key.created_at)},
         {"secret_issued_at", es::format_rfc3339(key.secret_issued_at)}};
  if (key.channel == kd::Channel::email) {
    j["permissions"] = kd::permission_names(key.permissions);
    j["ip_allowlist"] = key.ip_allowlist;
  }
  if (key.channel == kd::Channel::sms) j["number"] = key.name;
  if (key.has_previous && now < key.previous_valid_until) {
    j["previous_valid_until"] = es::format_rfc3339(key.previous_valid_until);
  }
  if (key.revoked) j["revoked_at"] = es::format_rfc3339(key.revoked_at);
  j["uses"] = key.uses;
  j["last_used_at"] = key.last_used_at ? json(es::format_rfc3339(*key.last_used_at)) : json(nullptr);
  return j;
}

json key_json(const es::CommandPipeline& pipeline, const std::string& dashboard_id, const std::string& key_id) {
  json j;
  pipeline.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    if (auto it = v.state.keys.find(key_id); it != v.state.keys.end()) j = key_json(key_id, it->second, pipeline.now());
  });
  return j;
}

}  // namespace keyledger::api
