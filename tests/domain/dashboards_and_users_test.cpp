#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

TEST_CASE("creating a dashboard adds its first admin and provisions its single RCS key") {
  DeciderSpec spec;
  auto outcome = spec.when(kd::CreateDashboard{"d1", "Acme", "Ada@Example.com", "hash", "rcs1", sealed("r")},
                           operator_actor());
  REQUIRE(outcome.accepted());
  REQUIRE(outcome.events == std::vector<kd::Event>{
                                kd::DashboardCreated{"d1", "Acme"},
                                kd::UserAdded{"ada@example.com", kd::Role::admin, "hash"},
                                kd::RcsKeyProvisioned{"rcs1", sealed("r")}});
}

TEST_CASE("only the operator can create a dashboard") {
  DeciderSpec spec;
  auto outcome = spec.when(kd::CreateDashboard{"d1", "Acme", "a@b.c", "hash", "rcs1", sealed("r")},
                           admin());
  REQUIRE(refused_silently(outcome, RejectionCode::forbidden));
}

TEST_CASE("a dashboard needs a valid name and admin email") {
  DeciderSpec spec;
  auto no_name = spec.when(kd::CreateDashboard{"d1", "", "a@b.c", "h", "r", sealed("r")}, operator_actor());
  REQUIRE(refused_silently(no_name, RejectionCode::invalid_request));
  REQUIRE(rejected_field(no_name) == "name");
  auto bad_email =
      spec.when(kd::CreateDashboard{"d1", "Acme", "not-an-email", "h", "r", sealed("r")}, operator_actor());
  REQUIRE(rejected_field(bad_email) == "admin.email");
}

TEST_CASE("an admin adds a user with a role") {
  auto spec = a_dashboard();
  auto outcome = spec.when(kd::AddUser{"new@example.com", kd::Role::developer, "h"}, admin());
  REQUIRE(outcome.events == std::vector<kd::Event>{kd::UserAdded{"new@example.com", kd::Role::developer, "h"}});
}

TEST_CASE("adding a user whose email exists is refused as user_exists and audited") {
  auto spec = a_dashboard();
  auto outcome = spec.when(kd::AddUser{"DEV@example.com", kd::Role::viewer, "h"}, admin());
  REQUIRE(refused_and_audited(outcome, RejectionCode::user_exists, "UserAdditionDenied"));
}

TEST_CASE("developers and viewers cannot manage users") {
  auto spec = a_dashboard();
  for (auto actor : {developer(), viewer()}) {
    auto add = spec.when(kd::AddUser{"x@example.com", kd::Role::admin, "h"}, actor);
    REQUIRE(refused_and_audited(add, RejectionCode::forbidden, "UserAdditionDenied"));
    auto remove = spec.when(kd::RemoveUser{"vic@example.com"}, actor);
    REQUIRE(refused_and_audited(remove, RejectionCode::forbidden, "UserRemovalDenied"));
  }
}

TEST_CASE("the last admin of a dashboard cannot be removed") {
  auto spec = a_dashboard();
  auto outcome = spec.when(kd::RemoveUser{"ada@example.com"}, admin());
  REQUIRE(refused_and_audited(outcome, RejectionCode::forbidden, "UserRemovalDenied"));
  spec.given({kd::UserAdded{"second@example.com", kd::Role::admin, "h"}});
  REQUIRE(spec.when(kd::RemoveUser{"ada@example.com"}, admin()).accepted());
}

TEST_CASE("a removed user can no longer act on the dashboard") {
  auto spec = a_dashboard();
  REQUIRE(spec.run(kd::RemoveUser{"dev@example.com"}, admin()).accepted());
  auto outcome = spec.when(kd::GenerateEmailKey{"k1", "n", {"all"}, {}, sealed("a")}, developer());
  REQUIRE(refused_and_audited(outcome, RejectionCode::forbidden, "EmailKeyGenerationDenied"));
}

