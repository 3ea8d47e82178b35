// Moving a stopped store to another backend (SPEC §13): file → Kafka when one machine is
// outgrown, Kafka → file back. Every event is copied as its stored bytes (so its id,
// sequence and hash stay what they were) and every keyring record as it is wrapped, so the
// master key, the fingerprint pepper and the checkpoint signing key carry over.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <string>

#include "eventstore/store.hpp"

namespace keyledger::usecases {

struct MigrationReport {
  std::uint64_t events = 0;        // in the source, and now in the target
  std::uint64_t copied = 0;        // by this run
  std::uint64_t resumed_after = 0;  // events an interrupted run had copied already
  std::size_t dashboards = 0;
  std::size_t keyring_records = 0;
};

// (events copied so far, events to copy), now and then.
using MigrationProgress = std::function<void(std::uint64_t, std::uint64_t)>;

// Copies the store at `from` to `to`, which must be empty — or hold exactly what an
// interrupted run of the same migration left (the keyring, then a prefix of the events in
// copy order), which it resumes without copying anything twice. The source must be
// stopped: a file store's lock is taken, and a Kafka source's transactional producer fences
// a server still writing. Afterwards the target is folded and checked: each dashboard's hash
// chain links, and ends where the source's does. A sentence when anything does not hold.
std::expected<MigrationReport, std::string> migrate_store(const std::string& from, const std::string& to,
                                                          const std::string& master_key_file,
                                                          const eventstore::StoreOptions& options,
                                                          const MigrationProgress& progress = {});

}  // namespace keyledger::usecases
