#include "http_server.hpp"

#include "eventstore/thread_name.hpp"
#include "problem.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <future>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace keyledger::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Names each thread of a pool that has just started: one job a thread, each held until all
// have begun, so that every thread takes exactly one.
void name_threads(net::thread_pool& pool, unsigned threads, const char* name) {
  auto started = std::make_shared<std::latch>(threads);
  for (unsigned i = 0; i < threads; ++i) {
    net::post(pool, [started, name] {
      name_this_thread(name);
      started->arrive_and_wait();
    });
  }
  started->wait();
}

void fail(beast::error_code ec, const char* what) {
  // Client disconnects and timeouts are ordinary; only report what an operator can act on.
  if (ec == net::error::operation_aborted || ec == beast::error::timeout || ec == net::error::connection_reset ||
      ec == net::error::eof || ec == http::error::end_of_stream || ec == ssl::error::stream_truncated ||
      ec == net::error::broken_pipe) {
    return;
  }
  std::cerr << std::string(R"({"level":"warn","msg":"connection error","where":")") + what + R"(","error":")" +
                   ec.message() + "\"}\n";
}

tcp::endpoint parse_endpoint(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("listen address must be HOST:PORT, got " + address);
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    port = std::stoul(address.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("listen port must be a number, got " + address);
  }
  if (port > 65535) throw std::runtime_error("listen port out of range: " + address);
  beast::error_code ec;
  auto ip = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw std::runtime_error("listen host must be an IP address, got " + host);
  return {ip, static_cast<unsigned short>(port)};
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close_when_idle() = 0;
};

}  // namespace

struct HttpServer::Impl {
  RequestHandler handler;
  ServerOptions options;
  // One io_context per I/O thread, each run by that thread alone: a connection lives on one
  // of them, so its handlers never run at once and need no strand. `io` (the first) also
  // holds the acceptor, the signals and the drain.
  net::io_context io{1};
  std::vector<std::unique_ptr<net::io_context>> more_io;  // the other threads'
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  std::atomic<std::size_t> next_io{0};
  net::io_context& io_for_connection() {
    const std::size_t i = next_io.fetch_add(1, std::memory_order_relaxed) % (more_io.size() + 1);
    return i == 0 ? io : *more_io[i - 1];
  }
  std::atomic<bool> stopped{false};  // the loops were stopped: posted handlers will not run
  void stop_all() {
    stopped = true;
    keep_running.clear();
    io.stop();
    for (auto& other : more_io) other->stop();
  }
  // The acceptor, the signals and the drain run on this one strand: closing the acceptor
  // while an accept completes on another thread would be a data race.
  net::strand<net::io_context::executor_type> control{net::make_strand(io)};
  std::optional<net::thread_pool> workers;
  std::optional<net::thread_pool> streamers;  // each writes one streamed body at a time
  // One thread per long-lived stream; a finished one is joined when the next starts, the
  // rest at the end.
  struct LongLived {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex long_lived_mutex;
  std::vector<LongLived> long_lived;
  std::atomic<unsigned> long_lived_open{0};
  void start_long_lived(std::function<void()> body) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard lock(long_lived_mutex);
    std::erase_if(long_lived, [](LongLived& l) {
      if (!*l.done) return false;
      l.thread.join();
      return true;
    });
    long_lived.push_back({std::thread([body = std::move(body), done] {
                            // A stream takes the CPU that commands leave: at the lowest
                            // priority, a reader waking up never preempts a command's thread.
                            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
                            name_this_thread("kl-event-stream");
                            body();
                            *done = true;
                          }),
                          done});
  }
  void join_long_lived() {
    std::vector<LongLived> threads;
    {
      std::lock_guard lock(long_lived_mutex);
      threads.swap(long_lived);
    }
    for (auto& l : threads) l.thread.join();
  }
  std::mutex workers_mutex;     // post() against the end of run()
  bool workers_closed = false;  // run() returned: post() runs jobs at once
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor{control};
  net::signal_set signals{control, SIGTERM, SIGINT};
  net::steady_timer drain_timer{control};
  net::steady_timer drain_poll{control};
  std::atomic<bool> draining{false};
  std::mutex sessions_mutex;
  std::set<std::shared_ptr<SessionBase>> sessions;

