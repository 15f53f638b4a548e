// The Beast side of the HTTPS server, shaped like Beast's advanced server
// example. A listener accepts on its own strand and starts a session per
// connection. Each session does the TLS handshake and then reads one request
// at a time, with a timeout before every read and a body size limit.
#include "apiserver/http_server.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "apiserver/tls_certificates.h"
#include "base/beast_http.h"
#include "base/crypto.h"
#include "base/http.h"

namespace apiserver {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

ApiRequest ToApiRequest(const http::request<http::string_body>& request) {
  ApiRequest out;
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

http::response<http::string_body> ToBeastResponse(const ApiResponse& in,
                                                  unsigned version,
                                                  bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(in.status),
                                        version};
  out.set(http::field::content_type, in.content_type);
  out.set(http::field::cache_control, "no-cache, private");
  for (const auto& [name, value] : in.headers) out.insert(name, value);
  out.body() = in.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

ApiResponse BodyTooLarge() {
  ApiResponse response;
  response.status = 413;
  response.body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"Request entity too large: limit is )" +
      std::to_string(kMaxApiRequestBodyBytes) +
      R"(","reason":"RequestEntityTooLarge","code":413})";
  return response;
}

// Logs an error that ends a session. Timeouts, resets, shutdowns and
// clients that reject the certificate are routine, so they go to debug.
void Fail(beast::error_code error, const char* what) {
  if (error == net::error::operation_aborted ||
      error == beast::error::timeout || error == net::error::connection_reset ||
      error == net::error::eof || error == ssl::error::stream_truncated ||
      error.category() == net::error::get_ssl_category()) {
    spdlog::debug("apiserver: {} ended the connection: {}", what,
                  error.message());
    return;
  }
  spdlog::warn("apiserver: {} failed: {}", what, error.message());
}

base::Status ConfigureTls(ssl::context& tls, const std::string& certificate,
                          const std::string& private_key) {
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                  ssl::context::no_tlsv1_1);
  beast::error_code error;
  tls.use_certificate_chain(net::buffer(certificate.data(), certificate.size()),
                            error);
  if (!error) {
    tls.use_private_key(net::buffer(private_key.data(), private_key.size()),
                        ssl::context::pem, error);
  }
  if (error) {
    return base::InvalidArgumentError("invalid TLS certificate or key: " +
                                      error.message());
  }
  return base::OkStatus();
}

ApiResponse ServiceUnavailable() {
  ApiResponse response;
  response.status = 503;
  response.body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"the server is currently unable to handle the request",)"
      R"("reason":"ServiceUnavailable","code":503})";
  return response;
}

// What the listener and every session share: the handler, the mode and the
// sessions that got no response while the server hangs.
struct ServerCore {
  RequestHandler handler;
  // Runs the handler of requests other than GET and HEAD. Stop destroys it
  // after the I/O threads have stopped.
  std::optional<net::thread_pool> handler_pool;
  std::function<ApiResponse()> body_too_large;  // unset: BodyTooLarge()
  std::chrono::seconds timeout{60};
  std::atomic<ServeMode> mode{ServeMode::kServe};

  // Adds a function that closes a parked session; it owns the session.
  void Park(std::function<void()> close) {
    std::lock_guard lock(parked_mu);
    parked.push_back(std::move(close));
  }
  // Closes every parked session (from any thread).
  void CloseParked() {
    std::vector<std::function<void()>> closers;
    {
      std::lock_guard lock(parked_mu);
      closers.swap(parked);
    }
    for (auto& close : closers) close();
  }
  // Drops the parked sessions without running them. REQUIRES: no thread
  // runs the I/O loop.
  void DropParked() {
    std::lock_guard lock(parked_mu);
    parked.clear();
  }

  std::mutex parked_mu;
  std::vector<std::function<void()>> parked;  // guarded by parked_mu