TEST_CASE("a login with the right password is recorded") {
  auto spec = a_dashboard();
  auto outcome = spec.when(kd::LogIn{"ada@example.com", true}, user_actor("ada@example.com"));
  REQUIRE(outcome.events == std::vector<kd::Event>{kd::UserLoggedIn{"ada@example.com"}});
}

TEST_CASE("failed logins answer unauthenticated without saying why, and are audited with the reason") {
  auto spec = a_dashboard();
  auto wrong = spec.when(kd::LogIn{"ada@example.com", false}, user_actor("ada@example.com"));
  REQUIRE(wrong.rejection->code == RejectionCode::unauthenticated);
  REQUIRE(wrong.events == std::vector<kd::Event>{
                              kd::UserLoginFailed{"ada@example.com", RejectionCode::password_incorrect}});
  auto unknown = spec.when(kd::LogIn{"nobody@example.com", true}, user_actor("nobody@example.com"));
  REQUIRE(unknown.rejection->code == RejectionCode::unauthenticated);
  REQUIRE(unknown.rejection->detail == wrong.rejection->detail);
  REQUIRE(unknown.events == std::vector<kd::Event>{
                                kd::UserLoginFailed{"nobody@example.com", RejectionCode::unauthenticated}});
}

TEST_CASE("closing a dashboard revokes every key and refuses further commands") {
  auto spec = a_dashboard();
  spec.given({kd::EmailKeyGenerated{"e1", "n", {"all"}, {}, sealed("e1")}}, admin());
  REQUIRE(spec.run(kd::CloseDashboard{"contract ended"}, operator_actor()).accepted());
  REQUIRE(spec.state.keys.at("e1").revoked);
  REQUIRE(spec.state.keys.at("rcs1").revoked);
  auto outcome = spec.when(kd::GenerateEmailKey{"e2", "n", {"all"}, {}, sealed("e2")}, admin());
  REQUIRE(refused_and_audited(outcome, RejectionCode::dashboard_closed, "EmailKeyGenerationDenied"));
  auto login = spec.when(kd::LogIn{"ada@example.com", true}, admin());
  REQUIRE(login.rejection->code == RejectionCode::unauthenticated);
}

TEST_CASE("only the operator can close a dashboard") {
  auto spec = a_dashboard();
  auto outcome = spec.when(kd::CloseDashboard{""}, admin());
  REQUIRE(refused_and_audited(outcome, RejectionCode::forbidden, "DashboardClosureDenied"));
}

TEST_CASE("commands on a dashboard that does not exist are not found and record nothing") {
  DeciderSpec spec;
  REQUIRE(refused_silently(spec.when(kd::GenerateSmsKey{}, admin()), RejectionCode::not_found));
  REQUIRE(refused_silently(spec.when(kd::RevealRcsKey{true}, admin()), RejectionCode::not_found));
}

TEST_CASE("a master key rotation is recorded once per open dashboard, by the operator or keyledger only") {
  auto spec = a_dashboard();
  const kd::RecordDataKeyRewrap rewrap{"0123456789abcdef", "fedcba9876543210"};
  REQUIRE(refused_and_audited(spec.when(rewrap, admin()), RejectionCode::forbidden, "DataKeyRewrapDenied"));
  REQUIRE(spec.run(rewrap, operator_actor()).events ==
          std::vector<kd::Event>{kd::DataKeyRewrapped{"0123456789abcdef", "fedcba9876543210"}});
  REQUIRE(spec.state.data_key_master == "0123456789abcdef");
  // Run again (a resumed rotation): nothing twice.
  REQUIRE(spec.when(rewrap, {kd::ActorKind::system, "keyledger", ""}).events.empty());
  REQUIRE(rejected_field(spec.when(kd::RecordDataKeyRewrap{"0123456789abcdef", "0123456789abcdef"}, operator_actor())) ==
          "master_key_id");
  // A closed dashboard's data key is destroyed: nothing was rewrapped.
  spec.given({kd::DashboardClosed{"done"}});
  REQUIRE(spec.when(kd::RecordDataKeyRewrap{"1111111111111111", "0123456789abcdef"}, operator_actor()).events.empty());
}
