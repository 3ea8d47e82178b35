#include "master_key_routes.hpp"

namespace keyledger::api {

using nlohmann::json;
namespace es = keyledger::eventstore;

namespace {

json rotation_json(const std::optional<es::PendingRotation>& rotation) {
  if (!rotation) return nullptr;
  return json{{"from", rotation->from}, {"to", rotation->to}};
}

// Holds the one rotation slot until the handler ends, however it ends.
class RotationSlot {
 public:
  explicit RotationSlot(usecases::MasterKeyRotation& rotation) : rotation_(rotation), held_(rotation.try_acquire()) {}
  ~RotationSlot() {
    if (held_) rotation_.release();
  }
  RotationSlot(const RotationSlot&) = delete;
  RotationSlot& operator=(const RotationSlot&) = delete;
  bool held() const { return held_; }

 private:
  usecases::MasterKeyRotation& rotation_;
  bool held_;
};

}  // namespace

void MasterKeyRoutes::add_to(Router& router) {
  router.add("GET", "/v1/master-key", [this](RequestContext& c) { return get_master_key(c); });
  router.add("POST", "/v1/master-key/rotation", [this](RequestContext& c) { return rotate(c); });
  router.add("POST", "/v1/cluster/master-key/adoption", [this](RequestContext& c) { return adopt(c); });
  router.add("POST", "/v1/cluster/master-key/finish", [this](RequestContext& c) { return forget_previous(c); });
}

Result MasterKeyRoutes::get_master_key(RequestContext& ctx) const {
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  return json_response(200, {{"master_key_id", keyring_.master_key_id()},
                             {"rotation", rotation_json(keyring_.pending_rotation())}});
}

Task<Result> MasterKeyRoutes::rotate(RequestContext& ctx) {
  KEYLEDGER_CO_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  ctx.honours_idempotency_key = false;  // one command per dashboard; a repeat records nothing twice
  Fields body = ctx.fields();
  const std::string file = body.required_string("new_master_key_file");
  if (!body.ok()) co_return body.error();
  if (file.empty()) co_return std::unexpected(invalid_request("new_master_key_file", "must name the new master key file"));
  auto next = es::load_master_key(file);
  if (!next) co_return std::unexpected(invalid_request("new_master_key_file", next.error()));
  RotationSlot slot(rotation_);
  if (!slot.held()) {
    co_return std::unexpected(ApiError{409, "rotation_in_progress", "another master key rotation is running", "", {}});
  }
  auto begun = rotation_.begin(*next);
  if (!begun && begun.error().conflict) {
    co_return std::unexpected(ApiError{409, "rotation_refused", begun.error().detail, "", {}});
  }
  if (!begun) {
    co_return std::unexpected(ApiError{503, "keyring_unavailable", begun.error().detail, "", {{"Retry-After", "1"}}});
  }
  auto elsewhere = adopt_elsewhere(ctx, file, begun->rotation);
  Expected<std::size_t> recorded = co_await elsewhere;  // named: see KEYLEDGER_CO_AWAIT_TRY
  if (!recorded) co_return std::unexpected(recorded.error());
  auto here = record_here(ctx, begun->rotation, std::nullopt);
  Expected<std::size_t> recorded_here = co_await here;  // named: see KEYLEDGER_CO_AWAIT_TRY
  if (!recorded_here) co_return std::unexpected(recorded_here.error());
  *recorded += *recorded_here;
  if (auto finished = rotation_.finish(); !finished) {
    co_return std::unexpected(ApiError{503, "keyring_unavailable", finished.error(), "", {{"Retry-After", "1"}}});
  }
  // The others may forget the previous key too (best effort: a process that does not hear of
  // it shows the rotation as pending until it restarts, with the new key file).
  const std::string forget = json{{"master_key_id", begun->rotation.to}}.dump();
  for (std::uint32_t p = 0; forwarder_.enabled() && p < log_.partitions(); ++p) {
    if (log_.writable(p)) continue;
    auto told = forwarder_.ask_owner(ctx, p, "/v1/cluster/master-key/finish", forget);
    Expected<std::optional<HttpResponse>> answer = co_await told;  // named: see KEYLEDGER_CO_AWAIT_TRY
    (void)answer;
  }
  co_return json_response(200, {{"previous_master_key_id", begun->rotation.from},
                                {"master_key_id", begun->rotation.to},
                                {"data_keys_rewrapped", begun->data_keys_rewrapped},
                                {"dashboards_recorded", *recorded},
                                {"resumed", begun->resumed}});
}

Task<Expected<std::size_t>> MasterKeyRoutes::adopt_elsewhere(RequestContext& ctx, const std::string& file,
                                                              const es::PendingRotation& rotation) {
  std::size_t recorded = 0;
  for (std::uint32_t p = 0; forwarder_.enabled() && p < log_.partitions(); ++p) {
    if (log_.writable(p)) continue;
    const json body{{"new_master_key_file", file}, {"master_key_id", rotation.to}, {"partition", p}};
    auto asked = forwarder_.ask_owner(ctx, p, "/v1/cluster/master-key/adoption", body.dump());
    Expected<std::optional<HttpResponse>> answer = co_await asked;  // named: see KEYLEDGER_CO_AWAIT_TRY
    if (!answer) co_return std::unexpected(answer.error());
    if (!*answer) continue;  // this process decides it now: recorded here
    const json peer = json::parse((*answer)->body, nullptr, false);
    if ((*answer)->status != 200 || !peer.is_object() || !peer.contains("dashboards_recorded") ||
        !peer["dashboards_recorded"].is_number_unsigned()) {
      co_return std::unexpected(ApiError{
          503, "rotation_incomplete",
          "the keyring is wrapped by the new master key, but the owner of partition " + std::to_string(p) +
              " did not adopt it (" + std::to_string((*answer)->status) + " " + (*answer)->body.substr(0, 300) +
              "); repeat the request to finish the rotation",
          "", {{"Retry-After", "1"}}});
    }
    recorded += peer["dashboards_recorded"].get<std::size_t>();
  }
  co_return recorded;
}

Task<Expected<std::size_t>> MasterKeyRoutes::record_here(RequestContext& ctx, const es::PendingRotation& rotation,
                                                          std::optional<std::uint32_t> partition) {
  std::size_t recorded = 0;
  for (const auto& id : rotation_.dashboards_to_record(rotation)) {
    // On a cluster another process records the rest; one left for a dashboard whose owner
    // changed meanwhile is refused (not_owner) and recorded when the request is repeated.
    if (partition && pipeline_.placement_of(id) != *partition) continue;
    if (partition && !pipeline_.decides_for(id)) co_return std::unexpected(not_owner());
    auto ran = commands_.run(ctx, id, usecases::MasterKeyRotation::command(rotation));
    Expected<eventstore::CommandResult> result = co_await ran;  // named: see KEYLEDGER_CO_AWAIT_TRY
    if (!result) co_return std::unexpected(result.error());
    if (!result->appended.empty()) ++recorded;
  }
  co_return recorded;
}

Task<Result> MasterKeyRoutes::adopt(RequestContext& ctx) {
  KEYLEDGER_CO_CHECK(require_peer(ctx));
  KEYLEDGER_CO_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  ctx.honours_idempotency_key = false;
  Fields body = ctx.fields();
  const std::string file = body.required_string("new_master_key_file");
  const std::string id = body.required_string("master_key_id");
  const auto partition = body.optional_integer("partition");
  if (!body.ok()) co_return body.error();
  if (!partition || *partition < 0 || *partition >= static_cast<std::int64_t>(log_.partitions())) {
    co_return std::unexpected(invalid_request("partition", "must name one of the topic's partitions"));
  }
  auto next = es::load_master_key(file);
  if (!next) co_return std::unexpected(invalid_request("new_master_key_file", "on this process: " + next.error()));
  if (next->id() != id) {
    co_return std::unexpected(ApiError{409, "rotation_refused",
                                       "the file " + file + " holds master key " + next->id() + " on this process, not " + id,
                                       "", {}});
  }
  RotationSlot slot(rotation_);
  if (!slot.held()) {
    co_return std::unexpected(ApiError{409, "rotation_in_progress", "another master key rotation is running", "", {}});
  }
  auto adopted = rotation_.adopt(*next);
  if (!adopted) co_return std::unexpected(ApiError{409, "rotation_refused", adopted.error(), "", {}});
  const auto pending = keyring_.pending_rotation();
  std::size_t recorded = 0;
  if (pending) {
    auto here = record_here(ctx, *pending, static_cast<std::uint32_t>(*partition));
    Expected<std::size_t> recorded_here = co_await here;  // named: see KEYLEDGER_CO_AWAIT_TRY
    if (!recorded_here) co_return std::unexpected(recorded_here.error());
    recorded = *recorded_here;
  }
  co_return json_response(200, {{"master_key_id", id}, {"data_keys_rewrapped", *adopted}, {"dashboards_recorded", recorded}});
}

Result MasterKeyRoutes::forget_previous(RequestContext& ctx) {
  KEYLEDGER_CHECK(require_peer(ctx));
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  Fields body = ctx.fields();
  const std::string id = body.required_string("master_key_id");
  if (!body.ok()) return body.error();
  if (auto pending = keyring_.pending_rotation(); pending && pending->to == id) {
    if (auto finished = rotation_.finish(); !finished) {
      return std::unexpected(ApiError{503, "keyring_unavailable", finished.error(), "", {{"Retry-After", "1"}}});
    }
  }
  return json_response(200, {{"master_key_id", keyring_.master_key_id()}});
}

}  // namespace keyledger::api
