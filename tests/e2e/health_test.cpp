#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <nlohmann/json.hpp>

#include "support/api_client.hpp"
#include "support/eventually.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_cert.hpp"

using keyledger::testing::ServerProcess;
using keyledger::testing::TempDir;
using keyledger::testing::ApiClient;
using keyledger::testing::eventually;
using keyledger::testing::metric;
using keyledger::testing::make_self_signed_cert;

TEST_CASE("keyledger serve answers GET /healthz over a real socket and logs where it listens") {
  TempDir dir;
  ServerProcess server(dir.path());
  REQUIRE(server.address().rfind("127.0.0.1:", 0) == 0);
  REQUIRE(server.address() != "127.0.0.1:0");
  auto reply = server.request("GET", "/healthz");
  REQUIRE(reply.status == 200);
  REQUIRE(nlohmann::json::parse(reply.body)["status"] == "ok");
  REQUIRE(server.request("GET", "/readyz").status == 200);
  // The first line logged once requests are accepted is the listening line.
  auto log = server.log();
  auto listening = log.find("\"msg\":\"listening\"");
  REQUIRE(listening != std::string::npos);
  REQUIRE(log.find("\"msg\":\"request\"") > listening);
}

TEST_CASE("each of the server's threads is named for its job (top -H, perf, gdb), while the process keeps its own name") {
  TempDir dir;
  ServerProcess server(dir.path(), {}, {"--threads", "3", "--workers", "5"});
  REQUIRE(server.request("GET", "/healthz").status == 200);
  const std::string task = "/proc/" + std::to_string(server.pid()) + "/task";
  auto name_of = [](const std::filesystem::path& thread) {
    std::ifstream in(thread / "comm");
    std::string name;
    std::getline(in, name);
    return name;
  };
  std::map<std::string, int> names;
  for (const auto& thread : std::filesystem::directory_iterator(task)) {
    std::string name = name_of(thread.path());
    if (thread.path().filename() == std::to_string(server.pid())) {
      REQUIRE(name == "keyledger");  // the main thread: what pgrep and ps find
      continue;
    }
    // A thread starts with its creator's name and names itself first thing (librdkafka's
    // too): one caught in between is judged once it has had the chance, or has ended.
    eventually([&] {
      name = name_of(thread.path());
      return name != "keyledger";
    });
    INFO("thread " << thread.path().filename().string() << " is named " << name);
    if (name.empty()) continue;  // ended meanwhile
    REQUIRE((name.starts_with("kl-") || name.starts_with("rdk:")));  // librdkafka names its own
    ++names[name];
  }
  REQUIRE(names["kl-io"] == 2);  // the main thread is the third
  REQUIRE(names["kl-worker"] == 5);
  REQUIRE(names["kl-stream"] >= 1);
  REQUIRE(names["kl-duties"] == 1);
  // The log's writers: the file log's one, or one for each Kafka partition this process owns.
  int writers = 0;
  for (const auto& [name, count] : names) writers += name.starts_with("kl-commit") ? count : 0;
  REQUIRE(writers >= 1);
}

TEST_CASE("an unknown route is a 404 problem+json, a known one with the wrong method a 405") {
  TempDir dir;
  ServerProcess server(dir.path());
  auto reply = server.request("GET", "/nope");
  REQUIRE(reply.status == 404);
  REQUIRE(reply.headers["content-type"] == "application/problem+json");
  auto body = nlohmann::json::parse(reply.body);
  REQUIRE(body["code"] == "not_found");
  REQUIRE(body["status"] == 404);
  for (auto field : {"type", "title", "detail"}) REQUIRE(body.contains(field));
  auto wrong_method = server.request("PUT", "/healthz");
  REQUIRE(wrong_method.status == 405);
  REQUIRE(wrong_method.headers["allow"] == "GET");
}

TEST_CASE("a body over 64 KiB is refused with 413") {
  TempDir dir;
  ServerProcess server(dir.path());
  auto reply = server.request("POST", "/v1/verify", std::string(64 * 1024 + 1, 'x'));
  REQUIRE(reply.status == 413);
  REQUIRE(nlohmann::json::parse(reply.body)["code"] == "payload_too_large");
}

