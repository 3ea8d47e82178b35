// The audit trail (listing, export, chain verification) and the compliance report.
#include <algorithm>
#include <chrono>

#include "application.hpp"
#include "crypto/crypto.hpp"
#include <iostream>
#include "eventstore/rfc3339.hpp"
#include "usecases/hash_chains.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;
namespace pj = keyledger::projections;

namespace {

// Stored bytes of one event of the audit index.
std::string read_at(es::EventLog& log, const pj::AuditEntry& entry) {
  return log.read_one(es::LogPosition{entry.partition, entry.offset});
}

// What the audit API shows of an envelope: everything, except material that is safe in the
// log but needless to readers (password hashes, sealed ciphertexts).
json redacted(const std::string& bytes) {
  json e = json::parse(bytes, nullptr, false);
  if (e.is_discarded()) return json{{"error", "undecodable event"}};
  json& data = e["data"];
  if (data.contains("password_hash")) data["password_hash"] = "[redacted]";
  if (data.contains("secret")) data["secret"].erase("ciphertext");
  return e;
}

pj::AuditFilter filter_from(const RequestContext& ctx) {
  pj::AuditFilter f;
  auto time_param = [&](const char* name) -> std::optional<kd::Timestamp> {
    auto it = ctx.query.find(name);
    if (it == ctx.query.end()) return std::nullopt;
    auto t = es::parse_rfc3339(it->second);
    if (!t) throw ApiError{400, "invalid_request", std::string(name) + " must be an RFC 3339 UTC time", name, {}};
    return t;
  };
  f.since = time_param("since");
  f.until = time_param("until");
  if (auto it = ctx.query.find("actor"); it != ctx.query.end()) f.actor = it->second;
  if (auto it = ctx.query.find("type"); it != ctx.query.end()) f.type = it->second;
  if (auto it = ctx.query.find("channel"); it != ctx.query.end()) {
    f.channel = kd::parse_channel(it->second);
    if (!f.channel) throw ApiError{400, "invalid_request", "channel must be email, whatsapp, sms or rcs", "channel", {}};
  }
  return f;
}

std::uint64_t number_param(const RequestContext& ctx, const char* name, std::uint64_t fallback, std::uint64_t min,
                           std::uint64_t max) {
  auto it = ctx.query.find(name);
  if (it == ctx.query.end()) return fallback;
  try {
    std::size_t used = 0;
    auto v = std::stoull(it->second, &used);
    if (used == it->second.size() && v >= min && v <= max) return v;
  } catch (const std::exception&) {
  }
  throw ApiError{400, "invalid_request",
                 std::string(name) + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max),
                 name, {}};
}

}  // namespace

HttpResponse Application::list_audit(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer, kd::Role::viewer});
  auto filter = filter_from(ctx);
  std::size_t limit = number_param(ctx, "limit", 100, 1, 1000);
  std::optional<std::uint64_t> cursor;
  if (ctx.query.contains("cursor")) cursor = number_param(ctx, "cursor", 0, 1, UINT64_MAX);
  bool descending = ctx.query.contains("order") && ctx.query.at("order") == "desc";
  if (ctx.query.contains("order") && ctx.query.at("order") != "desc" && ctx.query.at("order") != "asc") {
    throw ApiError{400, "invalid_request", "order must be asc or desc", "order", {}};
  }
  auto page = read_models_.audit_index.query(ctx.params.at("d"), filter, cursor, limit, descending);
  json events = json::array();
  for (auto& entry : page.entries) events.push_back(redacted(read_at(log_, entry)));
  return json_response(200, {{"events", events},
                             {"next_cursor", page.next_cursor ? json(std::to_string(*page.next_cursor)) : json(nullptr)}});
}

HttpResponse Application::export_audit(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin});
  // Streamed: only the positions are listed up front; events are read 256 at a time.
  auto entries = std::make_shared<std::vector<pj::AuditEntry>>(read_models_.audit_index.all(ctx.params.at("d")));
  auto next = std::make_shared<std::size_t>(0);
  HttpResponse response{200, "application/x-ndjson", "", {}, {}};
  response.stream = [this, entries, next](std::string& chunk) {
    if (*next >= entries->size()) return false;
    for (std::size_t end = std::min(entries->size(), *next + 256); *next < end; ++*next) {
      chunk += redacted(read_at(log_, (*entries)[*next])).dump() + "\n";
    }
    return true;
  };
  return response;
}

