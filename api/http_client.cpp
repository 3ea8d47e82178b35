#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>

#include <poll.h>
#include <sys/socket.h>

#include "eventstore/thread_name.hpp"

namespace keyledger::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kKeptBodyLimit = 1 << 20;

struct Url {
  bool tls = false;
  std::string host, port, target;
};

std::expected<Url, std::string> parse_url(const std::string& url) {
  static const std::regex pattern(R"(^(http|https)://(\[[0-9A-Fa-f:.]+\]|[^/:?#\[\]]+)(?::([0-9]{1,5}))?(/[^#]*)?$)");
  std::smatch m;
  if (!std::regex_match(url, m, pattern)) {
    return std::unexpected("not an http:// or https:// URL: '" + url + "'");
  }
  Url out;
  out.tls = m[1] == "https";
  out.host = m[2];
  if (out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
  out.port = m[3].matched ? m[3].str() : (out.tls ? "443" : "80");
  out.target = m[4].matched ? m[4].str() : "/";
  return out;
}

HttpFailure not_sent(std::string sentence) { return HttpFailure{std::move(sentence), false}; }
HttpFailure sent(std::string sentence) { return HttpFailure{std::move(sentence), true}; }

// beast::tcp_stream's expires_after bounds asynchronous operations only; this client's are
// synchronous. A plain connection is read and written through this, which waits for the
// socket to be ready (poll) until the deadline before each read or write: an owner that was
// stopped (SIGSTOP) times the exchange out instead of holding a thread until it resumes.
class DeadlineStream {
 public:
  explicit DeadlineStream(beast::tcp_stream& stream) : socket_(stream.socket()) {}
  void expires_after(std::chrono::steady_clock::duration timeout) {
    deadline_ = std::chrono::steady_clock::now() + timeout;
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, beast::error_code& ec) {
    return ready(POLLIN, ec) ? socket_.read_some(buffers, ec) : 0;
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    return checked([&](beast::error_code& ec) { return read_some(buffers, ec); });
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& buffers, beast::error_code& ec) {
    return ready(POLLOUT, ec) ? socket_.write_some(buffers, ec) : 0;
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& buffers) {
    return checked([&](beast::error_code& ec) { return write_some(buffers, ec); });
  }
  // What a failed read or write is reported as (its own error says it timed out).
  beast::error_code why(beast::error_code ec) const { return ec; }

 private:
  bool ready(short events, beast::error_code& ec) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
      pollfd fd{socket_.native_handle(), events, 0};
      const int n = ::poll(&fd, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
      if (n > 0) return true;  // ready, closed or failed: the read or write says which
      if (n == 0) {
        ec = beast::error::timeout;
        return false;
      }
      if (errno != EINTR) {
        ec = beast::error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }
  template <class Op>
  static std::size_t checked(Op op) {
    beast::error_code ec;
    const std::size_t n = op(ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  tcp::socket& socket_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

// The same deadlines for an https:// exchange, whose reads and writes go through OpenSSL and
// cannot wait on the socket as DeadlineStream does (a record may already be buffered, or
// need several reads): a thread of its own shuts the socket down once the deadline passes,
// which ends a handshake, read or write blocked on it with an error, then reported as a
// timeout. Started once connected.
class ShutdownAtDeadline {
 public:
  ShutdownAtDeadline(tcp::socket& socket, std::chrono::steady_clock::duration timeout)
      : socket_fd_(socket.native_handle()), deadline_(std::chrono::steady_clock::now() + timeout) {
    watcher_ = std::thread([this] {
      name_this_thread("kl-deadline");
      watch();
    });
  }
  ~ShutdownAtDeadline() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_one();
    watcher_.join();
  }
  ShutdownAtDeadline(const ShutdownAtDeadline&) = delete;
  ShutdownAtDeadline& operator=(const ShutdownAtDeadline&) = delete;

  void expires_after(std::chrono::steady_clock::duration timeout) {
    {
      std::lock_guard lock(mutex_);
      deadline_ = std::chrono::steady_clock::now() + timeout;
    }
    changed_.notify_one();
  }
  beast::error_code why(beast::error_code ec) const {
    std::lock_guard lock(mutex_);
    return expired_ ? beast::error_code(beast::error::timeout) : ec;
  }

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!done_) {
      if (std::chrono::steady_clock::now() >= deadline_) {
        expired_ = true;
        ::shutdown(socket_fd_, SHUT_RDWR);  // the descriptor outlives this object
        return;
      }
      changed_.wait_until(lock, deadline_);
    }
  }

  const int socket_fd_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::chrono::steady_clock::time_point deadline_;
  bool done_ = false, expired_ = false;
  std::thread watcher_;  // last: started once the rest is set
};

template <class Stream, class Deadline>
std::expected<HttpAnswer, HttpFailure> exchange(Stream& stream, Deadline& socket, const Url& url,
                                                const HttpCall& call, const BodySink& sink,
                                                bool* keep_alive = nullptr) {
  http::request<http::string_body> request{http::string_to_verb(call.method), url.target, 11};
  if (request.method() == http::verb::unknown) return std::unexpected(not_sent("unknown method " + call.method));
  request.set(http::field::host, url.host);
  request.set(http::field::user_agent, "keyledger");
  for (const auto& [name, value] : call.headers) request.set(name, value);
  if (!call.body.empty() || request.method() != http::verb::get) {
    request.body() = call.body;
    request.prepare_payload();
  }
  beast::error_code ec;
  socket.expires_after(call.timeout);
  http::write(stream, request, ec);
  // A request not wholly written may still have reached the server in part: it is sent.
  if (ec) return std::unexpected(sent("cannot send the request: " + socket.why(ec).message()));

  // Beast reads as much as the buffer has room for: without room made here it reads the
  // body 512 bytes at a time (a recv per 512 bytes of a backup). A body handed to a sink (a
  // backup) is read a megabyte at a time; one that is kept (at most 1 MiB: a forwarded
  // command's answer is a few hundred bytes) 64 KiB at a time, so that each forwarded
  // command does not allocate and clear megabytes.
  const std::size_t room = sink ? std::size_t{1} << 20 : std::size_t{64} << 10;
  beast::flat_buffer buffer;
  buffer.reserve(room);
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares a Content-Length with an unset limit as "exceeded".
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read_header(stream, buffer, parser, ec);
  if (ec) return std::unexpected(sent("no answer: " + socket.why(ec).message()));
  HttpAnswer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) answer.headers.emplace_back(field.name_string(), field.value());
  const bool to_sink = sink && answer.status / 100 == 2;
  const std::unique_ptr<char[]> piece(new char[room]);  // not cleared: only what is read is used
  while (!parser.is_done()) {
    parser.get().body().data = piece.get();
    parser.get().body().size = room;
    socket.expires_after(call.timeout);
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::unexpected(sent("the answer ended before its body did: " + socket.why(ec).message()));
    const std::string_view got(piece.get(), room - parser.get().body().size);
    if (to_sink) {
      if (!got.empty() && !sink(got)) return std::unexpected(sent("stopped: the body could not be kept"));
    } else if (answer.body.size() + got.size() > kKeptBodyLimit) {
      return std::unexpected(sent("the answer's body is larger than 1 MiB"));
    } else {
      answer.body.append(got);
    }
  }
  if (keep_alive) *keep_alive = parser.get().keep_alive();
  return answer;
}

std::expected<tcp::resolver::results_type, HttpFailure> resolve(net::io_context& io, const Url& url) {
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) return std::unexpected(not_sent("cannot resolve " + url.host + ": " + ec.message()));
  return endpoints;
}

