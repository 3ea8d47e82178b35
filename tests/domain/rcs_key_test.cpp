#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

TEST_CASE("no dashboard user can generate, rotate or revoke the RCS key") {
  auto spec = a_dashboard();
  for (auto actor : {admin(), developer(), viewer()}) {
    REQUIRE(refused_and_audited(spec.when(kd::GenerateRcsKey{}, actor), RejectionCode::rcs_key_fixed,
                                "RcsKeyGenerationDenied"));
    REQUIRE(refused_and_audited(spec.when(kd::RotateRcsKey{}, actor), RejectionCode::rcs_key_fixed,
                                "RcsKeyRotationDenied"));
    REQUIRE(refused_and_audited(spec.when(kd::RevokeRcsKey{}, actor), RejectionCode::rcs_key_fixed,
                                "RcsKeyRevocationDenied"));
  }
}

TEST_CASE("the operator reissues the RCS key with a reason: same key, new secret, old one dead at once") {
  auto spec = a_dashboard();
  auto outcome = spec.run(kd::ReissueRcsKey{"leaked in a public gist", sealed("rcs2")}, operator_actor());
  REQUIRE(outcome.events == std::vector<kd::Event>{kd::RcsKeyReissued{"rcs1", "leaked in a public gist", sealed("rcs2")}});
  const auto& key = spec.state.keys.at("rcs1");
  REQUIRE(key.match(sealed("rcs2").fingerprint, spec.now) == kd::SecretMatch::current);
  REQUIRE(key.match(sealed("rcs1").fingerprint, spec.now) == kd::SecretMatch::previous_expired);
  REQUIRE(spec.state.keys.size() == 1);
}

TEST_CASE("reissuing the RCS key needs the operator and a reason") {
  auto spec = a_dashboard();
  REQUIRE(refused_and_audited(spec.when(kd::ReissueRcsKey{"why", sealed("x")}, admin()),
                              RejectionCode::forbidden, "RcsKeyReissueDenied"));
  auto no_reason = spec.when(kd::ReissueRcsKey{"", sealed("x")}, operator_actor());
  REQUIRE(refused_silently(no_reason, RejectionCode::invalid_request));
  REQUIRE(rejected_field(no_reason) == "reason");
}

TEST_CASE("admins and developers reveal the RCS key with their password, viewers cannot") {
  auto spec = a_dashboard();
  for (auto actor : {admin(), developer()}) {
    REQUIRE(spec.when(kd::RevealRcsKey{true}, actor).events == std::vector<kd::Event>{kd::RcsKeyRevealed{"rcs1"}});
    REQUIRE(refused_and_audited(spec.when(kd::RevealRcsKey{false}, actor), RejectionCode::password_incorrect,
                                "RcsKeyRevealDenied"));
  }
  REQUIRE(refused_and_audited(spec.when(kd::RevealRcsKey{true}, viewer()), RejectionCode::forbidden,
                              "RcsKeyRevealDenied"));
}

TEST_CASE("RCS bots are registered and removed by admins and developers") {
  auto spec = a_dashboard();
  REQUIRE(spec.run(kd::RegisterRcsBot{"bot-42"}, developer()).events ==
          std::vector<kd::Event>{kd::RcsBotRegistered{"bot-42"}});
  REQUIRE(spec.state.rcs_bots.contains("bot-42"));
  REQUIRE(rejected_field(spec.when(kd::RegisterRcsBot{"bot-42"}, admin())) == "bot_id");
  REQUIRE(rejected_field(spec.when(kd::RegisterRcsBot{"bad bot"}, admin())) == "bot_id");
  REQUIRE(refused_and_audited(spec.when(kd::RegisterRcsBot{"bot-43"}, viewer()), RejectionCode::forbidden,
                              "RcsBotRegistrationDenied"));
  REQUIRE(spec.run(kd::RemoveRcsBot{"bot-42"}, admin()).accepted());
  REQUIRE(refused_silently(spec.when(kd::RemoveRcsBot{"bot-42"}, admin()), RejectionCode::not_found));
}
