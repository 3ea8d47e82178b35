// Time travel (SPEC §11) as a property: over random histories with a clock the test drives,
// the dashboard that dashboard_as_of folds for an instant equals the state the live
// pipeline held right after the last command at or before that instant.
#include <catch2/catch.hpp>

#include <random>

#include "eventstore/binary_codec.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/file_log.hpp"
#include "eventstore/state_codec.hpp"
#include "projections/projector.hpp"
#include "support/actors.hpp"
#include "support/temp_dir.hpp"
#include "usecases/time_travel.hpp"

namespace es = keyledger::eventstore;
namespace kd = keyledger::domain;
namespace pj = keyledger::projections;
namespace uc = keyledger::usecases;
using keyledger::testing::TempDir;
using keyledger::testing::kAdmin;
using keyledger::testing::kOperator;
using std::chrono::milliseconds;

namespace {

std::string encoded(const kd::DashboardState& state) {
  std::string out;
  es::binary::Writer w(out);
  es::encode_state(w, state);
  return out;
}

// A sealed secret whose bytes are drawn from `rng` (the deciders never open one).
kd::SealedSecret secret(std::mt19937_64& rng) {
  kd::SealedSecret s;
  for (auto& b : s.fingerprint) b = static_cast<std::uint8_t>(rng());
  for (auto& b : s.ciphertext) b = static_cast<std::uint8_t>(rng());
  REQUIRE(kd::SealedSecret::parse_masked("kle_…abcd", s.mask));
  return s;
}

// One random command for dashboard `d`; some are refused (a key that does not exist, a
// fourth WhatsApp key), which appends a …Denied event — history too.
kd::Command random_command(std::mt19937_64& rng, int& next_key) {
  const std::string key = "k" + std::to_string(rng() % (next_key + 1));
  switch (rng() % 9) {
    case 0:
    case 1: return kd::GenerateEmailKey{"k" + std::to_string(++next_key), "n", {"all"}, {}, secret(rng)};
    case 2: return kd::RotateEmailKey{key, std::int64_t(rng() % 3) * 30, secret(rng)};
    case 3: return kd::RevokeEmailKey{key};
    case 4: return kd::ChangeEmailKeyRestrictions{key, "renamed", std::nullopt, std::vector<std::string>{"10.0.0.0/8"}};
    case 5: return kd::GenerateWhatsAppKey{"k" + std::to_string(++next_key), "w", secret(rng)};
    case 6: return kd::RevokeWhatsAppKey{key};
    case 7: return kd::RegisterSmsNumber{"+1415555" + std::to_string(1000 + rng() % 50), "k" + std::to_string(++next_key),
                                         secret(rng), ""};
    default: return kd::AddUser{"u" + std::to_string(rng() % 5) + "@example.com", kd::Role::developer, "scrypt$x"};
  }
}

}  // namespace

TEST_CASE("time travel: the dashboard at any instant equals what the live pipeline held then (random histories)") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    TempDir dir;
    auto log = std::move(es::FileLog::open({dir.path(), 64ull << 20, nullptr}).value());
    kd::Timestamp clock{milliseconds(1'764'000'000'000)};
    es::CommandPipeline pipeline(*log, [&] { return clock; });
    pj::Projector read_models(std::string(32, 'p'));
    read_models.attach(pipeline);
    REQUIRE_FALSE(pipeline.catch_up());

    const kd::Timestamp before = clock - milliseconds(1);
    // The state after the last command at each instant (several commands may share one).
    std::map<kd::Timestamp, std::string> truth;
    auto record = [&] {
      pipeline.with_dashboard("d", [&](const es::DashboardView& v) { truth[clock] = encoded(v.state); });
    };
    REQUIRE(pipeline.execute("d", kd::CreateDashboard{"d", "Acme", "ada@example.com", "scrypt$x", "rcs", secret(rng)},
                             {kOperator, "r", "", ""})
                .accepted());
    record();
    int next_key = 0;
    // The last history is long enough (over 1,024 events) to be decoded in two halves at once.
    const int commands = seed == 12 ? 1800 : 60;
    for (int i = 0; i < commands; ++i) {
      if (rng() % 3 != 0) clock += milliseconds(1 + rng() % 5000);  // now and then, two commands in one millisecond
      auto result = pipeline.execute("d", random_command(rng, next_key), {kAdmin, "r", "", ""});
      REQUIRE_FALSE(result.log_error);
      record();
    }

    // Before the dashboard existed: nothing.
    auto none = uc::dashboard_as_of(*log, read_models.audit_index, "d", before);
    REQUIRE(none.has_value());
    REQUIRE_FALSE(none->has_value());
    // At every recorded instant, and at random instants between them.
    std::size_t n = 0;
    for (const auto& [at, state] : truth) {
      if (truth.size() > 100 && n++ % 50 != 0) continue;  // the long history: every 50th instant
      auto past = uc::dashboard_as_of(*log, read_models.audit_index, "d", at);
      REQUIRE(past.has_value());
      REQUIRE(past->has_value());
      REQUIRE(encoded((*past)->state) == state);
    }
    for (int i = 0; i < 40; ++i) {
      const auto span = (clock - truth.begin()->first).count() + 1;
      const kd::Timestamp at = truth.begin()->first + milliseconds(rng() % span);
      const auto& expected = std::prev(truth.upper_bound(at))->second;
      auto past = uc::dashboard_as_of(*log, read_models.audit_index, "d", at);
      REQUIRE(past.has_value());
      REQUIRE(encoded((*past)->state) == expected);
    }
    // Now: the live state itself.
    auto now = uc::dashboard_as_of(*log, read_models.audit_index, "d", clock + milliseconds(1));
    std::string live;
    pipeline.with_dashboard("d", [&](const es::DashboardView& v) {
      live = encoded(v.state);
      REQUIRE((*now)->sequence == v.sequence);
    });
    REQUIRE(encoded((*now)->state) == live);
    if (commands > 60) REQUIRE((*now)->sequence > 1024);
  }
}