  void do_accept();
  void begin_drain();
  void poll_until_drained();
  void forget(const std::shared_ptr<SessionBase>& session) {
    std::lock_guard lock(sessions_mutex);
    if (sessions.erase(session) && options.open_connections) options.open_connections->fetch_sub(1);
  }
};

namespace {

// One connection: read a request, answer it, repeat while keep-alive holds. Runs on one
// I/O thread's io_context, so at most one of its handlers executes at a time. Requests are answered one at a
// time, in order: a pipelining client waits, and its unread requests stay in the kernel's
// buffers (bounded by the socket) rather than ours.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(HttpServer::Impl& server, Args&&... args) : stream_(std::forward<Args>(args)...), server_(server) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        self->do_read();
      } else {
        beast::get_lowest_layer(self->stream_).expires_after(self->server_.options.limits.read_timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) {
            fail(ec, "handshake");
            return self->close();
          }
          self->do_read();
        });
      }
    });
  }

  void close_when_idle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->close();
    });
  }

 private:
  const ServerLimits& limits() const { return server_.options.limits; }

  void do_read() {
    if (server_.draining) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().header_limit));
    parser_->body_limit(limits().body_limit);
    if (buffer_.size() > 0) {
      beast::error_code ec;
      if (parse_buffered(ec)) return on_read(ec);
      return read_request();
    }
    // Waiting for the first byte of a request: the keep-alive idle timeout applies.
    idle_ = true;
    beast::get_lowest_layer(stream_).expires_after(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->idle_ = false;
                              if (ec) {
                                fail(ec, "read");
                                return self->close();
                              }
                              self->buffer_.commit(n);
                              // Usually the whole request came in this one read: answer it
                              // without another asynchronous round.
                              beast::error_code parse_ec;
                              if (self->parse_buffered(parse_ec)) return self->on_read(parse_ec);
                              self->read_request();
                            });
  }

  // Feeds the buffered bytes to the parser. True when that settled the request: parsed
  // whole, or malformed (`ec`); false when more bytes must be read.
  bool parse_buffered(beast::error_code& ec) {
    while (buffer_.size() > 0 && !parser_->is_done()) {
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        return false;
      }
      if (ec) return true;
      if (used == 0) return false;
    }
    return parser_->is_done();
  }

  // The whole request must arrive within read_timeout of its first byte (no slowloris).
  void read_request() {
    beast::get_lowest_layer(stream_).expires_after(limits().read_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return write(problem_response({413, "payload_too_large", "request bodies are limited to 64 KiB", "", {}}),
                   false, 11);
    }
    if (ec == http::error::header_limit) {
      return write(problem_response({431, "headers_too_large", "request headers are too large", "", {}}),
                   false, 11);
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return close();
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return write(problem_response(invalid_request("", "malformed HTTP request")), false, 11);
    }
    if (ec) {
      fail(ec, "read");
      return close();
    }
    auto& req = parser_->get();
    if (answer_inline(req)) return;
    auto request = std::make_shared<HttpRequest>();
    request->method = std::string(req.method_string());
    request->target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request->headers[name] = std::string(field.value());
    }
    request->body = std::move(req.body());
    request->remote_ip = remote_ip();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    if (server_.options.answers_inline(*request)) return call_handler(std::move(request), keep_alive, version);
    // May wait on the log: started on the worker pool; the answer comes back to this
    // session's thread from wherever the handler finished.
    net::post(*server_.workers, [self = this->shared_from_this(), request = std::move(request), keep_alive, version]() mutable {
      self->call_handler(std::move(request), keep_alive, version);
    });
  }

  // The inline endpoint's route, answered from Beast's parsed message with the response
  // written from this session's own buffer, under the timer already running for this
  // request. False when the request is not for it or it declined.
  bool answer_inline(const http::request<http::string_body>& req) {
    InlineEndpoint* endpoint = server_.options.inline_endpoint;
    if (!endpoint || req.method() != http::verb::post || req.target() != server_.options.inline_path) return false;
    auto header = [&](http::field f) {
      auto it = req.find(f);
      return it == req.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
    };
    auto x_request_id = req.find("x-request-id");
    InlineEndpoint::Request request{
        header(http::field::authorization),
        x_request_id == req.end() ? std::string_view() : std::string_view(x_request_id->value().data(), x_request_id->value().size()),
        std::string_view(req.body())};
    body_.clear();
    request_id_.clear();
    if (!endpoint->answer(request, body_, request_id_)) return false;
    const bool keep_alive = req.keep_alive() && !server_.draining;
    const bool http10 = req.version() == 10;
    out_.clear();
    out_ += http10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
    out_ += "Server: keyledger\r\nContent-Type: application/json\r\nX-Request-Id: ";
    out_ += request_id_;
    out_ += "\r\nContent-Length: ";
    out_ += std::to_string(body_.size());
    if (http10 && keep_alive) out_ += "\r\nConnection: keep-alive";
    if (!http10 && !keep_alive) out_ += "\r\nConnection: close";
    out_ += "\r\n\r\n";
    out_ += body_;
    net::async_write(stream_, net::buffer(out_), [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      if (ec) {
        fail(ec, "write");
        return self->close();
      }
      if (!keep_alive) return self->close();
      self->do_read();
    });
    return true;
  }

  // Hands the request to the handler; its answer is written on this session's thread, or a
  // streamed one produced on the worker pool (its body may take long).
  void call_handler(std::shared_ptr<HttpRequest> request, bool keep_alive, unsigned version) {
    auto answer = [self = this->shared_from_this(), keep_alive, version](HttpResponse response) {
      auto shared = std::make_shared<HttpResponse>(std::move(response));
      if (shared->stream && shared->long_lived) {
        auto& server = self->server_;
        if (server.long_lived_open.fetch_add(1) >= server.options.max_long_lived_streams) {
          --server.long_lived_open;
          *shared = problem_response({503, "too_many_streams", "too many event streams are open; retry later", "", {}});
          shared->headers.emplace_back("Retry-After", "5");
        } else {
          return server.start_long_lived([self, shared, keep_alive, version] {
            self->write_stream(*shared, keep_alive, version);
            --self->server_.long_lived_open;
          });
        }
      }
      if (shared->stream) {
        return net::post(*self->server_.streamers, [self, shared, keep_alive, version] {
          self->write_stream(*shared, keep_alive, version);
        });
      }
      net::post(self->stream_.get_executor(), [self, shared, keep_alive, version] {
        self->write(std::move(*shared), keep_alive, version);
      });
    };
    try {
      server_.handler(std::move(request), answer);
    } catch (const std::exception&) {
      std::cerr << R"({"level":"error","msg":"handler failed"})" "\n";
      answer(problem_response({500, "internal_error", "the request failed", "", {}}));
    }
  }

  void write(HttpResponse response, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), version);
    res->set(http::field::server, "keyledger");
    res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->set(name, value);
    res->keep_alive(keep_alive && !server_.draining);
    res->body() = std::move(response.body);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(limits().read_timeout);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) {
        fail(ec, "write");
        return self->close();
      }
      if (res->need_eof()) return self->close();
      self->do_read();
    });
  }

  // Posts `start(done)` to the session's thread; the future gets the error code `done` is
  // called with. Each piece has read_timeout to be written; between pieces (the producer
  // may wait for the next, as an event stream does) no deadline runs.
  template <class Start>
  std::future<beast::error_code> post_step(Start start) {
    auto finished = std::make_shared<std::promise<beast::error_code>>();
    auto result = finished->get_future();
    net::post(stream_.get_executor(), [this, start, finished] {
      beast::get_lowest_layer(stream_).expires_after(limits().read_timeout);
      start([this, finished](beast::error_code ec) {
        beast::get_lowest_layer(stream_).expires_never();
        finished->set_value(ec);
      });
    });
    return result;
  }
  // Waits for a posted step. Gives up once the server's loops were stopped (the drain's time
  // ran out): the step will then never run, and waiting for it would hold the thread, and
  // the exit, for ever. (A step that never ran is destroyed with the loop, touching nothing
  // of ours.)
  beast::error_code wait_step(std::future<beast::error_code>& step) {
    while (step.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (server_.stopped) return net::error::operation_aborted;
    }
    return step.get();
  }
  template <class Start>
  beast::error_code on_strand(Start start) {
    auto step = post_step(start);
    return wait_step(step);
  }

  // On a streaming thread: a chunked response whose body comes from response.stream. The
  // next piece is produced while the previous one is written (two buffers), and the thread
  // runs at the lowest priority: a body streams with the CPU that commands leave.
  void write_stream(HttpResponse& response, bool keep_alive, unsigned version) {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
    http::response<http::empty_body> res{static_cast<http::status>(response.status), version};
    res.set(http::field::server, "keyledger");
    res.set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(keep_alive && !server_.draining);
    res.chunked(true);
    http::response_serializer<http::empty_body> serializer{res};
    auto ec = on_strand([&](auto done) {
      http::async_write_header(stream_, serializer, [done](beast::error_code e, std::size_t) { done(e); });
    });
    std::string pieces[2];
    std::size_t next = 0;
    std::optional<std::future<beast::error_code>> writing;
    while (!ec) {
      std::string& piece = pieces[next];
      piece.clear();
      const bool more = response.stream(piece);
      if (writing) {
        ec = wait_step(*writing);
        writing.reset();
      }
      if (!more || ec) break;
      if (piece.empty()) continue;
      writing = post_step([&](auto done) {
        net::async_write(stream_, http::make_chunk(net::buffer(piece)), [done](beast::error_code e, std::size_t) { done(e); });
      });
      next ^= 1;
    }
    if (writing) {
      const auto written = wait_step(*writing);
      if (!ec) ec = written;
    }
    if (!ec) {
      ec = on_strand([&](auto done) {
        net::async_write(stream_, http::make_chunk_last(), [done](beast::error_code e, std::size_t) { done(e); });
      });
    }
    bool reuse = !ec && res.keep_alive();
    net::post(stream_.get_executor(), [self = this->shared_from_this(), reuse] {
      if (reuse) return self->do_read();
      self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
    server_.forget(this->shared_from_this());
  }

  // The connection's peer address, asked of the socket once (a getpeername each request
  // before): empty when the socket could not say.
  const std::string& remote_ip() {
    if (!remote_ip_) {
      beast::error_code ec;
      auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
      remote_ip_ = ec ? std::string() : remote.address().to_string();
    }
    return *remote_ip_;
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<std::string> remote_ip_;
  std::string body_, request_id_, out_;  // the inline endpoint's answer, reused request after request
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  bool idle_ = false;
  bool closed_ = false;
};

}  // namespace

void HttpServer::Impl::do_accept() {
  acceptor.async_accept(io_for_connection(), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != net::error::operation_aborted) fail(ec, "accept");
      if (!acceptor.is_open()) return;
    } else {
      // Registered before it starts: a session may finish (and forget itself) on another
      // thread before this handler would otherwise get to it.
      auto track = [this](const std::shared_ptr<SessionBase>& s) {
        std::lock_guard lock(sessions_mutex);
        sessions.insert(s);
        if (options.open_connections) options.open_connections->fetch_add(1);
      };
      if (tls) {
        auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket), *tls);
        track(s);
        s->start();
      } else {
        auto s = std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket));
        track(s);
        s->start();
      }
    }
    if (acceptor.is_open()) do_accept();
  });
}

