// Online backups of the embedded store (SPEC §13), for the operator: GET /v1/backup streams a
// consistent tar archive (usecases/backup.hpp) while commands go on.
#pragma once

#include <string>

#include "access.hpp"
#include "eventstore/command_pipeline.hpp"
#include "eventstore/event_log.hpp"
#include "eventstore/keyring.hpp"
#include "router.hpp"
#include "usecases/backup.hpp"

namespace keyledger::api {

class BackupRoutes {
 public:
  // `store` is KEYLEDGER_STORE: a file store is backed up, a Kafka store is refused.
  BackupRoutes(const Access& access, eventstore::EventLog& log, const eventstore::CommandPipeline& pipeline,
               const eventstore::Keyring& keyring, std::string store)
      : access_(access), log_(log), pipeline_(pipeline), keyring_(keyring), store_(std::move(store)) {}

  void add_to(Router& router);

 private:
  // Takes the cut on this worker thread (commands wait a few milliseconds at most); the
  // archive is then written by a streaming thread, 1 MiB at a time.
  Result backup(RequestContext& ctx);

  const Access& access_;
  eventstore::EventLog& log_;
  const eventstore::CommandPipeline& pipeline_;
  const eventstore::Keyring& keyring_;
  std::string store_;
  usecases::DigestCache digests_;  // what earlier backups hashed: each MiB that cannot change, once
};

}  // namespace keyledger::api
