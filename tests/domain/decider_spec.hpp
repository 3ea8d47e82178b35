// Given/when/then for deciders: events that happened, a command, the outcome expected.
#pragma once

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "domain/decide.hpp"

namespace keyledger::testing {

namespace kd = keyledger::domain;
using namespace std::chrono_literals;

// 2026-01-01T00:00:00Z, a fixed origin so tests never read a clock.
inline const kd::Timestamp T0 = kd::Timestamp{std::chrono::milliseconds{1767225600000}};

inline kd::Actor operator_actor() { return {kd::ActorKind::platform_operator, "operator", "10.0.0.1"}; }
inline kd::Actor service_actor() { return {kd::ActorKind::service, "sender", "10.0.0.2"}; }
inline kd::Actor user_actor(std::string email) { return {kd::ActorKind::user, std::move(email), "203.0.113.7"}; }
inline kd::Actor admin() { return user_actor("ada@example.com"); }
inline kd::Actor developer() { return user_actor("dev@example.com"); }
inline kd::Actor viewer() { return user_actor("vic@example.com"); }

// Sealed secret material with recognisable bytes; `tag` stands for one generated secret.
inline kd::SealedSecret sealed(const std::string& tag) {
  kd::SealedSecret s;
  for (std::size_t i = 0; i < s.fingerprint.size(); ++i) s.fingerprint[i] = static_cast<std::uint8_t>(tag[i % tag.size()]);
  for (std::size_t i = 0; i < s.ciphertext.size(); ++i) s.ciphertext[i] = static_cast<std::uint8_t>(tag[i % tag.size()] + 1);
  const std::string mask = "kl?_" + (tag + "    ").substr(0, 4);
  std::copy(mask.begin(), mask.end(), s.mask.begin());
  return s;
}

class DeciderSpec {
 public:
  kd::DashboardState state;
  kd::Timestamp now = T0;

  // Events that already happened, recorded as caused by `actor` at the current time.
  DeciderSpec& given(std::initializer_list<kd::Event> events, kd::Actor actor = operator_actor()) {
    for (const auto& e : events) kd::evolve(state, {e, actor, now});
    return *this;
  }

  // The decision alone; the state is left as it was.
  kd::Outcome when(const kd::Command& command, const kd::Actor& actor) const {
    return kd::decide(state, command, {actor, now});
  }

  // What the command pipeline does: decide, then fold every event produced (audit events
  // of refusals included) into the state.
  kd::Outcome run(const kd::Command& command, const kd::Actor& actor) {
    kd::Outcome outcome = when(command, actor);
    for (const auto& e : outcome.events) kd::evolve(state, {e, actor, now});
    return outcome;
  }

  DeciderSpec& advance(std::chrono::milliseconds by) {
    now += by;
    return *this;
  }
};

// A dashboard "d1" with an admin, a developer and a viewer, and its RCS key "rcs1".
inline DeciderSpec a_dashboard() {
  DeciderSpec spec;
  spec.given({kd::DashboardCreated{"d1", "Acme"},
              kd::UserAdded{"ada@example.com", kd::Role::admin, "hash-ada"},
              kd::UserAdded{"dev@example.com", kd::Role::developer, "hash-dev"},
              kd::UserAdded{"vic@example.com", kd::Role::viewer, "hash-vic"},
              kd::RcsKeyProvisioned{"rcs1", sealed("rcs1")}});
  return spec;
}

inline kd::Outcome accepted(std::vector<kd::Event> events) { return {std::move(events), {}}; }

// A refusal recorded as `denied_type` with `code`.
inline bool refused_and_audited(const kd::Outcome& outcome, kd::RejectionCode code,
                                std::string_view denied_type) {
  return outcome.rejection && outcome.rejection->code == code && outcome.events.size() >= 1 &&
         kd::event_type(outcome.events.front()) == denied_type &&
         std::get<kd::CommandDenied>(outcome.events.front()).code == code;
}

// A refusal that records nothing (bad input, unknown target).
inline bool refused_silently(const kd::Outcome& outcome, kd::RejectionCode code) {
  return outcome.rejection && outcome.rejection->code == code && outcome.events.empty();
}

inline std::string rejected_field(const kd::Outcome& outcome) {
  return outcome.rejection ? outcome.rejection->field : std::string("<accepted>");
}

}  // namespace keyledger::testing
