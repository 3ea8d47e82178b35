#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/server_process.hpp"

using keyledger::testing::ServerProcess;

TEST_CASE("keyledger serve answers GET /healthz over a real socket and logs where it listens") {
  ServerProcess server;
  REQUIRE(server.address().rfind("127.0.0.1:", 0) == 0);
  REQUIRE(server.address() != "127.0.0.1:0");
  auto reply = server.request("GET", "/healthz");
  REQUIRE(reply.status == 200);
  REQUIRE(nlohmann::json::parse(reply.body)["status"] == "ok");
}

TEST_CASE("an unknown route is a 404 problem+json") {
  ServerProcess server;
  auto reply = server.request("GET", "/nope");
  REQUIRE(reply.status == 404);
  REQUIRE(reply.headers["content-type"] == "application/problem+json");
  auto body = nlohmann::json::parse(reply.body);
  REQUIRE(body["code"] == "not_found");
  REQUIRE(body["status"] == 404);
}

TEST_CASE("a body over 64 KiB is refused with 413") {
  ServerProcess server;
  auto reply = server.request("POST", "/healthz", std::string(64 * 1024 + 1, 'x'));
  REQUIRE(reply.status == 413);
}

TEST_CASE("a client that never finishes its request is cut off, and others are still served") {
  ServerProcess server({}, {{"KEYLEDGER_READ_TIMEOUT", "1"}});
  // Half a request line, then silence: the server must close the connection on its own.
  auto started = std::chrono::steady_clock::now();
  std::string answer = keyledger::testing::raw_exchange(server.address(), "GET /heal", 5000);
  auto waited = std::chrono::steady_clock::now() - started;
  REQUIRE(answer.empty());
  REQUIRE(waited < std::chrono::seconds(4));
  REQUIRE(server.request("GET", "/healthz").status == 200);
}

TEST_CASE("SIGTERM stops the server with exit status 0") {
  ServerProcess server;
  REQUIRE(server.request("GET", "/healthz").status == 200);
  REQUIRE(server.terminate() == 0);
}
