// A master key written to a new file in a test's directory, as `keyledger keygen` writes one.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "eventstore/master_key.hpp"
#include "support/temp_dir.hpp"

namespace keyledger::testing {

inline eventstore::MasterKey new_master_key(const TempDir& dir, const std::string& name = "master.key") {
  REQUIRE(eventstore::write_new_master_key(dir / name).has_value());
  return eventstore::load_master_key(dir / name).value();
}

}  // namespace keyledger::testing