  // Counts a request given to the handler pool until its response is
  // written or its connection ends, which releases the returned token.
  std::shared_ptr<void> BeginReply() {
    {
      std::lock_guard lock(replies_mu);
      ++pending_replies;
    }
    return std::shared_ptr<void>(nullptr, [this](void*) {
      std::lock_guard lock(replies_mu);
      if (--pending_replies == 0) replies_done.notify_all();
    });
  }
  // Waits until no reply is pending, or for `timeout`.
  void AwaitReplies(std::chrono::milliseconds timeout) {
    std::unique_lock lock(replies_mu);
    replies_done.wait_for(lock, timeout,
                          [this] { return pending_replies == 0; });
  }

  std::mutex replies_mu;
  std::condition_variable replies_done;
  int pending_replies = 0;  // guarded by replies_mu
};

// One connection, over TLS (Stream is an ssl::stream) or plain TCP.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Session(tcp::socket&& socket, ssl::context* tls, ServerCore& core)
      : stream_(MakeStream(std::move(socket), tls)), core_(core) {}

  ~Session() { StopStream(); }

  void Run() {
    // Starts on the session's strand, where every later handler runs.
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Start, Self()));
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      (void)tls;
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() { return this->shared_from_this(); }

  void Start() {
    if (core_.mode.load() == ServeMode::kHang) return Park();
    if constexpr (kTls) {
      DoHandshake();
    } else {
      DoRead();
    }
  }

  // Leaves the connection open without a response until the mode changes.
  void Park() {
    beast::get_lowest_layer(stream_).expires_never();
    std::shared_ptr<Session> self = Self();
    core_.Park([self] {
      net::post(self->stream_.get_executor(), [self] {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().close(ignored);
      });
    });
  }

  void DoHandshake() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(core_.timeout);
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, Self()));
    }
  }

  void OnHandshake(beast::error_code error) {
    if (error) return Fail(error, "TLS handshake");
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kMaxApiRequestBodyBytes);
    beast::get_lowest_layer(stream_).expires_after(core_.timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, Self()));
  }

  void OnRead(beast::error_code error, size_t) {
    if (error == http::error::end_of_stream) return DoClose();
    if (error == http::error::body_limit) {
      // The rest of the body is never read, so the connection closes after
      // the response.
      return DoWrite(
          core_.body_too_large ? core_.body_too_large() : BodyTooLarge(),
          parser_->get().version(), /*keep_alive=*/false);
    }
    if (error) return RejectUnreadable(error);

    const http::request<http::string_body>& request = parser_->get();
    switch (core_.mode.load()) {
      case ServeMode::kServe:
        break;
      case ServeMode::kUnavailable:
        return DoWrite(ServiceUnavailable(), request.version(),
                       request.keep_alive());
      case ServeMode::kRefuse: {
        beast::error_code ignored;
        beast::get_lowest_layer(stream_).socket().close(ignored);
        return;
      }
      case ServeMode::kTimeout:
      case ServeMode::kHang:
        return Park();
    }
    // Reads run here, because the hop to the handler pool and back cost
    // GETs about a fifth of their throughput in apiserver_bench. NOTE: a
    // read whose DEK seed is not cached waits here for the KMS to unwrap
    // it, and so holds up this I/O thread.
    if (request.method() == http::verb::get ||
        request.method() == http::verb::head) {
      return OnHandled(core_.handler(ToApiRequest(request)), request.version(),
                       request.keep_alive());
    }
    // A write waits until the store has synced it, so it runs on the
    // handler pool, and the I/O threads go on serving other connections,
    // whose writes can share that sync. This connection reads nothing more
    // until it responds.
    net::post(*core_.handler_pool,
              [self = Self(), api_request = ToApiRequest(request),
               version = request.version(), keep_alive = request.keep_alive(),
               reply = core_.BeginReply()]() mutable {
                ApiResponse response = self->core_.handler(api_request);
                auto executor = self->stream_.get_executor();
                net::post(
                    executor,
                    [self = std::move(self), response = std::move(response),
                     version, keep_alive, reply = std::move(reply)]() mutable {
                      self->pending_reply_ = std::move(reply);
                      self->OnHandled(std::move(response), version, keep_alive);
                    });
              });
  }

  void OnHandled(ApiResponse response, unsigned version, bool keep_alive) {
    if (response.stream) {
      pending_reply_.reset();  // a stream has no end to wait for
      return DoWriteStreamHeader(std::move(response.stream), version);
    }
    DoWrite(response, version, keep_alive);
  }

  // Replies to a request that could not be read as kube-apiserver's Go
  // HTTP server does, a plain-text 400 or 431, unless the server is
  // unreachable by its mode. A timeout or a reset closes silently.
  void RejectUnreadable(beast::error_code error) {
    std::optional<std::string> reply = base::GoReplyToUnreadableRequest(error);
    if (!reply) return Fail(error, "read");
    switch (core_.mode.load()) {
      case ServeMode::kServe:
      case ServeMode::kUnavailable:
        break;
      case ServeMode::kRefuse: {
        beast::error_code ignored;
        beast::get_lowest_layer(stream_).socket().close(ignored);
        return;
      }
      case ServeMode::kTimeout:
      case ServeMode::kHang:
        return Park();
    }
    raw_reply_ = std::make_shared<std::string>(std::move(*reply));
    beast::get_lowest_layer(stream_).expires_after(core_.timeout);
    net::async_write(stream_, net::buffer(*raw_reply_),
                     beast::bind_front_handler(&Session::OnWrite, Self(),
                                               /*close=*/true));
  }

  // A watch: a chunked response whose chunks are the stream's lines. The
  // connection ends with the stream.
  void DoWriteStreamHeader(
      std::function<std::function<void()>(StreamSink)> start,
      unsigned version) {
    stream_header_ = std::make_shared<http::response<http::empty_body>>(
        http::status::ok, version);
    stream_header_->set(http::field::content_type, "application/json");
    stream_header_->set(http::field::cache_control, "no-cache, private");
    stream_header_->chunked(true);
    stream_header_->keep_alive(false);
    stream_serializer_ =
        std::make_shared<http::response_serializer<http::empty_body>>(
            *stream_header_);
    // A watch may be quiet for as long as the client wants it.
    beast::get_lowest_layer(stream_).expires_never();
    http::async_write_header(
        stream_, *stream_serializer_,
        beast::bind_front_handler(&Session::OnWriteStreamHeader, Self(),
                                  std::move(start)));
  }

  void OnWriteStreamHeader(
      std::function<std::function<void()>(StreamSink)> start,
      beast::error_code error, size_t) {
    if (error) return Fail(error, "write");
    // Lines come from store threads; each is moved onto the strand. The
    // sink refers to the session weakly, so it does not keep a closed
    // connection alive.
    std::weak_ptr<Session> weak = this->weak_from_this();
    auto executor = stream_.get_executor();
    StreamSink sink = [weak, executor](std::optional<std::string> line) {
      net::post(executor, [weak, line = std::move(line)]() mutable {
        if (std::shared_ptr<Session> self = weak.lock()) {
          self->EnqueueLine(std::move(line));
        }
      });
    };
    stop_stream_ = start(std::move(sink));
    DoReadUntilClosed();
  }

  // Reads while streaming only to notice that the client went away.
  void DoReadUntilClosed() {
    stream_.async_read_some(
        net::buffer(ignored_input_),
        beast::bind_front_handler(&Session::OnReadUntilClosed, Self()));
  }

  void OnReadUntilClosed(beast::error_code error, size_t) {
    if (!error) return DoReadUntilClosed();
    StopStream();
  }

  void EnqueueLine(std::optional<std::string> line) {
    pending_lines_.push_back(std::move(line));
    if (!writing_line_) DoWriteLine();
  }

  void DoWriteLine() {
    if (pending_lines_.empty() || !stop_stream_) {
      writing_line_ = false;
      return;
    }
    writing_line_ = true;
    std::optional<std::string> line = std::move(pending_lines_.front());
    pending_lines_.pop_front();
    if (!line.has_value()) {
      net::async_write(
          stream_, http::make_chunk_last(),
          beast::bind_front_handler(&Session::OnWriteLastChunk, Self()));
      return;
    }
    current_line_ = std::make_shared<std::string>(std::move(*line));
    net::async_write(stream_, http::make_chunk(net::buffer(*current_line_)),
                     beast::bind_front_handler(&Session::OnWriteLine, Self()));
  }

  void OnWriteLine(beast::error_code error, size_t) {
    if (error) {
      StopStream();
      return Fail(error, "write");
    }
    DoWriteLine();
  }

  void OnWriteLastChunk(beast::error_code error, size_t) {
    StopStream();
    if (error) return Fail(error, "write");
    DoClose();
  }

  void StopStream() {
    if (!stop_stream_) return;
    std::function<void()> stop = std::move(stop_stream_);
    stop_stream_ = nullptr;
    stop();
  }

  void DoWrite(const ApiResponse& response, unsigned version, bool keep_alive) {
    response_ = std::make_shared<http::response<http::string_body>>(
        ToBeastResponse(response, version, keep_alive));
    beast::get_lowest_layer(stream_).expires_after(core_.timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::OnWrite, Self(),
                                                response_->need_eof()));
  }

  void OnWrite(bool close, beast::error_code error, size_t) {
    pending_reply_.reset();
    if (error) return Fail(error, "write");
    if (close) return DoClose();
    response_.reset();
    DoRead();
  }

  void DoClose() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(core_.timeout);
      stream_.async_shutdown(
          beast::bind_front_handler(&Session::OnClose, Self()));
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void OnClose(beast::error_code error) {
    if (error) Fail(error, "TLS shutdown");
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  ServerCore& core_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  // From ServerCore::BeginReply while a pool handler's response is written.
  std::shared_ptr<void> pending_reply_;
  std::shared_ptr<std::string> raw_reply_;  // a reply written as it is

  // State of a watch stream, touched only on the strand.
  std::shared_ptr<http::response<http::empty_body>> stream_header_;
  std::shared_ptr<http::response_serializer<http::empty_body>>
      stream_serializer_;
  std::function<void()> stop_stream_;  // empty once the stream stopped
  std::deque<std::optional<std::string>> pending_lines_;
  std::shared_ptr<std::string> current_line_;
  bool writing_line_ = false;
  std::array<char, 64> ignored_input_;
};

