// The data directory's disk fills up for real: the store lives on a 4 MiB tmpfs and a ballast
// file takes every free byte. Commands must fail with 503 and change nothing, verification
// must go on, every acknowledged command must survive, and service must resume once space
// returns, without a restart. Mounting needs root (tools/test runs as root in CI); without it
// the test fails and says so rather than skipping.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "support/api_client.hpp"
#include "support/temp_dir.hpp"

using namespace keyledger::testing;

namespace {

// The tmpfs, unmounted (lazily, should a server still hold it) when the test ends.
struct Tmpfs {
  std::string path;
  explicit Tmpfs(std::string where) : path(std::move(where)) {
    ::mkdir(path.c_str(), 0700);
    INFO("mounting a tmpfs needs root: " << std::strerror(errno));
    REQUIRE(::mount("keyledger-test", path.c_str(), "tmpfs", 0, "size=4m,mode=0700") == 0);
  }
  ~Tmpfs() { ::umount2(path.c_str(), MNT_DETACH); }
};

// Writes zeros to `path` until the file system refuses: it is full then.
std::size_t fill(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  std::vector<char> block(16384, 0);
  std::size_t written = 0;
  for (std::size_t size = block.size(); size > 0;) {
    ssize_t n = ::write(fd, block.data(), size);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
    } else {
      REQUIRE(errno == ENOSPC);
      size /= 2;  // the last few bytes too
    }
  }
  ::close(fd);
  return written;
}

int count_email_keys(const ApiClient& api, const Dashboard& d) {
  auto listed = api.get(d.path + "/email/keys", d.admin);
  REQUIRE(listed.status == 200);
  return static_cast<int>(listed.json["keys"].size());
}

}  // namespace

TEST_CASE("disk full: commands get 503 and change nothing, verify goes on, service resumes when space returns",
          "[file]") {
  TempDir dir;
  Tmpfs disk(dir / "disk");
  const std::map<std::string, std::string> env{{"KEYLEDGER_STORE", "file:" + disk.path + "/data"}};
  std::vector<std::string> acknowledged;
  Dashboard d;
  {
    ServerProcess server(dir.path(), env);
    ApiClient api(server);
    d = make_dashboard(api);
    for (int i = 0; i < 10; ++i) {
      auto r = api.post(d.path + "/email/keys", {{"name", "before " + std::to_string(i)}}, d.admin);
      REQUIRE(r.status == 201);
      acknowledged.push_back(r.json["key"]);
    }

    REQUIRE(fill(disk.path + "/ballast") > 0);
    // A command or two may still fit in the page the segment file already holds; those are
    // acknowledged like any other. Then every command is refused.
    int refused = 0;
    for (int i = 0; i < 60 && refused < 5; ++i) {
      auto r = api.post(d.path + "/email/keys", {{"name", "while full"}}, d.admin);
      INFO(r.body);
      if (r.status == 201 && refused == 0) {
        acknowledged.push_back(r.json["key"]);
        continue;
      }
      REQUIRE(r.status == 503);
      REQUIRE(r.json["code"] == "log_unavailable");
      ++refused;
    }
    REQUIRE(refused == 5);
    const int before_space_returns = static_cast<int>(acknowledged.size());
    CHECK(count_email_keys(api, d) == before_space_returns);
    for (auto& key : acknowledged) REQUIRE(verify(api, key).json["valid"] == true);

    // Space returns: commands succeed again on the same server.
    REQUIRE(::unlink((disk.path + "/ballast").c_str()) == 0);
    for (int i = 0; i < 10; ++i) {
      auto r = api.post(d.path + "/email/keys", {{"name", "after " + std::to_string(i)}}, d.admin);
      INFO(r.body);
      REQUIRE(r.status == 201);
      acknowledged.push_back(r.json["key"]);
    }
    CHECK(count_email_keys(api, d) == before_space_returns + 10);
    REQUIRE(server.terminate() == 0);
  }

  // A restart replays the log: every acknowledged key is there and the chain verifies.
  ServerProcess again(dir.path(), env);
  ApiClient api(again);
  d.admin = log_in(api, d.id, d.admin_email, kAdminPassword);
  CHECK(count_email_keys(api, d) == static_cast<int>(acknowledged.size()));
  for (auto& key : acknowledged) REQUIRE(verify(api, key).json["valid"] == true);
  auto audit = api.get(d.path + "/audit/verify", d.admin);
  REQUIRE(audit.status == 200);
  CHECK(audit.json["ok"] == true);
}
