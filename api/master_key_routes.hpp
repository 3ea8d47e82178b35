// The master key (SPEC §11): which one wraps the keyring, and its rotation while serving,
// both for the operator only.
#pragma once

#include "access.hpp"
#include "command_runner.hpp"
#include "router.hpp"
#include "usecases/master_key_rotation.hpp"

namespace keyledger::api {

class MasterKeyRoutes {
 public:
  MasterKeyRoutes(const Access& access, CommandRunner& commands, eventstore::Keyring& keyring,
                  usecases::MasterKeyRotation& rotation)
      : access_(access), commands_(commands), keyring_(keyring), rotation_(rotation) {}

  void add_to(Router& router);

 private:
  Result get_master_key(RequestContext& ctx) const;
  // Reads the new key file named in the body (on the server's disk: every process of a
  // cluster is given it), rewraps the keyring, records DataKeyRewrapped in each open
  // dashboard, forgets the old key. The keyring's rewrapping runs on this worker thread
  // (batches of records, one durable write each); the events are awaited without one.
  Task<Result> rotate(RequestContext& ctx);

  const Access& access_;
  CommandRunner& commands_;
  eventstore::Keyring& keyring_;
  usecases::MasterKeyRotation& rotation_;
};

}  // namespace keyledger::api
