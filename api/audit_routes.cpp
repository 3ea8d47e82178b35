#include "audit_routes.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "audit_view.hpp"
#include "crypto/crypto.hpp"
#include "eventstore/rfc3339.hpp"
#include "usecases/hash_chains.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace kd = keyledger::domain;
namespace es = keyledger::eventstore;
namespace pj = keyledger::projections;
namespace merkle = keyledger::crypto::merkle;

namespace {

// Stored bytes of one event of the audit index.
std::string read_at(es::EventLog& log, const pj::AuditEntry& entry) {
  return log.read_one(es::LogPosition{entry.partition, entry.offset});
}

Expected<pj::AuditFilter> filter_from(const RequestContext& ctx) {
  pj::AuditFilter f;
  for (auto [name, bound] : {std::pair{"since", &f.since}, std::pair{"until", &f.until}}) {
    auto it = ctx.query.find(name);
    if (it == ctx.query.end()) continue;
    *bound = es::parse_rfc3339(it->second);
    if (!*bound) return std::unexpected(invalid_request(name, std::string(name) + " must be an RFC 3339 UTC time"));
  }
  if (auto it = ctx.query.find("actor"); it != ctx.query.end()) f.actor = it->second;
  if (auto it = ctx.query.find("type"); it != ctx.query.end()) f.type = it->second;
  if (auto it = ctx.query.find("channel"); it != ctx.query.end()) {
    f.channel = kd::parse_channel(it->second);
    if (!f.channel) return std::unexpected(invalid_request("channel", "channel must be email, whatsapp, sms or rcs"));
  }
  return f;
}

json hexes_of(const std::vector<merkle::Hash>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) out.push_back(merkle::to_hex(h));
  return out;
}

// A v2 checkpoint names its tree; a v1 one (signed before schema version 2) has none.
json checkpoint_json(const std::string& dashboard_id, const kd::AuditCheckpointSigned& c) {
  json out{{"version", c.root_hash.empty() ? 1 : 2},
           {"dashboard_id", dashboard_id},
           {"sequence", c.sequence},
           {"head_hash", c.head_hash},
           {"signed_at", c.signed_at},
           {"algorithm", "Ed25519"},
           {"public_key", c.public_key},
           {"signature", c.signature}};
  if (!c.root_hash.empty()) {
    out["tree_size"] = c.tree_size;
    out["root_hash"] = c.root_hash;
  }
  return out;
}

// The dashboard's hash chain does not link where a proof or a checkpoint needed it to.
ApiError chain_broken(const std::string& why) { return ApiError{409, "chain_broken", why + "; see GET …/audit/verify", "", {}}; }

}  // namespace

void AuditRoutes::add_to(Router& router) {
  const std::string audit = "/v1/dashboards/{d}/audit";
  router.add("GET", audit, [this](RequestContext& c) { return list_audit(c); });
  router.add("GET", audit + "/export", [this](RequestContext& c) { return export_audit(c); });
  router.add("GET", audit + "/verify", [this](RequestContext& c) { return verify_audit(c); });
  router.add("GET", audit + "/proofs/inclusion", [this](RequestContext& c) { return inclusion_proof(c); });
  router.add("GET", audit + "/proofs/consistency", [this](RequestContext& c) { return consistency_proof(c); });
  router.add("GET", "/v1/dashboards/{d}/compliance", [this](RequestContext& c) { return compliance(c); });
  router.add("POST", audit + "/checkpoints", [this](RequestContext& c) { return sign_checkpoint(c); });
  router.add("GET", audit + "/checkpoints/latest", [this](RequestContext& c) { return latest_checkpoint(c); });
  router.add("GET", "/v1/audit/public-key", [this](RequestContext& c) { return checkpoint_public_key(c); });
  router.add("GET", "/v1/projections", [this](RequestContext& c) { return list_projections(c); });
}

