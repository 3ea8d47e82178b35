#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

namespace {
kd::GenerateEmailKey email_key(std::string id, std::vector<std::string> permissions = {"all"},
                               std::vector<std::string> allowlist = {}) {
  return {id, "billing", std::move(permissions), std::move(allowlist), sealed(id)};
}
}  // namespace

TEST_CASE("admins and developers generate Email keys with permissions and an IP allowlist") {
  auto spec = a_dashboard();
  for (auto actor : {admin(), developer()}) {
    auto outcome = spec.when(email_key("e1", {"mail.send", "events.read"}, {"203.0.113.0/24", "2001:DB8::1"}), actor);
    REQUIRE(outcome.events ==
            std::vector<kd::Event>{kd::EmailKeyGenerated{"e1", "billing", {"mail.send", "events.read"},
                                                         {"203.0.113.0/24", "2001:db8::1"}, sealed("e1")}});
  }
}

TEST_CASE("viewers cannot generate Email keys") {
  auto spec = a_dashboard();
  REQUIRE(refused_and_audited(spec.when(email_key("e1"), viewer()), RejectionCode::forbidden,
                              "EmailKeyGenerationDenied"));
}

TEST_CASE("Email key input errors name the offending field and record nothing") {
  auto spec = a_dashboard();
  auto check = [&](kd::GenerateEmailKey command, std::string field) {
    auto outcome = spec.when(command, admin());
    REQUIRE(refused_silently(outcome, RejectionCode::invalid_request));
    REQUIRE(rejected_field(outcome) == field);
  };
  check(email_key("e1", {}), "permissions");
  check(email_key("e1", {"mail.send", "mail.fly"}), "permissions[1]");
  check(email_key("e1", {"all", "mail.send"}), "permissions[0]");
  check(email_key("e1", {"mail.send", "mail.send"}), "permissions[1]");
  check(email_key("e1", {"all"}, {"10.0.0.1", "10.0.0.300"}), "ip_allowlist[1]");
  check(email_key("e1", {"all"}, {"10.0.0.1/24"}), "ip_allowlist[0]");
  check(email_key("e1", {"all"}, std::vector<std::string>(101, "10.0.0.1")), "ip_allowlist");
  auto unnamed = email_key("e1");
  unnamed.name = std::string(65, 'x');
  check(unnamed, "name");
}

TEST_CASE("Email key restrictions can be changed after generation") {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "billing", {"all"}, {}, sealed("e1")}}, admin());
  kd::ChangeEmailKeyRestrictions change{"e1", std::nullopt, std::vector<std::string>{"mail.send"},
                                        std::vector<std::string>{"198.51.100.7"}};
  auto outcome = spec.when(change, developer());
  REQUIRE(outcome.events == std::vector<kd::Event>{kd::EmailKeyRestrictionsChanged{
                                "e1", "billing", {"mail.send"}, {"198.51.100.7"}}});
  auto nothing = spec.when(kd::ChangeEmailKeyRestrictions{"e1", {}, {}, {}}, developer());
  REQUIRE(refused_silently(nothing, RejectionCode::invalid_request));
}

TEST_CASE("a rotated Email key's old secret stays valid until the grace period ends, then is expired") {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "billing", {"all"}, {}, sealed("old")}}, admin());
  auto outcome = spec.run(kd::RotateEmailKey{"e1", 3600, sealed("new")}, developer());
  REQUIRE(outcome.events ==
          std::vector<kd::Event>{kd::EmailKeyRotated{"e1", sealed("new"), spec.now + 3600s}});
  const auto& key = spec.state.keys.at("e1");
  REQUIRE(key.match(sealed("new").fingerprint, spec.now) == kd::SecretMatch::current);
  REQUIRE(key.match(sealed("old").fingerprint, spec.now) == kd::SecretMatch::previous_in_grace);
  REQUIRE(key.status_at(spec.now) == kd::KeyStatus::rotating);
  REQUIRE(key.match(sealed("old").fingerprint, spec.now + 3599s) == kd::SecretMatch::previous_in_grace);
  REQUIRE(key.match(sealed("old").fingerprint, spec.now + 3600s) == kd::SecretMatch::previous_expired);
  REQUIRE(key.status_at(spec.now + 3600s) == kd::KeyStatus::active);
  REQUIRE(key.match(sealed("new").fingerprint, spec.now + 3600s) == kd::SecretMatch::current);
}

