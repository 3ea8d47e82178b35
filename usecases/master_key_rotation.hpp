// Master key rotation (SPEC §11), run by the serving process, which holds the store:
//   1. the keyring rewraps every record under the new master key (Keyring::rotate; a crash
//      midway is finished by the next open with the new key file);
//   2. each open dashboard records DataKeyRewrapped (RecordDataKeyRewrap; a dashboard that
//      has it already records nothing, so running this part again duplicates nothing);
//   3. the keyring forgets the previous master key (Keyring::finish_rotation).
// The HTTP API runs step 2 as the operator's commands without holding a thread; the server
// runs it at start for a rotation a crash left pending (record_pending). On a cluster each
// partition's owner runs step 2 for its dashboards, after adopt().
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "eventstore/command_pipeline.hpp"
#include "eventstore/keyring.hpp"

namespace keyledger::usecases {

class MasterKeyRotation {
 public:
  MasterKeyRotation(eventstore::Keyring& keyring, eventstore::CommandPipeline& pipeline)
      : keyring_(keyring), pipeline_(pipeline) {}

  // One rotation at a time: false while another holds it. release() when done.
  bool try_acquire() { return !busy_.exchange(true); }
  void release() { busy_ = false; }

  // Step 1 for `next`, or nothing when a rotation to `next` is already pending (a retry).
  // The rotation to record, with the number of data keys rewrapped now.
  struct Begun {
    eventstore::PendingRotation rotation;
    std::size_t data_keys_rewrapped = 0;
    bool resumed = false;  // the rotation to `next` was pending already
  };
  std::expected<Begun, eventstore::RotationRefusal> begin(const eventstore::MasterKey& next);
  // Step 2's work list: the open dashboards that have not recorded `rotation` yet.
  std::vector<std::string> dashboards_to_record(const eventstore::PendingRotation& rotation) const;
  static domain::RecordDataKeyRewrap command(const eventstore::PendingRotation& rotation);
  // Step 3.
  std::expected<void, std::string> finish() { return keyring_.finish_rotation(); }

  // In a cluster (SPEC §11: every process is given the new key file), step 1 on each other
  // process that decides dashboards: its keyring switches to `next` (Keyring::adopt), so that
  // what it writes from now on is wrapped by the new key and what others wrote it can read;
  // then step 2 for its own dashboards. The data keys it rewrapped, or why not.
  std::expected<std::size_t, std::string> adopt(const eventstore::MasterKey& next) { return keyring_.adopt(next); }
  // Subscribes to the pipeline (before it replays): a DataKeyRewrapped away from this
  // process's master key, recorded by another process that did not ask this one to adopt the
  // new key, stops the keyring creating data keys (Keyring::superseded_by) and, on a process
  // of a cluster that decides no partition then, its taking any (withdraw_if_idle); both are
  // reported.
  void watch(std::function<void(const std::string&)> report);

  // Steps 2 and 3 for a pending rotation to this process's master key, as keyledger itself,
  // waiting on the calling thread. On a cluster it records only the dashboards this process
  // decides, and forgets the previous key once every open dashboard it knows of has the event,
  // whoever recorded it: so a cluster restarted with the new key after a crash midway finishes
  // the rotation on every process, called again until it has (the server's duties do). A
  // sentence when a dashboard's event could not be appended (the rotation stays pending).
  enum class Pending {
    none,              // no rotation to this process's key is pending
    busy,              // a rotation through the API is running here: nothing done now
    finished,          // every open dashboard has the event; the previous key is forgotten
    others_to_record,  // recorded here; other processes' dashboards still lack it
  };
  std::expected<Pending, std::string> record_pending();

 private:
  eventstore::Keyring& keyring_;
  eventstore::CommandPipeline& pipeline_;
  std::atomic<bool> busy_{false};
  std::atomic<int> reported_{0};  // watch(): 1 once the supersession is said, 2 once the withdrawal is
};

}  // namespace keyledger::usecases