Result AuditRoutes::list_audit(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  KEYLEDGER_TRY(filter, filter_from(ctx));
  KEYLEDGER_TRY(limit, ctx.number("limit", 100, 1, 1000));
  std::optional<std::uint64_t> cursor;
  if (ctx.query.contains("cursor")) {
    KEYLEDGER_TRY(after, ctx.number("cursor", 0, 1, UINT64_MAX));
    cursor = after;
  }
  const auto order = ctx.query.find("order");
  if (order != ctx.query.end() && order->second != "desc" && order->second != "asc") {
    return std::unexpected(invalid_request("order", "order must be asc or desc"));
  }
  const bool descending = order != ctx.query.end() && order->second == "desc";
  auto page = read_models_.audit_index.query(ctx.param("d"), filter, cursor, limit, descending);
  json events = json::array();
  for (auto& entry : page.entries) events.push_back(audit_view(read_at(log_, entry)));
  return json_response(200, {{"events", events},
                             {"next_cursor", page.next_cursor ? json(std::to_string(*page.next_cursor)) : json(nullptr)}});
}

Result AuditRoutes::export_audit(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, {kd::Role::admin}));
  // Streamed: only the positions are listed up front; events are read 256 at a time.
  auto entries = std::make_shared<std::vector<pj::AuditEntry>>(read_models_.audit_index.all(ctx.param("d")));
  auto next = std::make_shared<std::size_t>(0);
  HttpResponse response{200, "application/x-ndjson", "", {}, {}};
  response.stream = [&log = log_, entries, next](std::string& chunk) {
    if (*next >= entries->size()) return false;
    for (std::size_t end = std::min(entries->size(), *next + 256); *next < end; ++*next) {
      chunk += audit_view(read_at(log, (*entries)[*next])).dump() + "\n";
    }
    return true;
  };
  return response;
}

Result AuditRoutes::verify_audit(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, {kd::Role::admin}));
  const std::string& dashboard = ctx.param("d");
  const auto checked = usecases::verify_dashboard_chain(log_, dashboard, read_models_.audit_index.all(dashboard));
  if (const auto& b = checked.broken) {
    return json_response(200, {{"ok", false}, {"events", checked.chain.events()}, {"broken_at", b->sequence},
                               {"partition", b->position->partition}, {"position", b->position->offset},
                               {"reason", b->reason}});
  }
  return json_response(200, {{"ok", true}, {"events", checked.chain.events()}, {"head_hash", checked.chain.head()}});
}

// The dashboard's events so far (the largest tree a proof can be of), or 404.
Expected<std::uint64_t> AuditRoutes::history_size(const std::string& dashboard_id) const {
  std::optional<std::uint64_t> events;
  pipeline_.with_dashboard(dashboard_id, [&](const es::DashboardView& v) { events = v.sequence; });
  if (!events) return std::unexpected(not_found("no such dashboard"));
  return *events;
}

// Runs `answer` with the dashboard's Merkle tree of at least `size` leaves; a chain that
// does not link is a 409 naming where.
Result AuditRoutes::with_tree(const std::string& dashboard_id, std::uint64_t size,
                              const std::function<json(const merkle::Tree&)>& answer) const {
  json out;
  auto why = read_models_.audit_trees.with_tree(dashboard_id, size, log_, read_models_.audit_index,
                                                [&](const merkle::Tree& tree) { out = answer(tree); });
  if (why) return std::unexpected(chain_broken(*why));
  return json_response(200, out);
}

Result AuditRoutes::inclusion_proof(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  const std::string& d = ctx.param("d");
  KEYLEDGER_TRY(events, history_size(d));
  if (!ctx.query.contains("sequence")) return std::unexpected(invalid_request("sequence", "sequence is required: the event to prove"));
  KEYLEDGER_TRY(sequence, ctx.number("sequence", 0, 1, events));
  KEYLEDGER_TRY(tree_size, ctx.number("tree_size", events, sequence, events));
  return with_tree(d, tree_size, [&](const merkle::Tree& tree) {
    return json{{"leaf_index", sequence - 1},
                {"leaf_hash", merkle::to_hex(*tree.leaf(sequence - 1))},
                {"tree_size", tree_size},
                {"root_hash", merkle::to_hex(*tree.root(tree_size))},
                {"audit_path", hexes_of(*tree.inclusion_proof(sequence - 1, tree_size))}};
  });
}

