#include <catch2/catch.hpp>

#include "decider_spec.hpp"

using namespace keyledger::testing;
using kd::RejectionCode;

TEST_CASE("five wrong passwords within 15 minutes lock step-up and login for 15 minutes") {
  auto spec = a_dashboard();
  for (int i = 0; i < 4; ++i) {
    auto wrong = spec.run(kd::RevealRcsKey{false}, developer());
    REQUIRE(wrong.rejection->code == RejectionCode::password_incorrect);
    REQUIRE(wrong.events.size() == 1);
    spec.advance(1min);
  }
  auto fifth = spec.run(kd::RevealRcsKey{false}, developer());
  REQUIRE(fifth.rejection->code == RejectionCode::password_incorrect);
  REQUIRE(fifth.events.size() == 2);
  REQUIRE(fifth.events[1] == kd::Event{kd::UserLockedOut{"dev@example.com", spec.now + 15min}});

  // Locked: even the right password is refused, for step-up and for login, and audited.
  REQUIRE(refused_and_audited(spec.when(kd::RevealRcsKey{true}, developer()), RejectionCode::too_many_attempts,
                              "RcsKeyRevealDenied"));
  auto login = spec.when(kd::LogIn{"dev@example.com", true}, developer());
  REQUIRE(login.rejection->code == RejectionCode::too_many_attempts);
  REQUIRE(login.events == std::vector<kd::Event>{
                              kd::UserLoginFailed{"dev@example.com", RejectionCode::too_many_attempts}});

  // Other users are not affected.
  REQUIRE(spec.when(kd::RevealRcsKey{true}, admin()).accepted());

  spec.advance(15min - 1ms);
  REQUIRE(spec.when(kd::RevealRcsKey{true}, developer()).rejection->code == RejectionCode::too_many_attempts);
  spec.advance(1ms);
  REQUIRE(spec.when(kd::RevealRcsKey{true}, developer()).accepted());
  REQUIRE(spec.when(kd::LogIn{"dev@example.com", true}, developer()).accepted());
}

TEST_CASE("wrong passwords spread over more than 15 minutes do not lock") {
  auto spec = a_dashboard();
  for (int i = 0; i < 10; ++i) {
    auto wrong = spec.run(kd::RevealRcsKey{false}, developer());
    REQUIRE(wrong.events.size() == 1);  // never a UserLockedOut
    spec.advance(4min);
  }
  REQUIRE(spec.when(kd::RevealRcsKey{true}, developer()).accepted());
}

TEST_CASE("wrong login passwords and wrong step-up passwords count together") {
  auto spec = a_dashboard();
  for (int i = 0; i < 3; ++i) spec.run(kd::LogIn{"ada@example.com", false}, admin());
  spec.run(kd::RevealEmailKey{"missing", false}, admin());  // not found: not a password attempt
  spec.run(kd::RevealRcsKey{false}, admin());
  auto fifth = spec.run(kd::LogIn{"ada@example.com", false}, admin());
  REQUIRE(fifth.events.back() == kd::Event{kd::UserLockedOut{"ada@example.com", spec.now + 15min}});
  REQUIRE(spec.when(kd::LogIn{"ada@example.com", true}, admin()).rejection->code ==
          RejectionCode::too_many_attempts);
}
