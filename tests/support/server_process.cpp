#include "server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#ifndef KEYLEDGER_BINARY
#error "KEYLEDGER_BINARY must name the keyledger executable"
#endif

namespace keyledger::testing {

namespace {

int connect_to(const std::string& address) {
  auto colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot connect to " + address);
  }
  return fd;
}

// Reads until the peer closes, or until nothing has come for `timeout_ms` (a long answer
// that keeps arriving is read to its end, however long it takes in all).
std::string read_until_closed(int fd, int timeout_ms) {
  std::string out;
  char buf[8192];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

// Starts the keyledger binary with `args` and `env` added to ours, its stdout and stderr
// going to the returned pipe's read end.
pid_t spawn_keyledger(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                      int& output_fd) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> argv_strings{KEYLEDGER_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(KEYLEDGER_BINARY, argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  output_fd = pipe_fds[0];
  return pid;
}

int run_keyledger(const std::vector<std::string>& args, std::string* output,
                  const std::map<std::string, std::string>& env) {
  int fd = -1;
  pid_t pid = spawn_keyledger(args, env, fd);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {
// KEYLEDGER_TEST_CLUSTER=N on the Kafka backend: each server runs with N-1 companions.
int cluster_members() {
  const char* backend = std::getenv("KEYLEDGER_TEST_BACKEND");
  const char* members = std::getenv("KEYLEDGER_TEST_CLUSTER");
  if (!backend || std::string(backend) != "kafka" || !members) return 1;
  return std::max(1, std::atoi(members));
}
// The partitions a server says it writes (/metrics: keyledger_partition_owned{partition="P"} 1)
// and how many it lists; {0, 0} while it cannot be asked.
struct Ownership {
  int owned = 0;
  int partitions = 0;
};
Ownership ownership(const ServerProcess& server) {
  Ownership seen;
  try {
    const std::string text = server.request("GET", "/metrics").body;
    const std::string series = "keyledger_partition_owned{";
    for (auto at = text.find(series); at != std::string::npos; at = text.find(series, at + 1)) {
      if (at != 0 && text[at - 1] != '\n') continue;
      const auto value = text.find("} ", at);
      if (value == std::string::npos) break;
      ++seen.partitions;
      seen.owned += text.compare(value + 2, 2, "1\n") == 0 ? 1 : 0;
    }
  } catch (const std::exception&) {
    return {};
  }
  return seen;
}
}  // namespace

ServerProcess::ServerProcess(const std::string& data_dir, std::map<std::string, std::string> env,
                             std::vector<std::string> args, Started started) {
  std::string key_file = data_dir + "/master.key";
  if (access(key_file.c_str(), F_OK) != 0 && run_keyledger({"keygen", key_file}) != 0) {
    throw std::runtime_error("keyledger keygen failed");
  }
  env.try_emplace("KEYLEDGER_MASTER_KEY_FILE", key_file);
  env.try_emplace("KEYLEDGER_STORE", test_store_url(data_dir));
  env.try_emplace("KEYLEDGER_OPERATOR_TOKEN", kOperatorToken);
  env.try_emplace("KEYLEDGER_SERVICE_TOKEN", kServiceToken);
  env.try_emplace("KEYLEDGER_LISTEN", "127.0.0.1:0");
  const int members = cluster_members();
  if (members > 1) env.try_emplace("KEYLEDGER_CLUSTER_TOKEN", "cluster-token-for-tests-0001");
  std::vector<std::string> serve_args{"serve"};
  serve_args.insert(serve_args.end(), args.begin(), args.end());
  // All of a cluster's processes start at once (each waits for its share of the partitions).
  spawn(serve_args, env);
  for (int i = 1; i < members; ++i) {
    companions_.push_back(std::unique_ptr<ServerProcess>(new ServerProcess()));
    companions_.back()->spawn(serve_args, env);
  }
  if (started == Started::spawned) return;
  try {
    wait_started(env.contains("KEYLEDGER_TLS_CERT"));
  } catch (...) {
    kill_and_reap();
    throw;
  }
}

void ServerProcess::kill_and_reap() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (log_reader_.joinable()) log_reader_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
  stderr_fd_ = -1;
}

void ServerProcess::wait_started(bool https) {
  wait_listening();
  for (auto& companion : companions_) companion->wait_listening();
  // (Asked over plain HTTP: a cluster serving HTTPS is taken as it comes.)
  if (companions_.empty() || https) return;
  // The first of a cluster's processes tends to hold every partition for a while (it joined
  // the group first): until another holds one, this one would decide everything and forward
  // nothing. A test starts once the others share the partitions; a cluster that has not within
  // 20 s (the group settles in a few) fails the test rather than let it run unshared.
  Ownership mine;
  int everyone = 0;
  const bool shared = eventually(
      [&] {
        mine = ownership(*this);
        everyone = mine.owned;
        for (auto& companion : companions_) everyone += ownership(*companion).owned;
        return mine.partitions > 0 && mine.owned < mine.partitions && everyone == mine.partitions;
      },
      std::chrono::seconds(20));
  if (!shared) {
    throw std::runtime_error("the cluster did not share its partitions within 20 s: the test's process owns " +
                             std::to_string(mine.owned) + " of " + std::to_string(mine.partitions) +
                             ", its " + std::to_string(companions_.size()) + " companions " +
                             std::to_string(everyone - mine.owned));
  }
}

void ServerProcess::spawn(const std::vector<std::string>& serve_args, const std::map<std::string, std::string>& env) {
  pid_ = spawn_keyledger(serve_args, env, stderr_fd_);
  log_reader_ = std::thread([this] {
    char buf[8192];
    ssize_t n;
    while ((n = read(stderr_fd_, buf, sizeof buf)) > 0) {
      std::lock_guard lock(log_mutex_);
      log_.append(buf, static_cast<std::size_t>(n));
    }
  });
}

void ServerProcess::wait_listening() {
  // Wait for {"msg":"listening","address":"..."}.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string seen = log();
    auto at = seen.find("\"msg\":\"listening\"");
    if (at != std::string::npos) {
      auto line_start = seen.rfind('\n', at);
      line_start = line_start == std::string::npos ? 0 : line_start + 1;
      auto line = seen.substr(line_start, seen.find('\n', at) - line_start);
      auto key = line.find("\"address\":\"");
      auto end = line.find('"', key + 11);
      address_ = line.substr(key + 11, end - key - 11);
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      kill_and_reap();
      throw std::runtime_error("keyledger serve exited before listening: " + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_and_reap();
  throw std::runtime_error("keyledger serve did not start listening: " + log());
}

ServerProcess::~ServerProcess() { kill_and_reap(); }

std::optional<int> ServerProcess::terminate_within(std::chrono::milliseconds bound) {
  if (pid_ <= 0) return std::nullopt;
  // A pidfd becomes readable when the process exits: wait on that, with the bound as timeout.
  // (By syscall: glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage.)
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  kill(pid_, SIGTERM);
  int status = 0;
  pid_t done = 0;
  if (pidfd >= 0) {
    pollfd exited{pidfd, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + bound;
    int ready = 0;
    do {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      ready = poll(&exited, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    } while (ready < 0 && errno == EINTR);
    close(pidfd);
    if (ready > 0) done = waitpid(pid_, &status, 0);
  }
  if (done <= 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  if (log_reader_.joinable()) log_reader_.join();
  if (done <= 0) return std::nullopt;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (log_reader_.joinable()) log_reader_.join();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ServerProcess::log() const {
  std::lock_guard lock(log_mutex_);
  return log_;
}

HttpReply ServerProcess::request(const std::string& method, const std::string& target, const std::string& body,
                                 std::map<std::string, std::string> headers, std::chrono::milliseconds quiet_for) const {
  std::string raw =
      raw_exchange(address_, request_bytes(address_, method, target, body, std::move(headers)), static_cast<int>(quiet_for.count()));
  HttpReply reply;
  auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) {
    throw std::runtime_error("no HTTP response: " + raw);
  }
  reply.status = std::stoi(raw.substr(9, 3));
  std::size_t line = raw.find("\r\n") + 2;
  while (line < head_end) {
    auto eol = raw.find("\r\n", line);
    auto colon = raw.find(':', line);
    std::string name = raw.substr(line, colon - line);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = raw.substr(colon + 2, eol - colon - 2);
    line = eol + 2;
  }
  reply.body = raw.substr(head_end + 4);
  if (reply.headers["transfer-encoding"] == "chunked") {
    // A body cut short (the server gave up writing, or the connection broke) has no last
    // chunk: that is an error, never a shorter answer.
    std::string decoded;
    std::size_t at = 0;
    bool complete = false;
    while (at < reply.body.size()) {
      auto eol = reply.body.find("\r\n", at);
      if (eol == std::string::npos) break;
      std::size_t size = std::stoul(reply.body.substr(at, eol - at), nullptr, 16);
      if (size == 0) {
        complete = true;
        break;
      }
      if (eol + 2 + size > reply.body.size()) break;
      decoded += reply.body.substr(eol + 2, size);
      at = eol + 2 + size + 2;
    }
    if (!complete) {
      throw std::runtime_error(method + " " + target + ": the chunked body ended without its last chunk, after " +
                               std::to_string(decoded.size()) + " bytes");
    }
    reply.body = decoded;
  }
  return reply;
}

std::string request_bytes(const std::string& address, const std::string& method, const std::string& target,
                          const std::string& body, std::map<std::string, std::string> headers, bool keep_alive) {
  std::string wire = method + " " + target + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: " +
                     (keep_alive ? "keep-alive" : "close") + "\r\n";
  if (!body.empty() || method == "POST" || method == "PATCH") {
    headers.emplace("Content-Type", "application/json");
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (auto& [k, v] : headers) wire += k + ": " + v + "\r\n";
  return wire + "\r\n" + body;
}

std::string raw_exchange(const std::string& address, const std::string& bytes, int timeout_ms) {
  int fd = connect_to(address);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + sent, bytes.size() - sent);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out = read_until_closed(fd, timeout_ms);
  close(fd);
  return out;
}


StalledReader::StalledReader(const std::string& address, const std::string& request) {
  auto colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;  // before connecting, so that the window it advertises stays small
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::runtime_error("cannot connect to " + address);
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = write(fd_, request.data() + sent, request.size() - sent);
    if (n <= 0) throw std::runtime_error("cannot send the request");
    sent += static_cast<std::size_t>(n);
  }
}

StalledReader::~StalledReader() {
  if (fd_ >= 0) close(fd_);
}

std::string StalledReader::read_at_least(std::size_t bytes, int timeout_ms) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[1024];
  while (out.size() < bytes && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = read(fd_, buf, std::min(sizeof buf, bytes - out.size()));
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace keyledger::testing