void HttpServer::Impl::begin_drain() {
  if (draining.exchange(true)) return;
  if (options.on_drain) options.on_drain();
  beast::error_code ec;
  acceptor.close(ec);
  signals.cancel();
  std::vector<std::shared_ptr<SessionBase>> open;
  {
    std::lock_guard lock(sessions_mutex);
    open.assign(sessions.begin(), sessions.end());
  }
  for (auto& s : open) s->close_when_idle();
  // In-flight requests get drain_timeout to finish; then the loop stops regardless.
  drain_timer.expires_after(options.limits.drain_timeout);
  drain_timer.async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec) stop_all();
  });
  poll_until_drained();
}

// Polls until the last session is gone, then lets the loops run out of work. A member
// timer rather than a self-referencing closure: when the drain timeout stops the loops
// first, the pending wait is simply destroyed with them and nothing is left behind.
void HttpServer::Impl::poll_until_drained() {
  std::size_t remaining;
  {
    std::lock_guard lock(sessions_mutex);
    remaining = sessions.size();
  }
  if (remaining == 0) {
    drain_timer.cancel();
    keep_running.clear();  // the other threads' loops may run out of work now
    return;
  }
  drain_poll.expires_after(std::chrono::milliseconds(20));
  drain_poll.async_wait([this](beast::error_code ec) {
    if (!ec) poll_until_drained();
  });
}