// One plain connection, with the io_context its synchronous operations run on.
struct Connection {
  net::io_context io;
  beast::tcp_stream stream{io};
  std::chrono::steady_clock::time_point last_used;
};

// `connection` connected to `url`'s host and port.
std::expected<void, HttpFailure> connect(Connection& connection, const Url& url) {
  auto endpoints = resolve(connection.io, url);
  if (!endpoints) return std::unexpected(endpoints.error());
  beast::error_code ec;
  connection.stream.connect(*endpoints, ec);
  if (ec) return std::unexpected(not_sent("cannot connect to " + url.host + ":" + url.port + ": " + ec.message()));
  return {};
}

// Whether the server closed (or reset) a connection that has been idle: a closed one reads
// as ready, since no answer is due on an idle connection.
bool closed_by_server(tcp::socket& socket) {
  pollfd fd{socket.native_handle(), POLLIN | POLLRDHUP, 0};
  return ::poll(&fd, 1, 0) != 0;
}

}  // namespace

std::expected<HttpAnswer, HttpFailure> http_request(const HttpCall& call, const BodySink& sink) {
  auto url = parse_url(call.url);
  if (!url) return std::unexpected(not_sent(url.error()));
  if (!url->tls) {
    Connection connection;
    if (auto connected = connect(connection, *url); !connected) return std::unexpected(connected.error());
    DeadlineStream timed(connection.stream);
    return exchange(timed, timed, *url, call, sink);
  }
  net::io_context io;
  beast::error_code ec;
  auto endpoints = resolve(io, *url);
  if (!endpoints) return std::unexpected(endpoints.error());
  net::ssl::context context(net::ssl::context::tls_client);
  context.set_verify_mode(net::ssl::verify_peer);
  if (call.ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(call.ca_file, ec);
  }
  if (ec) return std::unexpected(not_sent("cannot load the CA certificates: " + ec.message()));
  beast::ssl_stream<beast::tcp_stream> stream(io, context);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str())) {
    return std::unexpected(not_sent("cannot set the TLS server name " + url->host));
  }
  stream.set_verify_callback(net::ssl::host_name_verification(url->host));
  auto& socket = beast::get_lowest_layer(stream);
  socket.connect(*endpoints, ec);
  if (ec) return std::unexpected(not_sent("cannot connect to " + url->host + ":" + url->port + ": " + ec.message()));
  ShutdownAtDeadline deadline(socket.socket(), call.timeout);
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) {
    return std::unexpected(not_sent("TLS handshake with " + url->host + " failed: " + deadline.why(ec).message()));
  }
  return exchange(stream, deadline, *url, call, sink);
}

