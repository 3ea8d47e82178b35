// The live event stream (SPEC §11) read by a client no one here wrote: curl. A dashboard's
// events arrive once each, in order, as they happen; a reader that drops off mid-stream and
// comes back with Last-Event-ID misses none and gets none twice; an idle stream sends
// heartbeats and is exempt from the read and idle timeouts; SIGTERM's drain ends it.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;
using nlohmann::json;

namespace {

// `curl -N` reading an event stream into a file until stopped (or the server ends it).
class CurlReader {
 public:
  CurlReader(const ServerProcess& server, const std::string& path, const std::string& token, const std::string& file,
             const std::string& last_event_id = "")
      : file_(file) {
    std::vector<std::string> args{"curl", "-sS", "-N", "-o", file, "-H", "Authorization: Bearer " + token};
    if (!last_event_id.empty()) args.insert(args.end(), {"-H", "Last-Event-ID: " + last_event_id});
    args.push_back("http://" + server.address() + path);
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("curl", argv.data());
      _exit(127);
    }
    REQUIRE(pid_ > 0);
  }
  ~CurlReader() { stop(); }
  // Drops the connection, as a reader that goes away mid-stream does.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Whether curl has exited by itself (the server ended the stream) within `bound`; its status.
  std::optional<int> exited_within(std::chrono::milliseconds bound) {
    std::optional<int> code;
    eventually([&] {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
      code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
      return true;
    }, bound);
    return code;
  }
  std::string text() const {
    std::ifstream in(file_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string file_;
  pid_t pid_ = -1;
};

struct Frame {
  std::string id;
  std::string event;
  std::string text;  // the data line as sent
  json data;
};

// The whole events in an event stream's text (a frame not yet ended by a blank line is left).
std::vector<Frame> frames_of(const std::string& text) {
  std::vector<Frame> out;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find("\n\n", start)) != std::string::npos; start = end + 2) {
    std::istringstream lines(text.substr(start, end - start));
    Frame f;
    bool has_id = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("id: ")) f.id = line.substr(4), has_id = true;
      else if (line.starts_with("event: ")) f.event = line.substr(7);
      else if (line.starts_with("data: ")) f.text = line.substr(6), f.data = json::parse(f.text);
    }
    if (has_id) out.push_back(std::move(f));
  }
  return out;
}

// Waits until `reader` has received `n` events.
bool received(const CurlReader& reader, std::size_t n) {
  return eventually([&] { return frames_of(reader.text()).size() >= n; });
}

std::uint64_t events_of(const ApiClient& api, const Dashboard& d) {
  return api.get(d.path + "/audit?order=desc&limit=1", d.admin).json["events"][0]["sequence"];
}

}  // namespace

TEST_CASE("e2e: the event stream sends each event once, in order, as it happens, and resumes after Last-Event-ID") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  REQUIRE(api.post(d.path + "/email/keys", {{"name", "before"}}, d.admin).status == 201);

  std::vector<Frame> seen;
  {
    CurlReader reader(server, d.path + "/events", d.viewer, dir.path() + "/first.txt");
    REQUIRE(received(reader, events_of(api, d)));  // the history so far
    // Live: events appended while connected arrive.
    REQUIRE(api.post(d.path + "/email/keys", {{"name", "while connected"}}, d.admin).status == 201);
    REQUIRE(api.post(d.path + "/email/keys", {{"name", "denied"}}, d.viewer).status == 403);  // audited too
    REQUIRE(received(reader, events_of(api, d)));
    reader.stop();  // the reader goes away mid-stream
    seen = frames_of(reader.text());
  }
  // Meanwhile, more happens.
  for (int i = 0; i < 3; ++i) REQUIRE(api.post(d.path + "/email/keys", {{"name", "away " + std::to_string(i)}}, d.admin).status == 201);
  const std::uint64_t resume_after = std::stoull(seen.back().id);
  {
    CurlReader reader(server, d.path + "/events", d.developer, dir.path() + "/second.txt", seen.back().id);
    REQUIRE(received(reader, events_of(api, d) - resume_after));
    reader.stop();
    auto rest = frames_of(reader.text());
    REQUIRE(rest.front().id == std::to_string(resume_after + 1));
    seen.insert(seen.end(), rest.begin(), rest.end());
  }
  // Together: every event of the trail once, in order, as the audit API shows it.
  std::vector<std::string> trail;
  std::istringstream lines(api.get(d.path + "/audit/export", d.admin).body);
  for (std::string line; std::getline(lines, line);) trail.push_back(line);
  REQUIRE(seen.size() <= trail.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    INFO("frame " << i);
    REQUIRE(seen[i].id == std::to_string(i + 1));
    REQUIRE(seen[i].data["type"] == seen[i].event);
    REQUIRE(seen[i].text == trail[i]);  // byte for byte what the audit export shows
  }
  REQUIRE(seen.size() >= 9);
}