// Accepts connections on its own strand. Apply changes what it does for a
// new ServeMode: it stops accepting and fills its listen queue (kTimeout),
// closes the socket (kRefuse), or accepts again.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& context, ssl::context* tls, ServerCore& core)
      : context_(context),
        tls_(tls),
        acceptor_(net::make_strand(context)),
        core_(core) {}

  base::Status Open(const tcp::endpoint& endpoint) {
    beast::error_code error;
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(net::socket_base::reuse_address(true));
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) {
      acceptor_.listen(net::socket_base::max_listen_connections, error);
    }
    if (error) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return base::UnavailableError(
          "cannot listen on " + endpoint.address().to_string() + ":" +
          std::to_string(endpoint.port()) + ": " + error.message());
    }
    endpoint_ = acceptor_.local_endpoint();
    return base::OkStatus();
  }

  uint16_t port() const { return endpoint_.port(); }

  void DoAccept() {
    accepting_ = true;
    acceptor_.async_accept(
        net::make_strand(context_),
        beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  // Switches to `mode` on the listener's strand and waits for the result.
  // REQUIRES: the calling thread does not run the I/O loop.
  base::Status Apply(ServeMode mode) {
    std::promise<base::Status> done;
    std::future<base::Status> result = done.get_future();
    net::post(acceptor_.get_executor(),
              [self = shared_from_this(), mode, &done] {
                done.set_value(self->ApplyOnStrand(mode));
              });
    return result.get();
  }

  // REQUIRES: no thread runs the I/O loop.
  void Close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    plugs_.clear();
  }

 private:
  void OnAccept(beast::error_code error, tcp::socket socket) {
    if (error == net::error::operation_aborted) return;
    if (error) {
      Fail(error, "accept");
    } else if (tls_ != nullptr) {
      std::make_shared<Session<ssl::stream<beast::tcp_stream>>>(
          std::move(socket), tls_, core_)
          ->Run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), nullptr,
                                                   core_)
          ->Run();
    }
    if (accepting_) DoAccept();
  }

  base::Status ApplyOnStrand(ServeMode mode) {
    beast::error_code ignored;
    // Leave the current listening state.
    if (listen_state_ == ServeMode::kTimeout) {
      ::listen(acceptor_.native_handle(),
               net::socket_base::max_listen_connections);
      plugs_.clear();
    } else if (listen_state_ == ServeMode::kRefuse) {
      RETURN_IF_ERROR(Open(endpoint_));
    }
    listen_state_ = ServeMode::kServe;

    if (mode == ServeMode::kTimeout) {
      accepting_ = false;
      acceptor_.cancel(ignored);
      // A backlog of 0 queues one connection that is never accepted, and once
      // the plugs fill it, the kernel drops every further SYN.
      ::listen(acceptor_.native_handle(), 0);
      tcp::endpoint target = endpoint_;
      if (target.address().is_unspecified()) {
        target.address(target.address().is_v6()
                           ? net::ip::address(net::ip::address_v6::loopback())
                           : net::ip::address(net::ip::address_v4::loopback()));
      }
      for (int i = 0; i < 2; ++i) {
        auto& plug = plugs_.emplace_back(context_);
        plug.open(target.protocol(), ignored);
        plug.non_blocking(true, ignored);
        // A raw connect: asio's own waits for the handshake even on a
        // non-blocking socket, and the second plug's never completes.
        (void)::connect(plug.native_handle(), target.data(), target.size());
      }
      listen_state_ = mode;
    } else if (mode == ServeMode::kRefuse) {
      accepting_ = false;
      acceptor_.close(ignored);
      listen_state_ = mode;
    } else if (!accepting_) {
      DoAccept();
    }
    return base::OkStatus();
  }

  net::io_context& context_;
  ssl::context* tls_;  // null for plain HTTP
  tcp::acceptor acceptor_;
  ServerCore& core_;
  tcp::endpoint endpoint_;
  // Touched only on the acceptor's strand.
  bool accepting_ = false;
  ServeMode listen_state_ = ServeMode::kServe;  // kTimeout, kRefuse or kServe
  std::vector<tcp::socket> plugs_;  // connections that fill the queue
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(int threads)
      : context(std::make_unique<net::io_context>(threads)) {}

  // Declared first, so that it outlives the sessions.
  ServerCore core;
  std::optional<ssl::context> tls;
  std::string certificate_pem;
  std::string ca_pem;
  // Reset by Stop, which destroys the pending handlers and with them the
  // sessions and their sockets.
  std::unique_ptr<net::io_context> context;
  // Keeps the loop running while nothing is pending, as in ServeMode
  // kTimeout or kRefuse, so that SetMode can still post to it.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::string address;
  std::mutex mode_mu;    // serializes SetMode and Stop
  bool stopped = false;  // guarded by mode_mu
};

