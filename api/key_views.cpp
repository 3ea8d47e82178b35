#include "key_views.hpp"

#include "domain/validation.hpp"
#include "eventstore/rfc3339.hpp"

namespace keyledger::api {

namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;

void write_key(es::json_writer::Writer& w, std::string_view key_id, const kd::ApiKey& key, kd::Timestamp now,
               const std::string* secret) {
  auto strings = [&](std::string_view name, const std::vector<std::string>& values) {
    w.key(name);
    w.begin_array();
    for (const auto& v : values) w.string(v);
    w.end_array();
  };
  auto time = [&](std::string_view name, kd::Timestamp t) {
    w.key(name);
    w.string(es::format_rfc3339(t));
  };
  const bool email = key.channel == kd::Channel::email;
  w.begin_object();  // members in name order
  w.key("channel");
  w.string(kd::to_string(key.channel));
  time("created_at", key.created_at);
  w.key("id");
  w.string(key_id);
  if (email) strings("ip_allowlist", key.ip_allowlist.ranges());
  if (secret) {
    w.key("key");
    w.string(*secret);
  }
  w.key("last_used_at");
  if (key.last_used_at) {
    w.string(es::format_rfc3339(*key.last_used_at));
  } else {
    w.null();
  }
  w.key("masked");
  w.string(key.masked());
  w.key("name");
  w.string(key.name);
  if (key.channel == kd::Channel::sms) {
    w.key("number");
    w.string(key.name);
  }
  if (email) strings("permissions", kd::permission_names(key.permissions));
  if (key.has_previous && now < key.previous_valid_until) time("previous_valid_until", key.previous_valid_until);
  if (key.revoked) time("revoked_at", key.revoked_at);
  time("secret_issued_at", key.secret_issued_at);
  w.key("status");
  w.string(kd::to_string(key.status_at(now)));
  w.key("uses");
  w.unsigned_integer(key.uses);
  w.end_object();
}

std::string key_text(std::string_view key_id, const kd::ApiKey& key, kd::Timestamp now, const std::string* secret) {
  std::string out;
  out.reserve(512);
  es::json_writer::Writer w(out);
  write_key(w, key_id, key, now, secret);
  return out;
}

std::optional<std::string> key_text(const es::CommandPipeline& pipeline, const std::string& dashboard_id,
                                    const std::string& key_id, const std::string* secret) {
  std::optional<std::string> out;
  pipeline.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    if (auto it = v.state.keys.find(key_id); it != v.state.keys.end()) {
      out = key_text(key_id, it->second, pipeline.now(), secret);
    }
  });
  return out;
}

Result key_response(int status, std::optional<std::string> text) {
  if (!text) return std::unexpected(not_found("no such key"));
  return json_text_response(status, std::move(*text));
}

nlohmann::json key_json(std::string_view key_id, const kd::ApiKey& key, kd::Timestamp now) {
  return nlohmann::json::parse(key_text(key_id, key, now));
}

}  // namespace keyledger::api
