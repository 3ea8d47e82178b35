#include "event_frames.hpp"

#include <algorithm>
#include <mutex>

#include "audit_view.hpp"

namespace keyledger::api {

namespace {

// A stored event's type: its envelope's last member (members are sorted, and "type" sorts
// after every other), so the last `"type":"` of the canonical text.
std::string_view event_type(std::string_view stored) {
  const std::string_view member = "\"type\":\"";
  const std::size_t at = stored.rfind(member);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + member.size(), end = stored.find('"', start);
  return end == std::string_view::npos ? std::string_view() : stored.substr(start, end - start);
}

}  // namespace

Frame render_frame(std::string_view stored) {
  const std::string view = audit_view_text(stored);
  const std::string_view type = event_type(stored);
  std::string frame;
  frame.reserve(view.size() + type.size() + 16);
  frame.append("event: ").append(type).append("\ndata: ").append(view).append("\n\n");
  return std::make_shared<const std::string>(std::move(frame));
}

EventFrames::EventFrames(eventstore::EventLog& log, std::size_t kept)
    : log_(log), per_partition_(std::max<std::size_t>(1, kept / std::max<std::uint32_t>(1, log.partitions()))),
      windows_(log.partitions()) {}

Frame EventFrames::kept(eventstore::LogPosition at) const {
  if (at.partition >= windows_.size()) return nullptr;
  const Window& w = windows_[at.partition];
  if (at.offset < w.first || at.offset - w.first >= w.frames.size()) return nullptr;
  return w.frames[at.offset - w.first];
}

void EventFrames::bring_forward(std::uint32_t partition, std::uint64_t to) {
  Window& w = windows_[partition];
  std::uint64_t from = w.first + w.frames.size();
  if (to <= from) return;
  if (to - from >= per_partition_) {  // nothing kept would stay: start the window afresh
    from = to - per_partition_;
    w.first = from;
    w.frames.clear();
  }
  w.frames.resize(to - w.first);
  log_.read(partition, from, to, [&](const eventstore::StoredRecord& record) {
    w.frames[record.position.offset - w.first] = render_frame(record.bytes);
    return true;
  });
  const std::size_t excess = w.frames.size() > per_partition_ ? w.frames.size() - per_partition_ : 0;
  w.frames.erase(w.frames.begin(), w.frames.begin() + static_cast<std::ptrdiff_t>(excess));
  w.first += excess;
}

Frame EventFrames::at(eventstore::LogPosition at) {
  {
    std::shared_lock lock(mutex_);
    if (auto frame = kept(at)) return frame;
  }
  if (at.partition < windows_.size()) {
    std::unique_lock lock(mutex_);
    const Window& w = windows_[at.partition];
    if (at.offset >= w.first + w.frames.size()) {
      // A newer event than any kept: bring the window up to the log's end (one read, in
      // order, for this reader and every other that follows the log).
      bring_forward(at.partition, log_.end(at.partition));
    }
    if (auto frame = kept(at)) return frame;
  }
  // Older than the window (a reader catching up on history), or not in the log.
  const std::string bytes = log_.read_one(at);
  return bytes.empty() ? nullptr : render_frame(bytes);
}

Frame EventFrames::at(eventstore::LogPosition at, std::string_view stored) {
  {
    std::shared_lock lock(mutex_);
    if (auto frame = kept(at)) return frame;
  }
  return render_frame(stored);
}

}  // namespace keyledger::api
