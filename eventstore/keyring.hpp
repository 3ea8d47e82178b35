// The keyring: every key keyledger keeps at rest, each wrapped (AES-256-GCM) by the master
// key, kept outside the immutable event log.
//   - one data key per dashboard, so that closing a dashboard can destroy its key
//     (crypto-shredding): its sealed secrets in the log become unreadable while the rest of
//     its history stays auditable;
//   - the store's own keys (StoreKeys), which must outlive any one master key;
//   - while a master key rotation is under way, the previous master key, wrapped by the next.
// Each record names the master key that wraps it (MasterKey::id), so a rotation that stopped
// midway is finished by the next open with the new key file (SPEC §11).
// Where the records live is a KeyringStorage's business: one JSON file beside the file
// store's log, or a compacted Kafka topic.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "master_key.hpp"

namespace keyledger::eventstore {

// Named records of text, durably. A record is written whole or not at all; nullopt is a
// tombstone (the record is gone for good).
class KeyringStorage {
 public:
  using Records = std::map<std::string, std::optional<std::string>>;
  virtual ~KeyringStorage() = default;
  // Every record as stored, read once when the keyring opens; a sentence on failure.
  virtual std::expected<Records, std::string> load() = 0;
  // Writes the records durably before returning true. On false some may have been written.
  virtual bool write(const Records& records) = 0;
};

// A master key rotation whose data keys are all rewrapped under `to`, recorded in no event
// yet for some dashboards.
struct PendingRotation {
  std::string from, to;  // master key ids
};

// Why a rotation did not begin: `conflict` when the keyring is already wrapped by that key or
// another rotation is pending; otherwise its storage failed.
struct RotationRefusal {
  bool conflict = false;
  std::string detail;
};

class Keyring {
 public:
  using Report = std::function<void(const std::string&)>;
  // Loads every record and unwraps it. Refuses (a sentence) a master key that does not open
  // the keyring, naming the one that does. A rotation found under way to `master` is
  // finished first (`report` says so); one under way from `master` is refused: the next
  // master key file must be given.
  static std::expected<std::unique_ptr<Keyring>, std::string> open(std::unique_ptr<KeyringStorage> storage,
                                                                  const MasterKey& master, const Report& report);

  // The dashboard's 32-byte data key; a new one is created and stored durably first when
  // `create` is set and none exists. data_key_destroyed once destroy() ran.
  std::expected<std::string, std::error_code> data_key(const std::string& dashboard_id, bool create);
  // Removes the wrapped key for good, leaving a tombstone. Idempotent.
  std::error_code destroy(const std::string& dashboard_id);

  const StoreKeys& store_keys() const { return store_keys_; }
  // The id of the master key that wraps (or, during a rotation, will wrap) every record.
  std::string master_key_id() const;

  // Rewraps every record under `next` while the keyring serves: first a record of the
  // rotation holding the current master key wrapped by `next` (so a crash midway resumes
  // with only the next key file), then the records in batches of `batch` under the lock.
  // Afterwards the rotation is pending until finish_rotation(). The number of data keys
  // rewrapped, or why not.
  std::expected<std::size_t, RotationRefusal> rotate(const MasterKey& next, std::size_t batch = 256);
  std::optional<PendingRotation> pending_rotation() const;
  // Forgets the previous master key: removes the rotation's record.
  std::expected<void, std::string> finish_rotation();

  // In a cluster, on every other process, once one has begun a rotation to `next` (rotate()):
  // switches this keyring to `next` as if it had been opened with it — reading every record
  // again, those still wrapped by this keyring's key through the rotation's record — and
  // rewraps the records still under the previous key (those this process wrote before it
  // switched). Nothing to do when it is `next`'s already. The number of data keys rewrapped
  // here, or a sentence (no rotation from this keyring's key to `next` is under way, the
  // storage failed); the keyring is then as it was.
  std::expected<std::size_t, std::string> adopt(const MasterKey& next);
  // Another process of a cluster rotated the master key from this keyring's to `id` and this
  // one was not asked to adopt it (it owned no partition then): from now on it creates no
  // data key (one wrapped by the key the store has left would be lost with it), until it
  // adopts `id` or restarts with its file.
  void superseded_by(const std::string& id);

 private:
  struct Wrapped;
  Keyring(std::unique_ptr<KeyringStorage> storage, const MasterKey& master);
  std::expected<void, std::string> load(const KeyringStorage::Records& records);
  // Mutex held: every record (as the storage holds them now) unwrapped again as under
  // `master` (load()); on failure the keyring is as it was.
  std::expected<void, std::string> reload(const MasterKey& master, const KeyringStorage::Records& records);
  // Reads the storage again for one record this keyring does not hold (another process of a
  // cluster wrote it since): true once it is held (a tombstone included). Mutex held.
  bool learn(const std::string& name);
  // A record of `name` holding `plaintext`, wrapped by the current master key; `from` names
  // the previous master key in the rotation's record.
  std::string seal(const std::string& name, const std::string& plaintext, const std::string& from = "") const;
  std::expected<std::size_t, std::string> rewrap_remaining(std::size_t batch);

  std::unique_ptr<KeyringStorage> storage_;
  mutable std::mutex mutex_;
  MasterKey master_;
  std::string master_id_, kek_;
  std::optional<PendingRotation> rotation_;
  std::map<std::string, std::optional<std::string>> data_keys_;  // unwrapped; nullopt: destroyed
  std::map<std::string, std::string> wrapped_by_;  // record name → id of the master key wrapping it
  std::string superseded_by_;  // the master key another process rotated this keyring's to
  StoreKeys store_keys_;
};

}  // namespace keyledger::eventstore