TEST_CASE("rotation grace defaults to 24 hours and is bounded to 0..7 days") {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "billing", {"all"}, {}, sealed("old")}}, admin());
  auto by_default = spec.when(kd::RotateEmailKey{"e1", std::nullopt, sealed("new")}, admin());
  REQUIRE(std::get<kd::EmailKeyRotated>(by_default.events[0]).previous_valid_until == spec.now + 24h);
  auto immediate = spec.when(kd::RotateEmailKey{"e1", 0, sealed("new")}, admin());
  REQUIRE(std::get<kd::EmailKeyRotated>(immediate.events[0]).previous_valid_until == spec.now);
  REQUIRE(rejected_field(spec.when(kd::RotateEmailKey{"e1", 7 * 86400 + 1, sealed("n")}, admin())) ==
          "grace_seconds");
  REQUIRE(rejected_field(spec.when(kd::RotateEmailKey{"e1", -1, sealed("n")}, admin())) == "grace_seconds");
}

TEST_CASE("a revoked Email key cannot be rotated, revealed, changed or revoked again") {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "billing", {"all"}, {}, sealed("e1")}}, admin());
  REQUIRE(spec.run(kd::RevokeEmailKey{"e1"}, developer()).events ==
          std::vector<kd::Event>{kd::EmailKeyRevoked{"e1"}});
  REQUIRE(spec.state.keys.at("e1").status_at(spec.now) == kd::KeyStatus::revoked);
  REQUIRE(refused_and_audited(spec.when(kd::RotateEmailKey{"e1", 0, sealed("n")}, admin()),
                              RejectionCode::key_revoked, "EmailKeyRotationDenied"));
  REQUIRE(refused_and_audited(spec.when(kd::RevealEmailKey{"e1", true}, admin()), RejectionCode::key_revoked,
                              "EmailKeyRevealDenied"));
  REQUIRE(refused_and_audited(spec.when(kd::RevokeEmailKey{"e1"}, admin()), RejectionCode::key_revoked,
                              "EmailKeyRevocationDenied"));
  kd::ChangeEmailKeyRestrictions change{"e1", std::string("x"), {}, {}};
  REQUIRE(refused_and_audited(spec.when(change, admin()), RejectionCode::key_revoked,
                              "EmailKeyRestrictionsChangeDenied"));
}

TEST_CASE("revealing an Email key needs the password again and is audited either way") {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "billing", {"all"}, {}, sealed("e1")}}, admin());
  REQUIRE(spec.when(kd::RevealEmailKey{"e1", true}, developer()).events ==
          std::vector<kd::Event>{kd::EmailKeyRevealed{"e1"}});
  REQUIRE(refused_and_audited(spec.when(kd::RevealEmailKey{"e1", false}, developer()),
                              RejectionCode::password_incorrect, "EmailKeyRevealDenied"));
  REQUIRE(refused_and_audited(spec.when(kd::RevealEmailKey{"e1", true}, viewer()), RejectionCode::forbidden,
                              "EmailKeyRevealDenied"));
}

TEST_CASE("a key id of another channel is not found on the Email routes") {
  auto spec = a_dashboard();
  spec.given({kd::WhatsAppKeyGenerated{"w1", "support", sealed("w1")}}, admin());
  REQUIRE(refused_silently(spec.when(kd::RevokeEmailKey{"w1"}, admin()), RejectionCode::not_found));
  REQUIRE(refused_silently(spec.when(kd::RevealEmailKey{"rcs1", true}, admin()), RejectionCode::not_found));
}
