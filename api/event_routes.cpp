#include "event_routes.hpp"

#include <optional>
#include <string_view>

namespace keyledger::api {

namespace {

using Clock = std::chrono::steady_clock;
// How far behind the log a reader that has everything may be: as long as a Kafka consumer
// waits by default (fetch.max.wait.ms). Shorter costs commands (docs/performance.md).
constexpr auto kPoll = std::chrono::milliseconds(500);
constexpr std::size_t kBatch = 256;          // events in one piece of the stream
constexpr std::size_t kFramesKept = 8192;  // rendered events kept for other readers

// A resumed stream's Last-Event-ID: the sequence of the last event the reader has.
Expected<std::uint64_t> last_event_id(const RequestContext& ctx, std::uint64_t events) {
  const std::string text = ctx.request.header("last-event-id");
  if (text.empty()) return 0;
  const auto parsed = parse_decimal(text);
  if (!parsed) {
    return std::unexpected(invalid_request("Last-Event-ID", "Last-Event-ID must be the sequence of an event sent before"));
  }
  const std::uint64_t id = *parsed;
  if (id > events) return std::unexpected(invalid_request("Last-Event-ID", "Last-Event-ID is past the dashboard's last event"));
  return id;
}

// The operator stream's cursor: where it stands in each partition of the log ("c" and the
// next offset of each, dot-separated). Opaque to readers, who only send it back.
std::string cursor_text(const std::vector<std::uint64_t>& offsets) {
  std::string text = "c";
  for (std::size_t p = 0; p < offsets.size(); ++p) text += (p ? "." : "") + std::to_string(offsets[p]);
  return text;
}

Expected<std::vector<std::uint64_t>> log_cursor(const RequestContext& ctx, const std::vector<std::uint64_t>& ends) {
  const std::string text = ctx.request.header("last-event-id");
  if (text.empty()) return std::vector<std::uint64_t>(ends.size(), 0);
  auto bad = [] { return std::unexpected(invalid_request("Last-Event-ID", "Last-Event-ID must be an id this stream sent")); };
  if (text.size() < 2 || text.size() > 4096 || text[0] != 'c') return bad();
  std::vector<std::uint64_t> offsets;
  std::size_t at = 1;
  while (at <= text.size()) {
    const std::size_t dot = std::min(text.find('.', at), text.size());
    const auto offset = parse_decimal(std::string_view(text).substr(at, dot - at));
    if (!offset) return bad();
    offsets.push_back(*offset);
    at = dot + 1;
  }
  if (offsets.size() != ends.size()) return bad();
  for (std::size_t p = 0; p < ends.size(); ++p) {
    if (offsets[p] > ends[p]) return bad();
  }
  return offsets;
}

}  // namespace

EventRoutes::EventRoutes(const Access& access, eventstore::EventLog& log, const projections::AuditIndex& index,
                         std::chrono::milliseconds heartbeat)
    : access_(access), log_(log), index_(index), heartbeat_(heartbeat), frames_(log, kFramesKept) {}

void EventRoutes::add_to(Router& router) {
  router.add("GET", "/v1/dashboards/{d}/events", [this](RequestContext& c) { return dashboard_events(c); });
  router.add("GET", "/v1/events", [this](RequestContext& c) { return all_events(c); });
}

void EventRoutes::end_streams() {
  {
    std::lock_guard lock(waiting_->mutex);
    waiting_->ending = true;
  }
  waiting_->cv.notify_all();
}

Result EventRoutes::dashboard_events(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_member(ctx, kEveryRole));
  const std::string dashboard = ctx.param("d");
  std::uint64_t events = 0;
  if (auto newest = index_.query(dashboard, {}, std::nullopt, 1, true); !newest.entries.empty()) {
    events = newest.entries.front().sequence;
  }
  KEYLEDGER_TRY(after, last_event_id(ctx, events));

  struct Cursor {
    std::string dashboard;
    std::uint64_t sent;  // the sequence of the last event sent
  };
  return stream([this, cursor = Cursor{dashboard, after}](std::string& chunk) mutable {
    std::size_t n = 0;
    for (const auto& at : index_.positions(cursor.dashboard, cursor.sent + 1, cursor.sent + kBatch)) {
      const auto frame = frames_.at(at);
      if (!frame) break;
      chunk.append("id: ").append(std::to_string(cursor.sent + 1)).append("\n").append(*frame);
      ++cursor.sent;
      ++n;
    }
    return n;
  });
}

Result EventRoutes::all_events(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  KEYLEDGER_TRY(from, log_cursor(ctx, log_.ends()));
  return stream([this, cursor = std::move(from)](std::string& chunk) mutable {
    std::size_t n = 0;
    for (std::uint32_t p = 0; p < cursor.size() && n < kBatch; ++p) {
      log_.read(p, cursor[p], log_.end(p), [&](const eventstore::StoredRecord& record) {
        cursor[p] = record.position.offset + 1;
        chunk.append("id: ").append(cursor_text(cursor)).append("\n").append(*frames_.at(record.position, record.bytes));
        return ++n < kBatch;
      });
    }
    return n;
  });
}

Result EventRoutes::stream(std::function<std::size_t(std::string& chunk)> next) const {
  {
    std::lock_guard lock(waiting_->mutex);
    if (waiting_->ending) return std::unexpected(ApiError{503, "draining", "the server is shutting down", "", {}});
  }
  HttpResponse response;
  response.content_type = "text/event-stream";
  response.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  response.long_lived = true;
  // Reconnect after a second; sent at once, so that the reader knows the stream is open.
  std::string first = "retry: 1000\n\n";
  response.stream = [next = std::move(next), waiting = waiting_, heartbeat = heartbeat_, first = std::move(first),
                     wrote = Clock::now(), caught_up = false](std::string& chunk) mutable {
    for (;;) {
      {
        std::unique_lock lock(waiting->mutex);
        // A reader that has all there was waits a poll before looking again: its events then
        // go out a poll's worth at a time, not one piece (and one wake-up) per event.
        if (caught_up) waiting->cv.wait_for(lock, kPoll, [&] { return waiting->ending; });
        if (waiting->ending) return false;
      }
      // Appended, not moved in: the server hands the same two buffers back piece after
      // piece, and they keep their capacity.
      chunk.append(first);
      first.clear();
      caught_up = next(chunk) < kBatch;
      const auto now = Clock::now();
      if (chunk.empty() && now - wrote >= heartbeat) chunk = ": heartbeat\n\n";
      if (!chunk.empty()) {
        wrote = now;
        return true;
      }
    }
  };
  return response;
}

}  // namespace keyledger::api