Result AuditRoutes::consistency_proof(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  const std::string& d = ctx.param("d");
  KEYLEDGER_TRY(events, history_size(d));
  if (!ctx.query.contains("first")) return std::unexpected(invalid_request("first", "first is required: the earlier tree's size"));
  KEYLEDGER_TRY(first, ctx.number("first", 0, 1, events));
  KEYLEDGER_TRY(second, ctx.number("second", events, first, events));
  return with_tree(d, second, [&](const merkle::Tree& tree) {
    return json{{"first", first},
                {"second", second},
                {"first_root", merkle::to_hex(*tree.root(first))},
                {"second_root", merkle::to_hex(*tree.root(second))},
                {"proof", hexes_of(*tree.consistency_proof(first, second))}};
  });
}

Result AuditRoutes::compliance(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, {kd::Role::admin, kd::Role::viewer}));
  using namespace std::chrono;
  kd::Timestamp now{};
  const auto rotation_age = days(rotation_age_days_);
  json unused = json::array();
  json past_age = json::array(), unrestricted = json::array();
  std::size_t slots_used = 0;
  KEYLEDGER_CHECK(states_.read(ctx, [&](const kd::DashboardState& s, kd::Timestamp at) {
    now = at;
    for (auto& [id, key] : s.keys) {
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
    slots_used = s.active_whatsapp_keys();
  }));
  std::map<std::string, std::size_t> disclosures;
  for (auto& e : read_models_.audit_index.all(ctx.param("d"))) {
    bool disclosure = e.type.ends_with("Revealed") || e.type == "SmsKeyViewed";
    if (disclosure && e.occurred_at >= now - days(30) && e.occurred_at <= now) ++disclosures[e.actor_id];
  }
  json by_user = json::array();
  for (auto& [user, n] : disclosures) by_user.push_back({{"user", user}, {"disclosures", n}});
  json report{{"generated_at", es::format_rfc3339(now)},
              {"rotation_age_days", rotation_age_days_},
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

Task<Result> AuditRoutes::sign_checkpoint(RequestContext& ctx) {
  const std::string& d = ctx.param("d");
  auto checkpoint = checkpoints_.checkpoint(d);
  if (!checkpoint) co_return std::unexpected(chain_broken(checkpoint.error()));
  KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, d, std::move(*checkpoint)));
  co_return json_response(201, checkpoint_json(d, std::get<kd::AuditCheckpointSigned>(result.outcome.events.front())));
}

Result AuditRoutes::latest_checkpoint(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  json out;
  pipeline_.with_dashboard(ctx.param("d"), [&](const es::DashboardView& v) {
    if (v.state.last_checkpoint) out = checkpoint_json(v.state.id, *v.state.last_checkpoint);
  });
  if (out.is_null()) return std::unexpected(not_found("no checkpoint was signed for this dashboard yet"));
  return json_response(200, out);
}

Result AuditRoutes::checkpoint_public_key(RequestContext&) {
  return json_response(200, {{"algorithm", "Ed25519"}, {"public_key", checkpoints_.public_key_hex()}});
}

Result AuditRoutes::list_projections(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  auto digest = [](const std::string& text) { return crypto::to_hex(crypto::sha256(text)); };
  return json_response(200, {{"projections",
                              {{{"name", "verify_index"}, {"position", pipeline_.events()},
                                {"sha256", digest(read_models_.verify_index.canonical_dump())}},
                               {{"name", "audit_index"}, {"position", read_models_.audit_index.events()},
                                {"sha256", digest(read_models_.audit_index.canonical_dump())}},
                               {{"name", "dashboard_state"}, {"position", pipeline_.events()},
                                {"sha256", digest(pipeline_.canonical_state())}}}}});
}

}  // namespace keyledger::api
