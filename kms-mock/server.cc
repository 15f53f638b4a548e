// The Beast side of the server, shaped like Beast's advanced server example.
// A listener accepts on its own strand and starts a session per connection.
// Each session has a Do/On pair per step, a timeout before every read and a
// body size limit, and handles one request at a time, in order.
#include "kms-mock/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <mutex>
#include <thread>
#include <vector>

namespace kms {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

HttpRequest ToApiRequest(const http::request<http::string_body>& request) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out.headers[name] = std::string(field.value());
  }
  out.body = request.body();
  return out;
}

http::response<http::string_body> ToBeastResponse(const HttpResponse& in,
                                                  unsigned version,
                                                  bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(in.status),
                                        version};
  out.set(http::field::server, "kms-mock");
  for (const auto& [name, value] : in.headers) out.set(name, value);
  out.body() = in.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// Logs a connection error that ends a session. Timeouts, resets and
// shutdown are routine for an HTTP server and logged at debug level only.
void Fail(beast::error_code error, const char* what) {
  if (error == net::error::operation_aborted ||
      error == beast::error::timeout || error == net::error::connection_reset ||
      error == net::error::eof) {
    spdlog::debug("kms server: {} ended the connection: {}", what,
                  error.message());
    return;
  }
  spdlog::warn("kms server: {} failed: {}", what, error.message());
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, KeyProtectApi& api,
          std::chrono::seconds timeout)
      : stream_(std::move(socket)), api_(api), timeout_(timeout) {}

  void Run() {
    // Starts on the session's strand, where every later handler runs.
    net::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBodyBytes);
    stream_.expires_after(timeout_);
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code error, size_t) {
    if (error == http::error::end_of_stream) return DoClose();
    if (error == http::error::body_limit) {
      // The rest of the body is never read, so the connection closes after
      // the response.
      return DoWrite(KeyProtectApi::BodyTooLarge(kMaxRequestBodyBytes),
                     parser_->get().version(), /*keep_alive=*/false);
    }
    if (error) return Fail(error, "read");

    const http::request<http::string_body>& request = parser_->get();
    DoWrite(api_.Handle(ToApiRequest(request)), request.version(),
            request.keep_alive());
  }

  void DoWrite(const HttpResponse& response, unsigned version,
               bool keep_alive) {
    response_ = std::make_shared<http::response<http::string_body>>(
        ToBeastResponse(response, version, keep_alive));
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this(),
                                  response_->need_eof()));
  }

  void OnWrite(bool close, beast::error_code error, size_t) {
    if (error) return Fail(error, "write");
    if (close) return DoClose();
    response_.reset();
    DoRead();
  }

  void DoClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  KeyProtectApi& api_;
  const std::chrono::seconds timeout_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& context, KeyProtectApi& api,
           std::chrono::seconds timeout)
      : context_(context),
        acceptor_(net::make_strand(context)),
        api_(api),
        timeout_(timeout) {}

  base::Status Open(const tcp::endpoint& endpoint) {
    beast::error_code error;
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(net::socket_base::reuse_address(true));
    if (!error) acceptor_.bind(endpoint, error);
    if (!error)
      acceptor_.listen(net::socket_base::max_listen_connections, error);
    if (error) {
      return base::UnavailableError(
          "cannot listen on " + endpoint.address().to_string() + ":" +
          std::to_string(endpoint.port()) + ": " + error.message());
    }
    return base::OkStatus();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void DoAccept() {
    acceptor_.async_accept(
        net::make_strand(context_),
        beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  // REQUIRES: no thread runs the I/O loop.
  void Close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void OnAccept(beast::error_code error, tcp::socket socket) {
    if (error == net::error::operation_aborted) return;
    if (error) {
      Fail(error, "accept");
    } else {
      std::make_shared<Session>(std::move(socket), api_, timeout_)->Run();
    }
    DoAccept();
  }

  net::io_context& context_;
  tcp::acceptor acceptor_;
  KeyProtectApi& api_;
  const std::chrono::seconds timeout_;
};

}  // namespace

struct Server::Impl {
  explicit Impl(int threads)
      : context(std::make_unique<net::io_context>(threads)) {}

  // Reset by Stop, which destroys the pending handlers and with them the
  // sessions and their sockets.
  std::unique_ptr<net::io_context> context;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::string address;
  std::once_flag stopped;
};

base::StatusOr<std::unique_ptr<Server>> Server::Start(
    KeyProtectApi& api, const ServerOptions& options) {
  beast::error_code error;
  net::ip::address address = net::ip::make_address(options.address, error);
  if (error) {
    return base::InvalidArgumentError("invalid listen address " +
                                      options.address);
  }
  int threads = std::max(1, options.threads);
  auto impl = std::make_unique<Impl>(threads);
  impl->listener =
      std::make_shared<Listener>(*impl->context, api, options.idle_timeout);
  RETURN_IF_ERROR(impl->listener->Open(tcp::endpoint(address, options.port)));
  impl->port = impl->listener->port();
  impl->address = options.address;
  impl->listener->DoAccept();

  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back(
        [context = impl->context.get()] { context->run(); });
  }
  spdlog::info("kms server: listening on http://{}:{}", impl->address,
               impl->port);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

void Server::Stop() {
  std::call_once(impl_->stopped, [this] {
    impl_->context->stop();
    for (std::thread& thread : impl_->threads) thread.join();
    // No thread runs handlers any more, so the acceptor can close here.
    // Destroying the loop then destroys the pending handlers, which own the
    // sessions, and so closes every open connection.
    impl_->listener->Close();
    impl_->listener.reset();
    impl_->context.reset();
    spdlog::info("kms server: stopped listening on http://{}:{}",
                 impl_->address, impl_->port);
  });
}

}  // namespace kms