HttpResponse Application::verify_audit(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin});
  const std::string& dashboard = ctx.params.at("d");
  const auto checked = usecases::verify_dashboard_chain(log_, dashboard, read_models_.audit_index.all(dashboard));
  if (const auto& b = checked.broken) {
    return json_response(200, {{"ok", false}, {"events", checked.chain.events()}, {"broken_at", b->sequence},
                               {"partition", b->position->partition}, {"position", b->position->offset},
                               {"reason", b->reason}});
  }
  return json_response(200, {{"ok", true}, {"events", checked.chain.events()}, {"head_hash", checked.chain.head()}});
}

HttpResponse Application::compliance(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::viewer});
  using namespace std::chrono;
  const kd::Timestamp now = pipeline_.now();
  const auto rotation_age = days(config_.rotation_age_days);
  json unused = json::array();
  json past_age = json::array(), unrestricted = json::array();
  std::size_t slots_used = 0;
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    for (auto& [id, key] : v.state.keys) {
      if (key.revoked) continue;
      bool rotatable = key.channel == kd::Channel::email || key.channel == kd::Channel::whatsapp;
      if (rotatable && now - key.secret_issued_at > rotation_age) {
        past_age.push_back({{"id", id}, {"channel", kd::to_string(key.channel)}, {"name", key.name},
                            {"secret_issued_at", es::format_rfc3339(key.secret_issued_at)},
                            {"age_days", duration_cast<days>(now - key.secret_issued_at).count()}});
      }
      kd::Timestamp last_activity = key.last_used_at.value_or(key.created_at);
      if (now - last_activity > days(90)) {
        unused.push_back({{"id", id}, {"channel", kd::to_string(key.channel)}, {"name", key.name},
                          {"last_used_at", key.last_used_at ? json(es::format_rfc3339(*key.last_used_at)) : json(nullptr)}});
      }
      if (key.channel == kd::Channel::email && key.ip_allowlist.empty()) {
        unrestricted.push_back({{"id", id}, {"name", key.name}});
      }
    }
    slots_used = v.state.active_whatsapp_keys();
  });
  std::map<std::string, std::size_t> disclosures;
  pj::AuditFilter last_30_days;
  last_30_days.since = now - days(30);
  for (auto& e : read_models_.audit_index.all(ctx.params.at("d"))) {
    bool disclosure = e.type.ends_with("Revealed") || e.type == "SmsKeyViewed";
    if (disclosure && e.occurred_at >= *last_30_days.since) ++disclosures[e.actor_id];
  }
  json by_user = json::array();
  for (auto& [user, n] : disclosures) by_user.push_back({{"user", user}, {"disclosures", n}});
  json report{{"generated_at", es::format_rfc3339(now)},
              {"rotation_age_days", config_.rotation_age_days},
              {"keys_unused_90_days", unused},
              {"keys_past_rotation_age", past_age},
              {"email_keys_without_ip_restriction", unrestricted},
              {"secret_disclosures_last_30_days", by_user},
              {"whatsapp_slots", {{"used", slots_used}, {"total", kd::kWhatsAppKeyLimit}}}};
  if (ctx.query.contains("format") && ctx.query.at("format") == "csv") {
    std::string csv = "finding,key_id,channel,detail\n";
    for (auto& k : past_age) {
      csv += "past_rotation_age," + k["id"].get<std::string>() + "," + k["channel"].get<std::string>() + "," +
             std::to_string(k["age_days"].get<long>()) + " days\n";
    }
    for (auto& k : unrestricted) csv += "no_ip_restriction," + k["id"].get<std::string>() + ",email,\n";
    for (auto& k : unused) {
      csv += "unused_90_days," + k["id"].get<std::string>() + "," + k["channel"].get<std::string>() + ",\n";
    }
    for (auto& u : by_user) {
      csv += "disclosures_last_30_days,,," + u["user"].get<std::string>() + " " +
             std::to_string(u["disclosures"].get<std::size_t>()) + "\n";
    }
    csv += "whatsapp_slots,,whatsapp," + std::to_string(slots_used) + "/" + std::to_string(kd::kWhatsAppKeyLimit) + "\n";
    return HttpResponse{200, "text/csv", csv, {}, {}};
  }
  return json_response(200, report);
}

