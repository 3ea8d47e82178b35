#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

namespace {
DeciderSpec a_dashboard_with_one_key_per_channel() {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "n", {"all"}, {}, sealed("e1")},
              kd::WhatsAppKeyGenerated{"w1", "n", sealed("w1")}, kd::SmsNumberRegistered{"+14155550100"},
              kd::SmsKeyAssigned{"+14155550100", "s1", sealed("s1")}},
             admin());
  return spec;
}
kd::ReportKeyLeak leak(std::string key_id) { return {key_id, "https://github.com/o/r/blob/x", "github", {}}; }
}  // namespace

TEST_CASE("a leaked Email or WhatsApp key is revoked at once and the report audited") {
  auto spec = a_dashboard_with_one_key_per_channel();
  REQUIRE(spec.when(leak("e1"), service_actor()).events ==
          std::vector<kd::Event>{kd::KeyLeakReported{"e1", kd::Channel::email, "https://github.com/o/r/blob/x",
                                                     "github", kd::LeakResponse::revoked},
                                 kd::EmailKeyRevoked{"e1"}});
  auto whatsapp = spec.when(leak("w1"), service_actor());
  REQUIRE(whatsapp.events.size() == 2);
  REQUIRE(whatsapp.events[1] == kd::Event{kd::WhatsAppKeyRevoked{"w1"}});
}

TEST_CASE("a leaked SMS key is replaced so its number keeps exactly one live key") {
  auto spec = a_dashboard_with_one_key_per_channel();
  REQUIRE(rejected_field(spec.when(leak("s1"), service_actor())) == "replacement");
  auto report = leak("s1");
  report.replacement = sealed("s1b");
  auto outcome = spec.run(report, service_actor());
  REQUIRE(std::get<kd::KeyLeakReported>(outcome.events[0]).response == kd::LeakResponse::rotated);
  REQUIRE(spec.state.keys.at("s1").match(sealed("s1").fingerprint, spec.now) == kd::SecretMatch::previous_expired);
  REQUIRE(spec.state.keys.at("s1").match(sealed("s1b").fingerprint, spec.now) == kd::SecretMatch::current);
}

TEST_CASE("a leaked RCS key is flagged for the operator, not revoked") {
  auto spec = a_dashboard_with_one_key_per_channel();
  auto outcome = spec.run(leak("rcs1"), service_actor());
  REQUIRE(outcome.events.size() == 1);
  REQUIRE(std::get<kd::KeyLeakReported>(outcome.events[0]).response == kd::LeakResponse::flagged_for_operator);
  REQUIRE_FALSE(spec.state.keys.at("rcs1").revoked);
}

TEST_CASE("a leak of a key already revoked is recorded and changes nothing else") {
  auto spec = a_dashboard_with_one_key_per_channel();
  spec.run(kd::RevokeEmailKey{"e1"}, admin());
  auto outcome = spec.when(leak("e1"), service_actor());
  REQUIRE(outcome.events.size() == 1);
  REQUIRE(std::get<kd::KeyLeakReported>(outcome.events[0]).response == kd::LeakResponse::already_inactive);
}