struct HttpConnections::Kept {
  std::chrono::milliseconds keep_for;
  std::mutex mutex;
  std::multimap<std::string, std::unique_ptr<Connection>> idle;  // by "host:port"

  // An idle connection to `origin` that may still be used; nothing when there is none.
  std::unique_ptr<Connection> take(const std::string& origin) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    std::unique_ptr<Connection> found;
    for (auto it = idle.begin(); it != idle.end();) {
      if (now - it->second->last_used > keep_for) {
        it = idle.erase(it);  // closes it
      } else if (!found && it->first == origin) {
        found = std::move(it->second);
        it = idle.erase(it);
      } else {
        ++it;
      }
    }
    if (found && closed_by_server(found->stream.socket())) found.reset();
    return found;
  }

  void put_back(const std::string& origin, std::unique_ptr<Connection> connection) {
    connection->last_used = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    idle.emplace(origin, std::move(connection));
  }
};

HttpConnections::HttpConnections(std::chrono::milliseconds keep_for) : kept_(std::make_unique<Kept>()) {
  kept_->keep_for = keep_for;
}

HttpConnections::~HttpConnections() = default;

std::expected<HttpAnswer, HttpFailure> HttpConnections::request(const HttpCall& call) {
  auto url = parse_url(call.url);
  if (!url) return std::unexpected(not_sent(url.error()));
  if (url->tls) return http_request(call);
  const std::string origin = url->host + ":" + url->port;
  auto connection = kept_->take(origin);
  if (!connection) {
    connection = std::make_unique<Connection>();
    if (auto connected = connect(*connection, *url); !connected) return std::unexpected(connected.error());
  }
  bool keep_alive = false;
  DeadlineStream timed(connection->stream);
  auto answer = exchange(timed, timed, *url, call, nullptr, &keep_alive);
  if (answer && keep_alive) kept_->put_back(origin, std::move(connection));
  return answer;
}

}  // namespace keyledger::api
