#include "projector.hpp"

#include "eventstore/binary_codec.hpp"

namespace keyledger::projections {

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;

namespace {

// One dashboard's audit trail in a snapshot: u32 partition, varint first sequence, its
// tables of types and actors (varint n, bytes...), then varint n rows of varint offset,
// zigzag varint occurred_at (ms), varint actor, varint type, u8 channel (0: none, else 1 +
// the channel).
void save_audit(AuditIndex::Trail trail, const AuditIndex& index, std::string& out) {
  index.localize(trail);
  es::binary::Writer w(out);
  w.u32(trail.partition);
  w.varint(trail.first_sequence);
  for (const auto* table : {&trail.types, &trail.actors}) {
    w.varint(table->size());
    for (const auto& text : *table) w.bytes(text);
  }
  w.varint(trail.rows.size());
  for (const auto& row : trail.rows) {
    w.varint(row.offset);
    w.i64(row.occurred_ms);
    w.varint(row.actor);
    w.varint(row.type);
    w.u8(row.channel);
  }
}

bool load_audit(AuditIndex& index, const std::string& dashboard, std::string_view in) {
  es::binary::Reader r(in);
  AuditIndex::Trail trail;
  trail.partition = r.u32();
  trail.first_sequence = r.varint();
  for (auto* table : {&trail.types, &trail.actors}) {
    table->resize(r.count());
    for (auto& text : *table) text = r.string();
  }
  trail.rows.resize(r.count(5));
  for (auto& row : trail.rows) {
    row.offset = r.varint();
    row.occurred_ms = r.i64();
    row.actor = static_cast<std::uint32_t>(r.varint());
    const auto type = r.varint();
    if (type > 0xffff) r.fail();
    row.type = static_cast<std::uint16_t>(type);
    row.channel = r.u8();
  }
  return r.ok() && r.at_end() && index.restore(dashboard, trail);
}

}  // namespace

void Projector::attach(es::CommandPipeline& pipeline) {
  pipeline.subscribe([this](const es::Envelope& e, es::LogPosition position, const kd::DashboardState&) {
    audit_index.record(e.dashboard_id, AuditEntry{e.sequence, position.partition, position.offset,
                                                      std::string(e.type()), e.recorded.actor.id,
                                                      kd::channel_of(e.recorded.event), e.recorded.occurred_at});
    audit_trees.follow(e.dashboard_id, e.sequence, e.hash);
  });
  pipeline.add_snapshot_section(es::SnapshotSection{
      "audit_index",
      [this](const std::string& dashboard) -> es::SnapshotSection::Writer {
        return [this, trail = audit_index.capture(dashboard)](std::string& out) mutable {
          save_audit(std::move(trail), audit_index, out);
        };
      },
      [this](const std::string& dashboard, std::string_view in) { return load_audit(audit_index, dashboard, in); },
      [this] { audit_index.clear(); }});
}

void Projector::serve(es::CommandPipeline& pipeline) {
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
              verify_index.refresh_key(state.id, it->first, it->second);
            }
          }
        },
        e.recorded.event);
  });
}

}  // namespace keyledger::projections