void HttpServer::post(std::move_only_function<void()> job) {
  {
    std::lock_guard lock(impl_->workers_mutex);
    if (!impl_->workers_closed) return net::post(*impl_->workers, std::move(job));
  }
  job();  // the pool is gone: whoever posts runs it (a command completing after the drain)
}

HttpServer::HttpServer(const std::string& listen_address, RequestHandler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->options = std::move(options);
  impl_->workers.emplace(std::max(1u, impl_->options.worker_threads));
  name_threads(*impl_->workers, std::max(1u, impl_->options.worker_threads), "kl-worker");
  impl_->streamers.emplace(std::max(1u, impl_->options.stream_threads));
  name_threads(*impl_->streamers, std::max(1u, impl_->options.stream_threads), "kl-stream");
  if (!impl_->options.tls_cert_file.empty() || !impl_->options.tls_key_file.empty()) {
    if (impl_->options.tls_cert_file.empty() || impl_->options.tls_key_file.empty()) {
      throw std::runtime_error("HTTPS needs both KEYLEDGER_TLS_CERT and KEYLEDGER_TLS_KEY");
    }
    impl_->tls.emplace(ssl::context::tls_server);
    impl_->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    impl_->tls->use_certificate_chain_file(impl_->options.tls_cert_file, ec);
    if (ec) throw std::runtime_error("cannot load TLS certificate " + impl_->options.tls_cert_file + ": " + ec.message());
    impl_->tls->use_private_key_file(impl_->options.tls_key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load TLS key " + impl_->options.tls_key_file + ": " + ec.message());
  }
  auto endpoint = parse_endpoint(listen_address);
  beast::error_code ec;
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + listen_address + ": " + ec.message());
}

