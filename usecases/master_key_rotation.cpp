#include "master_key_rotation.hpp"

namespace keyledger::usecases {

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;

std::expected<MasterKeyRotation::Begun, es::RotationRefusal> MasterKeyRotation::begin(const es::MasterKey& next) {
  if (auto pending = keyring_.pending_rotation(); pending && pending->to == next.id()) return Begun{*pending, 0, true};
  auto rewrapped = keyring_.rotate(next);
  if (!rewrapped) return std::unexpected(rewrapped.error());
  return Begun{*keyring_.pending_rotation(), *rewrapped, false};
}

std::vector<std::string> MasterKeyRotation::dashboards_to_record(const es::PendingRotation& rotation) const {
  std::vector<std::string> ids;
  for (const auto& id : pipeline_.dashboard_ids()) {
    pipeline_.with_dashboard(id, [&](const es::DashboardView& v) {
      if (!v.state.closed && v.state.data_key_master != rotation.to) ids.push_back(id);
    });
  }
  return ids;
}

kd::RecordDataKeyRewrap MasterKeyRotation::command(const es::PendingRotation& rotation) {
  return kd::RecordDataKeyRewrap{rotation.to, rotation.from};
}

void MasterKeyRotation::watch(std::function<void(const std::string&)> report) {
  pipeline_.subscribe([this, report = std::move(report)](const es::Envelope& e, es::LogPosition, const kd::DashboardState&) {
    const auto* rewrapped = std::get_if<kd::DataKeyRewrapped>(&e.recorded.event);
    if (!rewrapped || rewrapped->previous_master_key_id != keyring_.master_key_id()) return;
    keyring_.superseded_by(rewrapped->master_key_id);
    // One that decides no partition now was not asked to adopt the key and will not be (a
    // partition's owner is): it takes none from now on, so that the partitions go to the
    // processes that hold the key. One that decides some is about to be asked, or serves a
    // cluster without a cluster token.
    const bool withdrawn = pipeline_.withdraw_if_idle();
    // Said once, and once more if the process withdraws only after that.
    const int said = withdrawn ? 2 : 1;
    int before = reported_.load();
    do {
      if (before >= said) return;
    } while (!reported_.compare_exchange_weak(before, said));
    if (!report) return;
    if (before == 0) {
      report("another process rotated the master key from " + rewrapped->previous_master_key_id + " to " +
             rewrapped->master_key_id + " without this one: it creates no dashboard's data key" +
             (withdrawn ? " and decides for no partition" : "") + " until it is restarted with the new master key file");
    } else {
      report("this process decides for no partition from now on (it cannot use master key " +
             rewrapped->master_key_id + ") until it is restarted with the new master key file");
    }
  });
}

std::expected<MasterKeyRotation::Pending, std::string> MasterKeyRotation::record_pending() {
  auto pending = keyring_.pending_rotation();
  // A process still on the previous key (one not asked to adopt the new one) leaves it be.
  if (!pending || pending->to != keyring_.master_key_id()) return Pending::none;
  if (!try_acquire()) return Pending::busy;
  struct Held {
    MasterKeyRotation& rotation;
    ~Held() { rotation.release(); }
  } held{*this};
  bool others = false;
  for (const auto& id : dashboards_to_record(*pending)) {
    if (!pipeline_.decides_for(id)) {  // another process of the cluster records it
      others = true;
      continue;
    }
    auto result = pipeline_.execute(id, command(*pending), {{kd::ActorKind::system, "keyledger", ""}, "master-key-rotation", "", ""});
    if (result.log_error) return std::unexpected("dashboard " + id + ": " + result.log_error.message());
  }
  if (others) return Pending::others_to_record;
  if (auto finished = finish(); !finished) return std::unexpected(finished.error());
  return Pending::finished;
}

}  // namespace keyledger::usecases
