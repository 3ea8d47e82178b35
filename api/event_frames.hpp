// Events as the live streams send them ("event: TYPE\ndata: AUDIT VIEW\n\n"; the id line is
// each stream's own), rendered once for all their readers. The newest events of each
// partition are kept in a window indexed by offset, filled by reading the log forward in
// order (one checksum per batch, not one per event); an older event is read and rendered
// alone. Thread-safe: lookups share a lock, bringing the window forward takes it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/event_log.hpp"

namespace keyledger::api {

using Frame = std::shared_ptr<const std::string>;

// The frame of a stored event.
Frame render_frame(std::string_view stored);

class EventFrames {
 public:
  // `kept`: frames kept in all, shared evenly among the log's partitions.
  EventFrames(eventstore::EventLog& log, std::size_t kept);

  // The frame of the event at `at`, reading the log if need be; null if the log has no
  // durable event there (yet).
  Frame at(eventstore::LogPosition at);
  // The same for an event whose stored bytes the caller has read already.
  Frame at(eventstore::LogPosition at, std::string_view stored);

 private:
  // One partition's newest frames: offsets [first, first + frames.size()). A slot is null
  // where the log holds no event (a Kafka transaction marker).
  struct Window {
    std::uint64_t first = 0;
    std::deque<Frame> frames;
  };
  Frame kept(eventstore::LogPosition at) const;  // under at least a shared lock
  void bring_forward(std::uint32_t partition, std::uint64_t to);  // under the lock alone

  eventstore::EventLog& log_;
  std::size_t per_partition_;
  mutable std::shared_mutex mutex_;
  std::vector<Window> windows_;  // indexed by partition
};

}  // namespace keyledger::api