base::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    ApiHandler& handler, base::Clock& clock, base::Random& random,
    const HttpServerOptions& options) {
  return Start(
      [&handler](const ApiRequest& request) { return handler.Handle(request); },
      clock, random, options);
}

base::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    RequestHandler handler, base::Clock& clock, base::Random& random,
    const HttpServerOptions& options) {
  beast::error_code error;
  net::ip::address address = net::ip::make_address(options.address, error);
  if (error) {
    return base::InvalidArgumentError("invalid listen address " +
                                      options.address);
  }
  const int threads = std::max(1, options.threads);
  auto impl = std::make_unique<Impl>(threads);
  impl->core.handler = std::move(handler);
  impl->core.handler_pool.emplace(std::max(1, options.handler_threads));
  impl->core.body_too_large = options.body_too_large;
  impl->core.timeout = options.idle_timeout;
  if (options.tls) {
    std::string certificate = options.certificate_pem;
    std::string private_key = options.private_key_pem;
    if (certificate.empty() || private_key.empty()) {
      ASSIGN_OR_RETURN(auto generated, GenerateSelfSignedCert(clock, random));
      certificate = std::move(generated.first);
      private_key = std::move(generated.second);
    }
    RETURN_IF_ERROR(ConfigureTls(impl->tls.emplace(ssl::context::tls_server),
                                 certificate, private_key));
    impl->certificate_pem = certificate;
    impl->ca_pem = options.ca_pem.empty() ? certificate : options.ca_pem;
  }
  impl->listener = std::make_shared<Listener>(
      *impl->context, impl->tls ? &*impl->tls : nullptr, impl->core);
  RETURN_IF_ERROR(impl->listener->Open(tcp::endpoint(address, options.port)));
  impl->port = impl->listener->port();
  impl->address = options.address;
  impl->listener->DoAccept();
  impl->work.emplace(impl->context->get_executor());

  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back(
        [context = impl->context.get()] { context->run(); });
  }
  auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  spdlog::info("apiserver: listening on {}", server->url());
  return server;
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const {
  return (impl_->tls ? "https://" : "http://") +
         base::JoinHostPort(impl_->address, impl_->port);
}

