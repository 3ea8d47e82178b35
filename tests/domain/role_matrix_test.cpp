// Who may issue which command, SPEC §3 and §7, checked command by command for every actor.
#include <catch2/catch.hpp>

#include <map>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

namespace {

struct Row {
  const char* name;
  kd::Command command;
  std::vector<std::string> allowed;  // of "admin", "developer", "viewer", "operator", "service"
};

DeciderSpec a_furnished_dashboard() {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "n", {"all"}, {}, sealed("e1")},
              kd::WhatsAppKeyGenerated{"w1", "n", sealed("w1")}, kd::SmsNumberRegistered{"+14155550100"},
              kd::SmsKeyAssigned{"+14155550100", "s1", sealed("s1")}, kd::RcsBotRegistered{"bot-1"}},
             admin());
  return spec;
}

}  // namespace

TEST_CASE("each command is open exactly to the roles the spec names") {
  const std::vector<Row> rows{
      {"AddUser", kd::AddUser{"n@example.com", kd::Role::viewer, "h"}, {"admin"}},
      {"RemoveUser", kd::RemoveUser{"vic@example.com"}, {"admin"}},
      {"CloseDashboard", kd::CloseDashboard{""}, {"operator"}},
      {"GenerateEmailKey", kd::GenerateEmailKey{"e2", "n", {"all"}, {}, sealed("e2")}, {"admin", "developer"}},
      {"ChangeEmailKeyRestrictions", kd::ChangeEmailKeyRestrictions{"e1", std::string("m"), {}, {}}, {"admin", "developer"}},
      {"RotateEmailKey", kd::RotateEmailKey{"e1", 0, sealed("e1b")}, {"admin", "developer"}},
      {"RevokeEmailKey", kd::RevokeEmailKey{"e1"}, {"admin", "developer"}},
      {"RevealEmailKey", kd::RevealEmailKey{"e1", true}, {"admin", "developer"}},
      {"GenerateWhatsAppKey", kd::GenerateWhatsAppKey{"w2", "n", sealed("w2")}, {"admin"}},
      {"RotateWhatsAppKey", kd::RotateWhatsAppKey{"w1", 0, sealed("w1b")}, {"admin"}},
      {"RevokeWhatsAppKey", kd::RevokeWhatsAppKey{"w1"}, {"admin"}},
      {"RevealWhatsAppKey", kd::RevealWhatsAppKey{"w1", true}, {"admin"}},
      {"RegisterSmsNumber", kd::RegisterSmsNumber{"+14155550101", "s2", sealed("s2"), ""}, {"admin", "developer"}},
      {"ViewSmsKey", kd::ViewSmsKey{"+14155550100"}, {"admin", "developer"}},
      {"RotateSmsKey", kd::RotateSmsKey{"+14155550100", sealed("s1b")}, {"admin"}},
      {"DeregisterSmsNumber", kd::DeregisterSmsNumber{"+14155550100"}, {"admin", "developer"}},
      {"GenerateSmsKey", kd::GenerateSmsKey{}, {}},
      {"RevealRcsKey", kd::RevealRcsKey{true}, {"admin", "developer"}},
      {"GenerateRcsKey", kd::GenerateRcsKey{}, {}},
      {"RotateRcsKey", kd::RotateRcsKey{}, {}},
      {"RevokeRcsKey", kd::RevokeRcsKey{}, {}},
      {"ReissueRcsKey", kd::ReissueRcsKey{"incident", sealed("r2")}, {"operator"}},
      {"RegisterRcsBot", kd::RegisterRcsBot{"bot-2"}, {"admin", "developer"}},
      {"RemoveRcsBot", kd::RemoveRcsBot{"bot-1"}, {"admin", "developer"}},
      {"ReportKeyLeak", kd::ReportKeyLeak{"e1", "https://example.com/leak", "scanner", {}}, {"service"}},
  };
  const std::map<std::string, kd::Actor> actors{{"admin", admin()},
                                                {"developer", developer()},
                                                {"viewer", viewer()},
                                                {"operator", operator_actor()},
                                                {"service", service_actor()}};
  auto spec = a_furnished_dashboard();
  for (const auto& row : rows) {
    for (const auto& [who, actor] : actors) {
      INFO(row.name << " by " << who);
      auto outcome = spec.when(row.command, actor);
      bool allowed = std::find(row.allowed.begin(), row.allowed.end(), who) != row.allowed.end();
      if (allowed) {
        REQUIRE(outcome.accepted());
      } else {
        REQUIRE_FALSE(outcome.accepted());
        // Fixed-key commands answer with their invariant code whoever asks.
        if (row.allowed.empty()) continue;
        REQUIRE(refused_and_audited(outcome, RejectionCode::forbidden, kd::denied_event_type(row.command)));
      }
    }
  }
}
