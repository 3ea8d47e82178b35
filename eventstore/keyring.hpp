// Per-dashboard data keys, kept outside the immutable event log so that closing a dashboard
// can destroy its key (crypto-shredding): its sealed secrets in the log become unreadable
// while the rest of its history stays auditable.
#pragma once

#include <expected>
#include <string>
#include <system_error>

namespace keyledger::eventstore {

class Keyring {
 public:
  virtual ~Keyring() = default;
  // The dashboard's 32-byte data key; a new one is created and stored durably first when
  // `create` is set and none exists. data_key_destroyed once destroy() ran.
  virtual std::expected<std::string, std::error_code> data_key(const std::string& dashboard_id,
                                                               bool create) = 0;
  // Removes the wrapped key for good, leaving a tombstone. Idempotent.
  virtual std::error_code destroy(const std::string& dashboard_id) = 0;
};

}  // namespace keyledger::eventstore