TEST_CASE("oversized headers are refused and do not stop other clients") {
  TempDir dir;
  ServerProcess server(dir.path());
  auto reply = server.request("GET", "/healthz", "", {{"X-Padding", std::string(20000, 'p')}});
  REQUIRE(reply.status == 431);
  REQUIRE(server.request("GET", "/healthz").status == 200);
}

TEST_CASE("a client that never finishes its request is cut off, and others are still served meanwhile") {
  TempDir dir;
  ServerProcess server(dir.path(), {{"KEYLEDGER_READ_TIMEOUT", "1"}});
  std::string answer = "unset";
  std::chrono::steady_clock::duration waited{};
  std::thread slowloris([&] {
    // Half a request line, then silence: the server must close the connection on its own.
    auto started = std::chrono::steady_clock::now();
    answer = keyledger::testing::raw_exchange(server.address(), "GET /heal", 5000);
    waited = std::chrono::steady_clock::now() - started;
  });
  // Once the slow client's connection is open (the server's gauge counts it with ours), the
  // server still answers others.
  ApiClient api(server);
  const bool open = eventually([&] { return metric(api, "keyledger_http_connections_open") >= 2; });
  int status = server.request("GET", "/healthz").status;
  slowloris.join();
  REQUIRE(open);
  REQUIRE(status == 200);
  REQUIRE(answer.empty());
  REQUIRE(waited < std::chrono::seconds(4));
}

TEST_CASE("serve refuses to start without a master key, saying how to make one") {
  TempDir dir;
  REQUIRE_THROWS_WITH(ServerProcess(dir.path(), {{"KEYLEDGER_MASTER_KEY_FILE", ""}}),
                      Catch::Contains("keyledger keygen"));
}

TEST_CASE("a second serve on the same data directory fails at once with a clear message", "[file]") {
  TempDir dir;
  ServerProcess first(dir.path());
  REQUIRE_THROWS_WITH(ServerProcess(dir.path()), Catch::Contains("in use by another keyledger process"));
  REQUIRE(first.request("GET", "/healthz").status == 200);
}

TEST_CASE("SIGTERM stops the server with exit status 0, without waiting on closed connections") {
  TempDir dir;
  ServerProcess server(dir.path());
  // Short connections answered at once used to be able to outlive their own bookkeeping
  // and hold the drain for its full timeout.
  for (int i = 0; i < 50; ++i) {
    REQUIRE(server.request(i % 2 ? "POST" : "GET", "/healthz").status == (i % 2 ? 405 : 200));
  }
  auto started = std::chrono::steady_clock::now();
  REQUIRE(server.terminate() == 0);
  REQUIRE(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  REQUIRE(server.log().find("\"msg\":\"stopped\"") != std::string::npos);
}

TEST_CASE("with a certificate and key configured, serve speaks HTTPS only") {
  TempDir dir;
  REQUIRE(make_self_signed_cert(dir.path()));
  ServerProcess server(dir.path(), {{"KEYLEDGER_TLS_CERT", dir.path() + "/cert.pem"},
                                    {"KEYLEDGER_TLS_KEY", dir.path() + "/key.pem"}});
  REQUIRE(server.log().find("\"scheme\":\"https\"") != std::string::npos);
  std::string curl = "curl -sS --max-time 10 --cacert " + dir.path() + "/cert.pem https://" + server.address() + "/healthz";
  FILE* pipe = popen(curl.c_str(), "r");
  std::string body;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe)) body += buf;
  REQUIRE(pclose(pipe) == 0);
  REQUIRE(nlohmann::json::parse(body)["status"] == "ok");
  // Plain HTTP on the TLS port gets no HTTP answer.
  REQUIRE_THROWS(server.request("GET", "/healthz"));
}

TEST_CASE("a certificate without its key is refused at start-up") {
  TempDir dir;
  REQUIRE_THROWS_WITH(ServerProcess(dir.path(), {{"KEYLEDGER_TLS_CERT", dir.path() + "/missing.pem"}}),
                      Catch::Contains("KEYLEDGER_TLS_KEY"));
}
