// The live event streams for consumers that do not speak Kafka (SPEC §11), as Server-Sent
// Events: `event:` the type, `data:` the envelope as the audit API shows it, resumed after
// `Last-Event-ID`. A dashboard's (its members): `id:` the event's sequence, read where the
// audit index says. The operator's, of every dashboard in log order: `id:` an opaque cursor
// (where the stream stands in every partition of the log). Each stream has a thread of its
// own (the server's long-lived streams), so a slow reader never slows commands: it only
// falls behind.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "access.hpp"
#include "event_frames.hpp"
#include "eventstore/event_log.hpp"
#include "projections/audit_index.hpp"
#include "router.hpp"

namespace keyledger::api {

class EventRoutes {
 public:
  // `heartbeat`: after this long without an event, a comment line keeps the connection (and
  // the proxies on its way) alive.
  EventRoutes(const Access& access, eventstore::EventLog& log, const projections::AuditIndex& index,
              std::chrono::milliseconds heartbeat);

  void add_to(Router& router);
  // Ends every open stream and refuses new ones (SIGTERM's drain). Any thread.
  void end_streams();

 private:
  Result dashboard_events(RequestContext& ctx);
  Result all_events(RequestContext& ctx);
  // An event stream whose next piece `next(chunk)` appends, returning how many events (at
  // most a piece's 256; none when there is nothing new yet): the waits, heartbeats and the end are
  // the same for every stream. 503 once ending.
  Result stream(std::function<std::size_t(std::string& chunk)> next) const;

  // What the streams wait on: new events are polled for (a reader is at most kPoll behind),
  // the end is signalled.
  struct Waiting {
    std::mutex mutex;
    std::condition_variable cv;
    bool ending = false;
  };

  const Access& access_;
  eventstore::EventLog& log_;
  const projections::AuditIndex& index_;
  std::chrono::milliseconds heartbeat_;
  std::shared_ptr<Waiting> waiting_ = std::make_shared<Waiting>();
  EventFrames frames_;
};

}  // namespace keyledger::api