es::CommandResult Application::sign(const std::string& dashboard_id, const kd::Actor& actor,
                                   const std::string& request_id) {
  std::uint64_t sequence = 0;
  std::string head;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) {
    sequence = v.sequence;
    head = v.head_hash;
  });
  std::string signed_at = es::format_rfc3339(pipeline_.now());
  std::string signature = crypto::ed25519_sign(checkpoint_seed_, kd::checkpoint_text(dashboard_id, sequence, head, signed_at));
  return pipeline_.execute(dashboard_id,
                           kd::SignAuditCheckpoint{sequence, head, signed_at,
                                                   crypto::to_hex(crypto::ed25519_public_key(checkpoint_seed_)),
                                                   crypto::to_hex(signature)},
                           {actor, request_id, "", ""});
}

namespace {
json checkpoint_json(const std::string& dashboard_id, const kd::AuditCheckpointSigned& c) {
  return json{{"dashboard_id", dashboard_id}, {"sequence", c.sequence}, {"head_hash", c.head_hash},
              {"signed_at", c.signed_at},    {"algorithm", "Ed25519"},  {"public_key", c.public_key},
              {"signature", c.signature}};
}
}  // namespace

HttpResponse Application::sign_checkpoint(RequestContext& ctx) {
  if (ctx.principal.kind == Principal::Kind::anonymous) {
    throw ApiError{401, "unauthenticated", "this route needs a bearer token", "", {}};
  }
  const std::string& d = ctx.params.at("d");
  auto result = sign(d, actor_of(ctx), ctx.request_id);
  throw_if_refused(ctx, result);
  return json_response(201, checkpoint_json(d, std::get<kd::AuditCheckpointSigned>(result.outcome.events.front())));
}

HttpResponse Application::latest_checkpoint(RequestContext& ctx) {
  require_member(ctx, {kd::Role::admin, kd::Role::developer, kd::Role::viewer});
  json out;
  pipeline_.with_dashboard(ctx.params.at("d"), [&](const es::DashboardView& v) {
    if (v.state.last_checkpoint) out = checkpoint_json(v.state.id, *v.state.last_checkpoint);
  });
  if (out.is_null()) throw ApiError{404, "not_found", "no checkpoint was signed for this dashboard yet", "", {}};
  return json_response(200, out);
}

HttpResponse Application::checkpoint_public_key(RequestContext&) {
  return json_response(200, {{"algorithm", "Ed25519"},
                             {"public_key", crypto::to_hex(crypto::ed25519_public_key(checkpoint_seed_))}});
}

HttpResponse Application::list_projections(RequestContext& ctx) {
  require_principal(ctx, Principal::Kind::platform_operator);
  auto digest = [](const std::string& text) { return crypto::to_hex(crypto::sha256(text)); };
  json state_digest = digest(pipeline_.canonical_state());
  return json_response(200, {{"projections",
                              {{{"name", "verify_index"}, {"position", pipeline_.events()},
                                {"sha256", digest(read_models_.verify_index.canonical_dump())}},
                               {{"name", "audit_index"}, {"position", read_models_.audit_index.events()},
                                {"sha256", digest(read_models_.audit_index.canonical_dump())}},
                               {{"name", "dashboard_state"}, {"position", pipeline_.events()},
                                {"sha256", state_digest}}}}});
}

void Application::sign_due_checkpoints() {
  for (const auto& id : pipeline_.dashboard_ids()) {
    bool due = false;
    pipeline_.with_dashboard(id, [&](const es::DashboardView& v) {
      // A checkpoint is itself an event: only the events after the last one make a new one due.
      std::uint64_t covered = v.state.last_checkpoint ? v.state.last_checkpoint->sequence + 1 : 0;
      due = !v.state.closed && v.sequence > covered;
    });
    if (!due) continue;
    auto result = sign(id, {kd::ActorKind::system, "keyledger", ""}, "checkpoint-timer");
    if (result.log_error) {
      std::cerr << json{{"level", "warn"}, {"msg", "checkpoint not signed"}, {"dashboard_id", id},
                        {"error", result.log_error.message()}}.dump() + "\n";
    }
  }
}

void Application::record_key_usage() {
  for (auto& [dashboard, usage] : read_models_.verify_index.drain_usage()) {
    kd::RecordKeyUsage command;
    for (auto& u : usage) command.usage.push_back({u.key_id, u.uses, u.last_used_at});
    auto result = pipeline_.execute(dashboard, std::move(command), {{kd::ActorKind::system, "keyledger", ""}, "usage-timer", "", ""});
    if (result.log_error) {
      std::cerr << json{{"level", "warn"}, {"msg", "key usage not recorded"}, {"dashboard_id", dashboard},
                        {"error", result.log_error.message()}}.dump() + "\n";
    }
  }
  metrics_.record_usage_interval();  // after the run: a reader of the counter sees its events
}

}  // namespace keyledger::api