TEST_CASE("e2e: the operator's stream carries every dashboard's events once each, and resumes after its cursor") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto first = make_dashboard(api, "First");
  auto second = make_dashboard(api, "Second");
  auto total = [&] { return events_of(api, first) + events_of(api, second); };
  std::vector<Frame> seen;
  {
    CurlReader reader(server, "/v1/events", kOperatorToken, dir.path() + "/first.txt");
    REQUIRE(received(reader, total()));
    REQUIRE(api.post(first.path + "/email/keys", {{"name", "live"}}, first.admin).status == 201);
    REQUIRE(received(reader, total()));
    reader.stop();
    seen = frames_of(reader.text());
  }
  for (const auto* d : {&first, &second}) REQUIRE(api.post(d->path + "/email/keys", {{"name", "away"}}, d->admin).status == 201);
  {
    CurlReader reader(server, "/v1/events", kOperatorToken, dir.path() + "/second.txt", seen.back().id);
    REQUIRE(received(reader, total() - seen.size()));
    reader.stop();
    auto rest = frames_of(reader.text());
    seen.insert(seen.end(), rest.begin(), rest.end());
  }
  // Each dashboard's events exactly once, in its order, as its audit export shows them.
  for (const auto* d : {&first, &second}) {
    std::vector<json> trail;
    std::istringstream lines(api.get(d->path + "/audit/export", d->admin).body);
    for (std::string line; std::getline(lines, line);) trail.push_back(json::parse(line));
    std::vector<json> streamed;
    for (const auto& f : seen) {
      REQUIRE(f.data["type"] == f.event);
      if (f.data["dashboard_id"] == d->id) streamed.push_back(f.data);
    }
    REQUIRE(streamed == trail);
  }
  REQUIRE(seen.size() == total());
  // Only the operator; a cursor it did not send is a 400.
  REQUIRE(api.get("/v1/events", first.admin).status == 403);
  for (const std::string bad : {"12", "c", "c.", "c1..2", "c99999999", "cx"}) {
    INFO(bad);
    auto reply = api.call("GET", "/v1/events", std::nullopt, kOperatorToken, {{"Last-Event-ID", bad}});
    REQUIRE(reply.status == 400);
  }
}

TEST_CASE("e2e: an idle event stream sends heartbeats past the idle timeout, and SIGTERM's drain ends it") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_SSE_HEARTBEAT", "1"}, {"KEYLEDGER_IDLE_TIMEOUT", "1"},
                                    {"KEYLEDGER_READ_TIMEOUT", "1"}});
  ApiClient api(server);
  auto d = make_dashboard(api);
  CurlReader reader(server, d.path + "/events", d.admin, dir.path() + "/stream.txt");
  REQUIRE(received(reader, events_of(api, d)));
  // Three heartbeats: the stream outlived the 1-second read and idle timeouts several times.
  REQUIRE(eventually([&] {
    const std::string text = reader.text();
    std::size_t beats = 0;
    for (std::size_t at = 0; (at = text.find(": heartbeat\n\n", at)) != std::string::npos; ++at) ++beats;
    return beats >= 3;
  }));
  REQUIRE(server.terminate_within(std::chrono::seconds(5)) == 0);
  // The stream was ended properly (the last chunk sent), so curl finishes without error.
  REQUIRE(reader.exited_within(std::chrono::seconds(5)) == 0);
}

TEST_CASE("e2e: the event stream is for the dashboard's members, and a Last-Event-ID past the end is a 400") {
  TempDir dir;
  ServerProcess server(dir.path());
  ApiClient api(server);
  auto d = make_dashboard(api);
  auto other = make_dashboard(api, "Other");
  REQUIRE(api.get(d.path + "/events", kOperatorToken).status == 403);
  REQUIRE(api.get(d.path + "/events", other.admin).status == 403);
  REQUIRE(api.get(d.path + "/events", "").status == 401);
  auto reply = api.call("GET", d.path + "/events", std::nullopt, d.admin, {{"Last-Event-ID", "999999"}});
  REQUIRE(reply.status == 400);
  REQUIRE(reply.json["field"] == "Last-Event-ID");
}
