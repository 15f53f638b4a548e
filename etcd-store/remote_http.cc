// The etcd Store's HTTP client on Boost.Beast. Each connection owns an
// io_context and runs it only inside a call, so a call is a plain blocking
// function with a deadline. Watch streams read with blocking socket calls,
// which Shutdown interrupts.
#include "etcd-store/remote_http.h"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <memory>
#include <string>
#include <utility>

namespace etcd::remote_internal {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// The maximum response size. Ranges over many keys are large, and etcd
// itself caps a response only at gRPC's maximum message size (2 GiB).
constexpr uint64_t kMaxResponseBytes = uint64_t{1} << 30;

base::Status Unavailable(const Endpoint& endpoint, const std::string& what,
                         const beast::error_code& ec) {
  return base::UnavailableError("etcd-store: " + what + " " +
                                endpoint.ToString() +
                                " failed: " + ec.message());
}

// Runs the operations started on `ioc` until they finish.
void RunAll(net::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

beast::error_code ConnectStream(net::io_context& ioc, beast::tcp_stream& stream,
                                const Endpoint& endpoint,
                                std::chrono::milliseconds timeout) {
  tcp::resolver resolver(ioc);
  beast::error_code result = net::error::timed_out;
  resolver.async_resolve(
      endpoint.host, std::to_string(endpoint.port),
      [&](beast::error_code ec, tcp::resolver::results_type endpoints) {
        if (ec) {
          result = ec;
          return;
        }
        stream.expires_after(timeout);
        stream.async_connect(
            endpoints, [&](beast::error_code connect_ec, const tcp::endpoint&) {
              result = connect_ec;
            });
      });
  RunAll(ioc);
  if (!result) stream.socket().set_option(tcp::no_delay(true), result);
  return result;
}

http::request<http::string_body> MakePost(const Endpoint& endpoint,
                                          const std::string& path,
                                          const std::string& body) {
  http::request<http::string_body> request(http::verb::post, path, 11);
  request.set(http::field::host, endpoint.ToString());
  request.set(http::field::content_type, "application/json");
  request.keep_alive(true);
  request.body() = body;
  request.prepare_payload();
  return request;
}

class BeastConnection final : public HttpConnection {
 public:
  explicit BeastConnection(Endpoint endpoint)
      : endpoint_(std::move(endpoint)), stream_(ioc_) {}

  base::Status Connect(std::chrono::milliseconds timeout) {
    beast::error_code ec = ConnectStream(ioc_, stream_, endpoint_, timeout);
    if (ec) return Unavailable(endpoint_, "connecting to", ec);
    return base::OkStatus();
  }

  base::StatusOr<HttpResult> Post(const std::string& path,
                                  const std::string& body,
                                  std::chrono::milliseconds timeout,
                                  bool& request_sent) override {
    request_sent = false;
    http::request<http::string_body> request = MakePost(endpoint_, path, body);
    beast::error_code ec = net::error::timed_out;
    size_t written = 0;
    stream_.expires_after(timeout);
    http::async_write(stream_, request,
                      [&](beast::error_code result, size_t bytes) {
                        ec = result;
                        written = bytes;
                      });
    RunAll(ioc_);
    // A partial write may have been enough for the server to act on.
    request_sent = written > 0 || !ec;
    if (ec) return Fail("sending a request to", ec);

    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    ec = net::error::timed_out;
    http::async_read(stream_, buffer_, parser,
                     [&](beast::error_code result, size_t) { ec = result; });
    RunAll(ioc_);
    if (ec) return Fail("reading a response from", ec);

    http::response<http::string_body> response = parser.release();
    if (!response.keep_alive()) broken_ = true;
    return HttpResult{static_cast<int>(response.result_int()),
                      std::move(response.body())};
  }

  bool IsBroken() override {
    if (broken_) return true;
    // An idle connection has nothing to read; readable means the server
    // closed it (end of file) or broke the protocol.
    pollfd fd{stream_.socket().native_handle(), POLLIN, 0};
    if (::poll(&fd, 1, 0) != 0) broken_ = true;
    return broken_;
  }

 private:
  base::Status Fail(const std::string& what, const beast::error_code& ec) {
    broken_ = true;
    return Unavailable(endpoint_, what, ec);
  }

  const Endpoint endpoint_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool broken_ = false;
};

class BeastLineStream final : public HttpLineStream {
 public:
  explicit BeastLineStream(Endpoint endpoint)
      : endpoint_(std::move(endpoint)), stream_(ioc_) {}

  base::Status Open(const std::string& path, const std::string& body,
                    std::chrono::milliseconds timeout) {
    beast::error_code ec = ConnectStream(ioc_, stream_, endpoint_, timeout);
    if (ec) return Unavailable(endpoint_, "connecting to", ec);
    fd_.store(stream_.socket().native_handle());

    http::request<http::string_body> request = MakePost(endpoint_, path, body);
    ec = net::error::timed_out;
    stream_.expires_after(timeout);
    http::async_write(stream_, request,
                      [&](beast::error_code result, size_t) { ec = result; });
    RunAll(ioc_);
    if (ec) return Unavailable(endpoint_, "sending a watch to", ec);

    ec = net::error::timed_out;
    parser_.body_limit(boost::none);
    http::async_read_header(
        stream_, buffer_, parser_,
        [&](beast::error_code result, size_t) { ec = result; });
    RunAll(ioc_);
    if (ec) return Unavailable(endpoint_, "reading a watch response from", ec);
    stream_.expires_never();
    if (parser_.get().result_int() != 200) {
      return base::UnavailableError("etcd-store: " + endpoint_.ToString() +
                                    " answered a watch with " +
                                    std::to_string(parser_.get().result_int()));
    }
    return base::OkStatus();
  }

  base::StatusOr<std::string> ReadLine() override {
    while (true) {
      size_t newline = pending_.find('\n');
      if (newline != std::string::npos) {
        std::string line = pending_.substr(0, newline);
        pending_.erase(0, newline + 1);
        return line;
      }
      if (parser_.is_done()) {
        return base::UnavailableError("etcd-store: " + endpoint_.ToString() +
                                      " ended a watch stream");
      }
      char chunk[16 * 1024];
      parser_.get().body().data = chunk;
      parser_.get().body().size = sizeof(chunk);
      beast::error_code ec;
      http::read_some(stream_.socket(), buffer_, parser_, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return Unavailable(endpoint_, "reading a watch stream from", ec);
      pending_.append(chunk, sizeof(chunk) - parser_.get().body().size);
    }
  }

  void Shutdown() override {
    int fd = fd_.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  const Endpoint endpoint_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::string pending_;
  std::atomic<int> fd_{-1};
};

}  // namespace

std::string Endpoint::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

base::StatusOr<Endpoint> ParseEndpoint(const std::string& text) {
  auto invalid = [&text] {
    return base::InvalidArgumentError("etcd-store: invalid etcd endpoint \"" +
                                      text + "\"; expected host:port");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid();
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return invalid();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return invalid();
  }
  std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return invalid();
  }
  return Endpoint{host, static_cast<uint16_t>(port)};
}

base::StatusOr<std::unique_ptr<HttpConnection>> HttpConnection::Connect(
    const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  auto connection = std::make_unique<BeastConnection>(endpoint);
  RETURN_IF_ERROR(connection->Connect(timeout));
  return std::unique_ptr<HttpConnection>(std::move(connection));
}

base::StatusOr<std::unique_ptr<HttpLineStream>> HttpLineStream::Open(
    const Endpoint& endpoint, const std::string& path, const std::string& body,
    std::chrono::milliseconds timeout) {
  auto stream = std::make_unique<BeastLineStream>(endpoint);
  RETURN_IF_ERROR(stream->Open(path, body, timeout));
  return std::unique_ptr<HttpLineStream>(std::move(stream));
}

}  // namespace etcd::remote_internal