const std::string& HttpServer::certificate_pem() const {
  return impl_->certificate_pem;
}

const std::string& HttpServer::ca_pem() const { return impl_->ca_pem; }

std::string HttpServer::Kubeconfig(const std::string& token) const {
  std::string cluster = "    server: " + url() + "\n";
  if (impl_->tls) {
    cluster +=
        "    certificate-authority-data: " + base::Base64Encode(impl_->ca_pem) +
        "\n";
  }
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: sim\n"
         "  cluster:\n" +
         cluster +
         "users:\n"
         "- name: sim\n"
         "  user:\n"
         "    token: " +
         token +
         "\n"
         "contexts:\n"
         "- name: sim\n"
         "  context:\n"
         "    cluster: sim\n"
         "    user: sim\n"
         "    namespace: default\n"
         "current-context: sim\n";
}

base::Status HttpServer::SetMode(ServeMode mode) {
  std::lock_guard lock(impl_->mode_mu);
  if (impl_->stopped) return base::OkStatus();
  ServeMode previous = impl_->core.mode.exchange(mode);
  if (previous == mode) return base::OkStatus();
  base::Status applied = impl_->listener->Apply(mode);
  if (!applied.ok()) {
    impl_->core.mode = ServeMode::kRefuse;
    spdlog::error("apiserver: {}: {}", url(), applied.ToString());
    return applied;
  }
  if (previous == ServeMode::kTimeout || previous == ServeMode::kHang) {
    impl_->core.CloseParked();
  }
  spdlog::info("apiserver: {} now {}", url(), ServeModeName(mode));
  return base::OkStatus();
}

