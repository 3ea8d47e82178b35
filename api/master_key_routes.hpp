// The master key (SPEC §11): which one wraps the keyring, and its rotation while serving,
// both for the operator only. On a Kafka cluster the process asked rotates the keyring, then
// has the owner of every partition it does not decide adopt the new key and record the
// rotation in that partition's dashboards (peer routes, POST /v1/cluster/master-key/...:
// every process is given the new key file), records it in its own, finishes, and lets the
// others forget the previous key.
#pragma once

#include "access.hpp"
#include "command_runner.hpp"
#include "forwarder.hpp"
#include "router.hpp"
#include "usecases/master_key_rotation.hpp"

namespace keyledger::api {

class MasterKeyRoutes {
 public:
  MasterKeyRoutes(const Access& access, CommandRunner& commands, eventstore::Keyring& keyring,
                  usecases::MasterKeyRotation& rotation, const eventstore::EventLog& log,
                  const eventstore::CommandPipeline& pipeline, Forwarder& forwarder)
      : access_(access),
        commands_(commands),
        keyring_(keyring),
        rotation_(rotation),
        log_(log),
        pipeline_(pipeline),
        forwarder_(forwarder) {}

  void add_to(Router& router);

 private:
  Result get_master_key(RequestContext& ctx) const;
  // Reads the new key file named in the body (on the server's disk: every process of a
  // cluster is given it), rewraps the keyring, records DataKeyRewrapped in each open
  // dashboard, forgets the old key. The keyring's rewrapping runs on this worker thread
  // (batches of records, one durable write each); the events are awaited without one.
  Task<Result> rotate(RequestContext& ctx);
  // Peers only: adopt the new key (its file named in the body, on this process's disk) and
  // record the rotation in the open dashboards of the partition named, which this process
  // decides; then, once the rotating process finished, forget the previous key.
  Task<Result> adopt(RequestContext& ctx);
  Result forget_previous(RequestContext& ctx);
  // On a cluster, the owner of each partition this process does not decide adopts the new key
  // and records the rotation there: the dashboards they recorded.
  Task<Expected<std::size_t>> adopt_elsewhere(RequestContext& ctx, const std::string& file,
                                              const eventstore::PendingRotation& rotation);
  // Step 2 for the dashboards of `partition` (every partition: none) this process decides.
  Task<Expected<std::size_t>> record_here(RequestContext& ctx, const eventstore::PendingRotation& rotation,
                                          std::optional<std::uint32_t> partition);

  const Access& access_;
  CommandRunner& commands_;
  eventstore::Keyring& keyring_;
  usecases::MasterKeyRotation& rotation_;
  const eventstore::EventLog& log_;
  const eventstore::CommandPipeline& pipeline_;
  Forwarder& forwarder_;
};

}  // namespace keyledger::api
