// The event store's error codes, as std::error_code values of their own category.
#pragma once

#include <string>
#include <system_error>

namespace keyledger::eventstore {

enum class StoreErrc {
  log_unavailable = 1,  // the log cannot take writes now (I/O error, disk full, broker down)
  log_locked,           // another process holds the data directory
  log_corrupt,          // a batch failed its checksum where no torn tail can be
  fenced,               // another writer took over (Kafka transactional id)
  keyring_unavailable,  // a data key is missing or cannot be unwrapped
  data_key_destroyed,   // the dashboard was closed and its data key shredded
  bad_master_key,       // the master key file is missing or malformed
  chain_broken,         // a stored event does not hash to its recorded hash
  decode_failed,        // a stored event is not a valid envelope
  not_owner,            // another process of the cluster writes the dashboard's partition
};

const std::error_category& store_category();
std::error_code make_error_code(StoreErrc e);

}  // namespace keyledger::eventstore

template <>
struct std::is_error_code_enum<keyledger::eventstore::StoreErrc> : std::true_type {};
