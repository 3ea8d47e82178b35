#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

namespace {
kd::GenerateWhatsAppKey whatsapp_key(std::string id) { return {id, "support", sealed(id)}; }

DeciderSpec a_dashboard_with_three_whatsapp_keys() {
  auto spec = a_dashboard();
  spec.given({kd::WhatsAppKeyGenerated{"w1", "a", sealed("w1")},
              kd::WhatsAppKeyGenerated{"w2", "b", sealed("w2")},
              kd::WhatsAppKeyGenerated{"w3", "c", sealed("w3")}},
             admin());
  return spec;
}
}  // namespace

TEST_CASE("an admin generates a WhatsApp key") {
  auto spec = a_dashboard();
  REQUIRE(spec.when(whatsapp_key("w1"), admin()).events ==
          std::vector<kd::Event>{kd::WhatsAppKeyGenerated{"w1", "support", sealed("w1")}});
}

TEST_CASE("a non-admin generating a WhatsApp key is forbidden and audited") {
  auto spec = a_dashboard();
  for (auto actor : {developer(), viewer()}) {
    REQUIRE(refused_and_audited(spec.when(whatsapp_key("w1"), actor), RejectionCode::forbidden,
                                "WhatsAppKeyGenerationDenied"));
  }
}

TEST_CASE("a fourth active WhatsApp key is refused and audited") {
  auto spec = a_dashboard_with_three_whatsapp_keys();
  auto outcome = spec.when(whatsapp_key("w4"), admin());
  REQUIRE(refused_and_audited(outcome, RejectionCode::whatsapp_key_limit_reached,
                              "WhatsAppKeyGenerationDenied"));
  REQUIRE(outcome.events.size() == 1);
}

TEST_CASE("a revoked WhatsApp key frees its slot") {
  auto spec = a_dashboard_with_three_whatsapp_keys();
  REQUIRE(spec.run(kd::RevokeWhatsAppKey{"w2"}, admin()).accepted());
  REQUIRE(spec.state.active_whatsapp_keys() == 2);
  REQUIRE(spec.run(whatsapp_key("w4"), admin()).accepted());
  REQUIRE(refused_and_audited(spec.when(whatsapp_key("w5"), admin()),
                              RejectionCode::whatsapp_key_limit_reached, "WhatsAppKeyGenerationDenied"));
}

TEST_CASE("rotating a WhatsApp key uses no extra slot") {
  auto spec = a_dashboard_with_three_whatsapp_keys();
  auto rotation = spec.run(kd::RotateWhatsAppKey{"w1", 600, sealed("w1b")}, admin());
  REQUIRE(rotation.events ==
          std::vector<kd::Event>{kd::WhatsAppKeyRotated{"w1", sealed("w1b"), spec.now + 600s}});
  REQUIRE(spec.state.active_whatsapp_keys() == 3);
  REQUIRE(spec.state.keys.at("w1").match(sealed("w1").fingerprint, spec.now + 599s) == kd::SecretMatch::previous_in_grace);
  REQUIRE(spec.state.keys.at("w1").match(sealed("w1").fingerprint, spec.now + 600s) == kd::SecretMatch::previous_expired);
  REQUIRE(spec.when(whatsapp_key("w4"), admin()).rejection->code == RejectionCode::whatsapp_key_limit_reached);
}

TEST_CASE("only admins rotate, revoke or reveal WhatsApp keys") {
  auto spec = a_dashboard_with_three_whatsapp_keys();
  for (auto actor : {developer(), viewer()}) {
    REQUIRE(refused_and_audited(spec.when(kd::RotateWhatsAppKey{"w1", 0, sealed("x")}, actor),
                                RejectionCode::forbidden, "WhatsAppKeyRotationDenied"));
    REQUIRE(refused_and_audited(spec.when(kd::RevokeWhatsAppKey{"w1"}, actor), RejectionCode::forbidden,
                                "WhatsAppKeyRevocationDenied"));
    REQUIRE(refused_and_audited(spec.when(kd::RevealWhatsAppKey{"w1", true}, actor),
                                RejectionCode::forbidden, "WhatsAppKeyRevealDenied"));
  }
}

TEST_CASE("a WhatsApp key is disclosed only by a reveal with the admin's password") {
  auto spec = a_dashboard_with_three_whatsapp_keys();
  REQUIRE(spec.when(kd::RevealWhatsAppKey{"w1", true}, admin()).events ==
          std::vector<kd::Event>{kd::WhatsAppKeyRevealed{"w1"}});
  REQUIRE(refused_and_audited(spec.when(kd::RevealWhatsAppKey{"w1", false}, admin()),
                              RejectionCode::password_incorrect, "WhatsAppKeyRevealDenied"));
}
