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
  std::size_t recorded = 0;
  for (const auto& id : rotation_.dashboards_to_record(begun->rotation)) {
    KEYLEDGER_CO_AWAIT_TRY(result, commands_.run(ctx, id, usecases::MasterKeyRotation::command(begun->rotation)));
    if (!result.appended.empty()) ++recorded;
  }
  if (auto finished = rotation_.finish(); !finished) {
    co_return std::unexpected(ApiError{503, "keyring_unavailable", finished.error(), "", {{"Retry-After", "1"}}});
  }
  co_return json_response(200, {{"previous_master_key_id", begun->rotation.from},
                                {"master_key_id", begun->rotation.to},
                                {"data_keys_rewrapped", begun->data_keys_rewrapped},
                                {"dashboards_recorded", recorded},
                                {"resumed", begun->resumed}});
}

}  // namespace keyledger::api
