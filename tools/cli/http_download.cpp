#include "http_download.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <regex>

namespace keyledger::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto kTimeout = std::chrono::seconds(60);  // for each read: a stalled server ends it

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

template <class Stream>
std::expected<Download, std::string> exchange(Stream& stream, beast::tcp_stream& socket, const Url& url,
                                              const std::vector<std::pair<std::string, std::string>>& headers,
                                              const std::function<bool(std::string_view)>& sink) {
  http::request<http::empty_body> request{http::verb::get, url.target, 11};
  request.set(http::field::host, url.host);
  request.set(http::field::user_agent, "keyledger");
  for (const auto& [name, value] : headers) request.set(name, value);
  beast::error_code ec;
  socket.expires_after(kTimeout);
  http::write(stream, request, ec);
  if (ec) return std::unexpected("cannot send the request: " + ec.message());

  // Beast reads as much as the buffer has room for: without room made here it reads the
  // body 512 bytes at a time (a recv per 512 bytes of a backup).
  beast::flat_buffer buffer;
  buffer.reserve(1 << 20);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(stream, buffer, parser, ec);
  if (ec) return std::unexpected("no answer: " + ec.message());
  Download download;
  download.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) download.headers.emplace_back(field.name_string(), field.value());
  std::vector<char> piece(1 << 20);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    socket.expires_after(kTimeout);
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::unexpected("the answer ended before its body did: " + ec.message());
    const std::string_view got(piece.data(), piece.size() - parser.get().body().size);
    if (download.status != 200) {
      if (download.error_body.size() < (1u << 16)) download.error_body.append(got);
    } else if (!got.empty() && !sink(got)) {
      return std::unexpected(std::string("stopped: the body could not be kept"));
    }
  }
  return download;
}

}  // namespace

std::expected<Download, std::string> http_get(const std::string& url_text,
                                              const std::vector<std::pair<std::string, std::string>>& headers,
                                              const std::string& ca_file,
                                              const std::function<bool(std::string_view)>& sink) {
  auto url = parse_url(url_text);
  if (!url) return std::unexpected(url.error());
  net::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(url->host, url->port, ec);
  if (ec) return std::unexpected("cannot resolve " + url->host + ": " + ec.message());
  if (!url->tls) {
    beast::tcp_stream stream(io);
    stream.expires_after(kTimeout);
    stream.connect(endpoints, ec);
    if (ec) return std::unexpected("cannot connect to " + url->host + ":" + url->port + ": " + ec.message());
    return exchange(stream, stream, *url, headers, sink);
  }
  net::ssl::context context(net::ssl::context::tls_client);
  context.set_verify_mode(net::ssl::verify_peer);
  if (ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(ca_file, ec);
  }
  if (ec) return std::unexpected("cannot load the CA certificates: " + ec.message());
  beast::ssl_stream<beast::tcp_stream> stream(io, context);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str())) {
    return std::unexpected("cannot set the TLS server name " + url->host);
  }
  stream.set_verify_callback(net::ssl::host_name_verification(url->host));
  auto& socket = beast::get_lowest_layer(stream);
  socket.expires_after(kTimeout);
  socket.connect(endpoints, ec);
  if (ec) return std::unexpected("cannot connect to " + url->host + ":" + url->port + ": " + ec.message());
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) return std::unexpected("TLS handshake with " + url->host + " failed: " + ec.message());
  return exchange(stream, socket, *url, headers, sink);
}

}  // namespace keyledger::cli