HttpServer::~HttpServer() {
  if (impl_->workers) impl_->workers->join();
  if (impl_->streamers) impl_->streamers->join();
  impl_->join_long_lived();
}

std::string HttpServer::local_address() const {
  auto ep = impl_->acceptor.local_endpoint();
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

bool HttpServer::tls() const { return impl_->tls.has_value(); }

void HttpServer::run(unsigned threads) {
  impl_->signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) impl_->begin_drain();
  });
  for (unsigned i = 1; i < threads; ++i) {
    impl_->more_io.push_back(std::make_unique<net::io_context>(1));
    impl_->keep_running.push_back(net::make_work_guard(*impl_->more_io.back()));
  }
  net::dispatch(impl_->control, [this] { impl_->do_accept(); });
  std::vector<std::thread> pool;
  for (auto& other : impl_->more_io) {
    pool.emplace_back([&other] {
      name_this_thread("kl-io");
      other->run();
    });
  }
  impl_->io.run();
  for (auto& t : pool) t.join();
  {
    std::lock_guard lock(impl_->workers_mutex);
    impl_->workers_closed = true;
  }
  impl_->workers->join();  // after what was posted before it closed
  impl_->streamers->join();
  impl_->join_long_lived();
}

void HttpServer::stop() {
  net::post(impl_->control, [this] { impl_->begin_drain(); });
}

}  // namespace keyledger::api