ServeMode HttpServer::mode() const { return impl_->core.mode.load(); }

void HttpServer::Stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(impl_->mode_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (grace > std::chrono::milliseconds::zero()) {
    impl_->core.AwaitReplies(grace);
  }
  impl_->context->stop();
  for (std::thread& thread : impl_->threads) thread.join();
  // Handlers still running finish, and their responses are never written;
  // queued ones are dropped with the sessions they hold.
  impl_->core.handler_pool.reset();
  // No thread runs handlers any more, so the acceptor can close here.
  // Destroying the loop then destroys the pending handlers, which own the
  // sessions, and so closes every open connection.
  impl_->listener->Close();
  impl_->listener.reset();
  impl_->core.DropParked();
  impl_->work.reset();
  impl_->context.reset();
  spdlog::info("apiserver: stopped listening on {}", url());
}

std::string_view ServeModeName(ServeMode mode) {
  switch (mode) {
    case ServeMode::kServe:
      return "serve";
    case ServeMode::kTimeout:
      return "timeout";
    case ServeMode::kHang:
      return "hang";
    case ServeMode::kRefuse:
      return "refuse";
    case ServeMode::kUnavailable:
      return "unavailable";
  }
  return "serve";
}

std::optional<ServeMode> ParseServeMode(std::string_view name) {
  for (ServeMode mode :
       {ServeMode::kServe, ServeMode::kTimeout, ServeMode::kHang,
        ServeMode::kRefuse, ServeMode::kUnavailable}) {
    if (ServeModeName(mode) == name) return mode;
  }
  return std::nullopt;
}

}  // namespace apiserver
