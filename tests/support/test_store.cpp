#include "support/test_store.hpp"

#include <cstdlib>
#include <stdexcept>

namespace keyledger::testing {

std::string test_store_url(const std::string& data_dir) {
  const char* backend = std::getenv("KEYLEDGER_TEST_BACKEND");
  if (!backend || std::string(backend) != "kafka") return "file:" + data_dir + "/data";
  const char* bootstrap = std::getenv("KEYLEDGER_TEST_KAFKA_BOOTSTRAP");
  if (!bootstrap || !*bootstrap) {
    throw std::runtime_error("KEYLEDGER_TEST_KAFKA_BOOTSTRAP is not set: run tools/test, or start a broker with "
                             "tools/kafka start DIR and export its address");
  }
  // One topic per test directory: a restarted server finds its own events again.
  std::string name = data_dir.substr(data_dir.find_last_of('/') + 1);
  return "kafka://" + std::string(bootstrap) + "/" + name;
}

}  // namespace keyledger::testing
