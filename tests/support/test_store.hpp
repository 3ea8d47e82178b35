// Which store a test uses, chosen by the environment tools/test sets up.
#pragma once

#include <string>

namespace keyledger::testing {

// The store a test uses: file:DATA_DIR/data, or with KEYLEDGER_TEST_BACKEND=kafka a
// topic named after DATA_DIR on the broker at KEYLEDGER_TEST_KAFKA_BOOTSTRAP (never a skip:
// a missing broker is an error).
std::string test_store_url(const std::string& data_dir);

}  // namespace keyledger::testing
