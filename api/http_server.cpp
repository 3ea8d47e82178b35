#include "http_server.hpp"

#include <atomic>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace keyledger::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

void fail(beast::error_code ec, const char* what) {
  // Client disconnects and timeouts are ordinary; only report what an operator can act on.
  if (ec == net::error::operation_aborted || ec == beast::error::timeout ||
      ec == net::error::connection_reset || ec == net::error::eof || ec == http::error::end_of_stream) {
    return;
  }
  std::cerr << R"({"level":"warn","msg":"connection error","where":")" << what
            << R"(","error":")" << ec.message() << "\"}\n";
}

tcp::endpoint parse_endpoint(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("listen address must be HOST:PORT");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = std::stoul(address.substr(colon + 1));
  if (port > 65535) throw std::invalid_argument("port out of range");
  beast::error_code ec;
  auto ip = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw std::invalid_argument("listen host must be an IP address: " + host);
  return {ip, static_cast<unsigned short>(port)};
}

}  // namespace

class Session;

struct HttpServer::Impl {
  RequestHandler handler;
  ServerLimits limits;
  net::io_context io;
  tcp::acceptor acceptor{io};
  net::signal_set signals{io, SIGTERM, SIGINT};
  net::steady_timer drain_timer{io};
  std::atomic<bool> draining{false};
  std::mutex sessions_mutex;
  std::set<std::shared_ptr<Session>> sessions;

  void do_accept();
  void begin_drain();
};

// One connection: read a request, answer it, repeat while keep-alive holds. Runs on its
// own strand, so at most one of its handlers executes at a time.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {}

  void start() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); }); }

  // From any thread: close now if waiting for a request; otherwise after the current answer.
  void close_when_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->close();
    });
  }

 private:
  void do_read() {
    if (server_.draining) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits.header_limit));
    parser_->body_limit(server_.limits.body_limit);
    if (buffer_.size() > 0) return read_request();
    // Waiting for the first byte of a request: the keep-alive idle timeout applies.
    idle_ = true;
    stream_.expires_after(server_.limits.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->idle_ = false;
                              if (ec) {
                                fail(ec, "read");
                                return self->close();
                              }
                              self->buffer_.commit(n);
                              self->read_request();
                            });
  }

  // The whole request must arrive within read_timeout of its first byte (no slowloris).
  void read_request() {
    stream_.expires_after(server_.limits.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return write(problem(413, "payload_too_large", "Payload Too Large",
                           "request bodies are limited to 64 KiB"),
                   false, 11);
    }
    if (ec == http::error::header_limit) {
      return write(problem(431, "headers_too_large", "Request Header Fields Too Large",
                           "request headers are too large"),
                   false, 11);
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return close();
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return write(problem(400, "invalid_request", "Bad Request", "malformed HTTP request"),
                   false, 11);
    }
    if (ec) {
      fail(ec, "read");
      return close();
    }
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(req.body());
    beast::error_code ep_ec;
    auto remote = stream_.socket().remote_endpoint(ep_ec);
    if (!ep_ec) request.remote_ip = remote.address().to_string();
    HttpResponse response;
    try {
      response = server_.handler(request);
    } catch (const std::exception& e) {
      std::cerr << R"({"level":"error","msg":"handler failed"})" << '\n';
      response = problem(500, "internal_error", "Internal Server Error", "the request failed");
    }
    write(std::move(response), req.keep_alive(), req.version());
  }

  void write(HttpResponse response, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    res->set(http::field::server, "keyledger");
    res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->set(name, value);
    res->keep_alive(keep_alive && !server_.draining);
    res->body() = std::move(response.body);
    res->prepare_payload();
    stream_.expires_after(server_.limits.read_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) {
        fail(ec, "write");
        return self->close();
      }
      if (res->need_eof()) return self->close();
      self->do_read();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    std::lock_guard lock(server_.sessions_mutex);
    server_.sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  bool idle_ = false;
  bool closed_ = false;
};

void HttpServer::Impl::do_accept() {
  acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != net::error::operation_aborted) fail(ec, "accept");
      if (!acceptor.is_open()) return;
    } else {
      auto session = std::make_shared<Session>(std::move(socket), *this);
      {
        std::lock_guard lock(sessions_mutex);
        sessions.insert(session);
      }
      session->start();
    }
    if (acceptor.is_open()) do_accept();
  });
}

void HttpServer::Impl::begin_drain() {
  if (draining.exchange(true)) return;
  beast::error_code ec;
  acceptor.close(ec);
  signals.cancel();
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(sessions_mutex);
    open.assign(sessions.begin(), sessions.end());
  }
  for (auto& s : open) s->close_when_idle();
  // In-flight requests get drain_timeout to finish; then the loop stops regardless.
  drain_timer.expires_after(limits.drain_timeout);
  drain_timer.async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec) io.stop();
  });
  // Stop the drain timer early once the last session is gone.
  auto poll = std::make_shared<net::steady_timer>(io);
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, poll, check] {
    std::size_t remaining;
    {
      std::lock_guard lock(sessions_mutex);
      remaining = sessions.size();
    }
    if (remaining == 0) {
      drain_timer.cancel();
      *check = nullptr;  // break the self-reference
      return;
    }
    poll->expires_after(std::chrono::milliseconds(20));
    poll->async_wait([check](beast::error_code) {
      if (*check) (*check)();
    });
  };
  (*check)();
}

HttpServer::HttpServer(const std::string& listen_address, RequestHandler handler, ServerLimits limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->limits = limits;
  auto endpoint = parse_endpoint(listen_address);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(net::socket_base::max_listen_connections);
}

HttpServer::~HttpServer() = default;

std::string HttpServer::local_address() const {
  auto ep = impl_->acceptor.local_endpoint();
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

void HttpServer::run(unsigned threads) {
  impl_->signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) impl_->begin_drain();
  });
  impl_->do_accept();
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& t : pool) t.join();
}

void HttpServer::stop() {
  net::post(impl_->io, [this] { impl_->begin_drain(); });
}

}  // namespace keyledger::api
