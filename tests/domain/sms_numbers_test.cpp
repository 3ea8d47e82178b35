#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

namespace {
kd::RegisterSmsNumber register_number(std::string number, std::string key_id, std::string owner = "") {
  return {number, key_id, sealed(key_id), owner};
}
}  // namespace

TEST_CASE("registering a phone number assigns exactly one SMS key to it") {
  auto spec = a_dashboard();
  for (auto actor : {admin(), developer()}) {
    REQUIRE(spec.when(register_number("+14155550100", "s1"), actor).events ==
            std::vector<kd::Event>{kd::SmsNumberRegistered{"+14155550100"},
                                   kd::SmsKeyAssigned{"+14155550100", "s1", sealed("s1")}});
  }
  spec.run(register_number("+14155550100", "s1"), admin());
  REQUIRE(spec.state.numbers.at("+14155550100").key_id == "s1");
  REQUIRE(spec.state.keys.at("s1").name == "+14155550100");  // an SMS key is named by its number
}

TEST_CASE("nobody can generate an SMS key: it is always refused as sms_key_auto_assigned and audited") {
  auto spec = a_dashboard();
  for (auto actor : {admin(), developer(), viewer(), operator_actor()}) {
    REQUIRE(refused_and_audited(spec.when(kd::GenerateSmsKey{}, actor), RejectionCode::sms_key_auto_assigned,
                                "SmsKeyGenerationDenied"));
  }
}

TEST_CASE("viewers cannot register numbers") {
  auto spec = a_dashboard();
  REQUIRE(refused_and_audited(spec.when(register_number("+14155550100", "s1"), viewer()),
                              RejectionCode::forbidden, "SmsNumberRegistrationDenied"));
}

TEST_CASE("a number must be E.164") {
  auto spec = a_dashboard();
  for (std::string bad : {"14155550100", "+0123456789", "+1234567", "+1234567890123456", "+1415555O100", ""}) {
    auto outcome = spec.when(register_number(bad, "s1"), admin());
    REQUIRE(refused_silently(outcome, RejectionCode::invalid_request));
    REQUIRE(rejected_field(outcome) == "number");
  }
}

TEST_CASE("a number already registered in this dashboard is refused and keeps its one key") {
  auto spec = a_dashboard();
  spec.run(register_number("+14155550100", "s1"), admin());
  REQUIRE(refused_and_audited(spec.when(register_number("+14155550100", "s2"), admin()),
                              RejectionCode::number_already_registered, "SmsNumberRegistrationDenied"));
}

TEST_CASE("a number registered in another dashboard is refused without naming that dashboard") {
  auto spec = a_dashboard();
  auto outcome = spec.when(register_number("+14155550100", "s1", "d2"), admin());
  REQUIRE(refused_and_audited(outcome, RejectionCode::number_already_registered, "SmsNumberRegistrationDenied"));
  REQUIRE(outcome.rejection->detail.find("d2") == std::string::npos);
}

TEST_CASE("viewing an SMS key needs no password but is audited, and viewers cannot") {
  auto spec = a_dashboard();
  spec.run(register_number("+14155550100", "s1"), admin());
  REQUIRE(spec.when(kd::ViewSmsKey{"+14155550100"}, developer()).events ==
          std::vector<kd::Event>{kd::SmsKeyViewed{"+14155550100", "s1"}});
  REQUIRE(refused_and_audited(spec.when(kd::ViewSmsKey{"+14155550100"}, viewer()), RejectionCode::forbidden,
                              "SmsKeyViewDenied"));
  REQUIRE(refused_silently(spec.when(kd::ViewSmsKey{"+14155550199"}, admin()), RejectionCode::not_found));
}

TEST_CASE("an admin rotates an SMS key and the old secret stops working at once") {
  auto spec = a_dashboard();
  spec.run(register_number("+14155550100", "s1"), admin());
  REQUIRE(refused_and_audited(spec.when(kd::RotateSmsKey{"+14155550100", sealed("s1b")}, developer()),
                              RejectionCode::forbidden, "SmsKeyRotationDenied"));
  auto outcome = spec.run(kd::RotateSmsKey{"+14155550100", sealed("s1b")}, admin());
  REQUIRE(outcome.events == std::vector<kd::Event>{kd::SmsKeyRotated{"+14155550100", "s1", sealed("s1b")}});
  const auto& key = spec.state.keys.at("s1");
  REQUIRE(key.match(sealed("s1b").fingerprint, spec.now) == kd::SecretMatch::current);
  REQUIRE(key.match(sealed("s1").fingerprint, spec.now) == kd::SecretMatch::previous_expired);
}

TEST_CASE("deregistering a number revokes its key, and registering it again assigns a new one") {
  auto spec = a_dashboard();
  spec.run(register_number("+14155550100", "s1"), admin());
  REQUIRE(spec.run(kd::DeregisterSmsNumber{"+14155550100"}, developer()).events ==
          std::vector<kd::Event>{kd::SmsNumberDeregistered{"+14155550100", "s1"}});
  REQUIRE(spec.state.keys.at("s1").revoked);
  REQUIRE_FALSE(spec.state.numbers.contains("+14155550100"));
  REQUIRE(spec.run(register_number("+14155550100", "s2"), admin()).accepted());
  REQUIRE(spec.state.numbers.at("+14155550100").key_id == "s2");
}
