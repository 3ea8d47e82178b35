#include "read_models.hpp"

#include "eventstore/binary_codec.hpp"

namespace keyledger::api {

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;
namespace pj = keyledger::projections;

namespace {

// One dashboard's audit entries in a snapshot: varint n, then per entry varint sequence,
// u32 partition, varint offset, bytes type, bytes actor, u8 channel (0: none, else 1 + the
// channel), zigzag varint occurred_at in ms.
void save_audit(const pj::AuditIndex& index, const std::string& dashboard, std::string& out) {
  es::binary::Writer w(out);
  auto entries = index.all(dashboard);
  w.varint(entries.size());
  for (auto& e : entries) {
    w.varint(e.sequence);
    w.u32(e.partition);
    w.varint(e.offset);
    w.bytes(e.type);
    w.bytes(e.actor_id);
    w.u8(e.channel ? static_cast<std::uint8_t>(1 + static_cast<int>(*e.channel)) : 0);
    w.i64(e.occurred_at.time_since_epoch().count());
  }
}

bool load_audit(pj::AuditIndex& index, const std::string& dashboard, std::string_view in) {
  es::binary::Reader r(in);
  std::vector<pj::AuditEntry> entries(r.count(8));
  for (auto& e : entries) {
    e.sequence = r.varint();
    e.partition = r.u32();
    e.offset = r.varint();
    e.type = r.string();
    e.actor_id = r.string();
    const auto channel = r.u8();
    if (channel > 4) r.fail();
    if (channel > 0) e.channel = static_cast<kd::Channel>(channel - 1);
    e.occurred_at = kd::Timestamp{std::chrono::milliseconds{r.i64()}};
  }
  if (!r.ok() || !r.at_end()) return false;
  index.restore(dashboard, std::move(entries));
  return true;
}

}  // namespace

void ReadModels::attach(es::CommandPipeline& pipeline) {
  pipeline.subscribe([this](const es::Envelope& e, es::LogPosition position, const kd::DashboardState&) {
    audit_index.record(e.dashboard_id, pj::AuditEntry{e.sequence, position.partition, position.offset,
                                                      std::string(e.type()), e.recorded.actor.id,
                                                      kd::channel_of(e.recorded.event), e.recorded.occurred_at});
  });
  pipeline.add_snapshot_section(es::SnapshotSection{
      "audit_index",
      [this](const std::string& dashboard, std::string& out) { save_audit(audit_index, dashboard, out); },
      [this](const std::string& dashboard, std::string_view in) { return load_audit(audit_index, dashboard, in); },
      [this] { audit_index.clear(); }});
}

void ReadModels::serve(es::CommandPipeline& pipeline) {
  for (const auto& id : pipeline.dashboard_ids()) {
    pipeline.with_dashboard(id, [&](const es::DashboardView& view) { verify_index.refresh_dashboard(view.state); });
  }
  pipeline.subscribe([this](const es::Envelope& e, es::LogPosition, const kd::DashboardState& state) {
    std::visit(
        [&](const auto& event) {
          using E = std::decay_t<decltype(event)>;
          if constexpr (std::is_same_v<E, kd::DashboardClosed> || std::is_same_v<E, kd::DashboardCreated>) {
            verify_index.refresh_dashboard(state);
          } else if constexpr (std::is_same_v<E, kd::RcsBotRegistered> || std::is_same_v<E, kd::RcsBotRemoved>) {
            verify_index.refresh_bots(state.id, state.rcs_bots);
          } else if constexpr (requires { event.key_id; }) {
            if (auto it = state.keys.find(event.key_id); it != state.keys.end()) {
              verify_index.refresh_key(state.id, it->second);
            }
          }
        },
        e.recorded.event);
  });
}

}  // namespace keyledger::api
