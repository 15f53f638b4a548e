// The Beast side of the server, shaped like Beast's advanced server example.
// A listener accepts connections and starts a session per connection. Each
// session has a Do/On pair per step, a timeout before every read and a body
// size limit, and handles one request at a time, in order.
//
// Besides plain responses, a session carries out what injected faults ask
// for (a delayed response on the API's clock, a reset, a request that is
// never answered) and streams key events for GET /control/events. Work that
// arrives from other threads (clock timers, key events, fault changes) goes
// through the Gate, which refuses it once the server stops, so that nothing
// touches the I/O loop while it is destroyed.
#include "kms-mock/server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "base/beast_http.h"
#include "kms-mock/api_internal.h"

namespace kms {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Session;

// The server state that threads outside the I/O loop reach.
struct Gate {
  struct Delayed {
    std::shared_ptr<Session> session;
    base::Clock::TimerId timer = 0;
  };

  std::mutex mu;
  bool open = true;                     // guarded by mu
  uint64_t next_delay = 1;              // guarded by mu
  std::map<uint64_t, Delayed> delayed;  // guarded by mu
  // Connections that are never answered, by the id of their fault.
  std::multimap<uint64_t, std::weak_ptr<Session>> hung;  // guarded by mu
  std::set<KeyService::SubscriptionId> subscriptions;    // guarded by mu
};

// Converts a parsed request, taking over its body.
HttpRequest ToApiRequest(http::request<http::string_body>&& request) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  out.headers = base::LowercaseFields(request);
  out.body = std::move(request.body());
  return out;
}

http::response<http::string_body> ToBeastResponse(HttpResponse&& in,
                                                  unsigned version,
                                                  bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(in.status),
                                        version};
  out.set(http::field::server, "kms-mock");
  for (const auto& [name, value] : in.headers) out.set(name, value);
  out.body() = std::move(in.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// Logs a connection error that ends a session. Timeouts, resets and
// shutdown are routine for an HTTP server and logged at debug level only.
void Fail(beast::error_code error, const char* what) {
  if (base::IsRoutineDisconnect(error)) {
    spdlog::debug("kms server: {} ended the connection: {}", what,
                  error.message());
    return;
  }
  spdlog::warn("kms server: {} failed: {}", what, error.message());
}

// The 400 response for a request that is not HTTP/1.1, such as a header
// line without a colon or a Content-Length that is not a number.
HttpResponse MalformedRequest(const std::string& cause) {
  return api_internal::ErrorResponse(
      {.status = 400,
       .code = std::string(api_internal::kReasonBadBody),
       .message = "the request is not valid HTTP/1.1: " + cause},
      "Request could not be processed");
}

// The maximum number of bytes read and dropped after the last response of a
// connection.
constexpr size_t kMaxDrainBytes = 4 * kMaxRequestBodyBytes;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, KeyProtectApi& api, std::shared_ptr<Gate> gate,
          std::chrono::seconds timeout)
      : stream_(std::move(socket)),
        api_(api),
        gate_(std::move(gate)),
        timeout_(timeout) {}

  ~Session() {
    if (subscription_) api_.service().Unsubscribe(*subscription_);
  }

  void Run() {
    // Starts on the session's strand, where every later handler runs.
    net::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

  // Sends the response that a latency fault held back. REQUIRES: on the
  // strand.
  void SendDelayed() {
    DoWrite(std::move(delayed_response_), version_, keep_alive_);
  }

  // Closes a connection whose request is never answered. REQUIRES: on the
  // strand.
  void CloseHung() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // Queues one event line of a stream. REQUIRES: on the strand.
  void QueueEvent(std::string line) {
    events_.push_back(std::move(line));
    if (stream_header_sent_ && !writing_event_) DoWriteEvent();
  }

  auto executor() { return stream_.get_executor(); }

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
    if (error.category() ==
        http::make_error_code(http::error::bad_method).category()) {
      // Not HTTP/1.1 as RFC 9112 defines it. The server cannot tell where
      // the next request would start, so it answers and closes.
      spdlog::warn("kms server: rejected a malformed request: {}",
                   error.message());
      return DoWrite(MalformedRequest(error.message()), 11,
                     /*keep_alive=*/false);
    }
    if (error) return Fail(error, "read");

    http::request<http::string_body> request = parser_->release();
    version_ = request.version();
    keep_alive_ = request.keep_alive();
    Deliver(api_.Handle(ToApiRequest(std::move(request))));
  }

  void Deliver(HttpResponse response) {
    if (response.events) return StartEventStream(std::move(response));
    if (response.delivery == Delivery::kReset) return Reset();
    if (response.delivery == Delivery::kHang) return Hang(response.fault_id);
    if (response.send_at && *response.send_at > api_.clock().Now()) {
      return Delay(std::move(response));
    }
    DoWrite(std::move(response), version_, keep_alive_);
  }

  // Holds the response until the API's clock reaches response.send_at.
  void Delay(HttpResponse response) {
    stream_.expires_never();
    base::Time send_at = *response.send_at;
    delayed_response_ = std::move(response);
    std::lock_guard lock(gate_->mu);
    if (!gate_->open) return;
    uint64_t id = gate_->next_delay++;
    Gate::Delayed& entry = gate_->delayed[id];
    entry.session = shared_from_this();
    // The timer cannot fire before the entry is complete: its callback
    // needs the gate's lock, held here.
    entry.timer = api_.clock().ScheduleAt(send_at, [gate = gate_, id] {
      std::lock_guard lock(gate->mu);
      auto it = gate->delayed.find(id);
      if (it == gate->delayed.end()) return;
      std::shared_ptr<Session> session = std::move(it->second.session);
      gate->delayed.erase(it);
      if (!gate->open) return;
      net::post(session->executor(), [session] { session->SendDelayed(); });
    });
    // A simulated clock may have reached send_at between the check in
    // Deliver and ScheduleAt, and its timer would then wait for the next
    // advance. So the response goes out now, unless Cancel fails because
    // the callback already owns the entry.
    if (api_.clock().Now() >= send_at && api_.clock().Cancel(entry.timer)) {
      gate_->delayed.erase(id);
      net::post(executor(),
                [self = shared_from_this()] { self->SendDelayed(); });
    }
  }

  // Closes the connection at once with a TCP reset, as a crashed server
  // would.
  void Reset() {
    beast::error_code ignored;
    stream_.socket().set_option(net::socket_base::linger(true, 0), ignored);
    stream_.socket().close(ignored);
  }

  // Never answers. The session lives on in a read that discards anything
  // the client sends, until the client closes or the fault is removed.
  void Hang(uint64_t fault_id) {
    stream_.expires_never();
    {
      std::lock_guard lock(gate_->mu);
      gate_->hung.emplace(fault_id, weak_from_this());
    }
    DoDiscard();
  }

  void DoDiscard() {
    stream_.async_read_some(
        net::buffer(discard_),
        beast::bind_front_handler(&Session::OnDiscard, shared_from_this()));
  }

  void OnDiscard(beast::error_code error, size_t) {
    if (!error) DoDiscard();
  }

  // --- Event stream ---

  // Subscribes, then sends the response header, so a client that has read
  // the header receives every event that happens after it.
  void StartEventStream(HttpResponse response) {
    stream_.expires_never();
    EventFilter filter = std::move(*response.events);
    std::weak_ptr<Session> weak = weak_from_this();
    std::shared_ptr<Gate> gate = gate_;
    subscription_ = api_.service().Subscribe(
        [weak, gate, filter = std::move(filter)](const KeyEvent& event) {
          if (!filter.Matches(event)) return;
          std::string line = EventJsonLine(event);
          std::lock_guard lock(gate->mu);
          std::shared_ptr<Session> session = weak.lock();
          if (!gate->open || session == nullptr) return;
          net::post(session->executor(),
                    [session, line = std::move(line)]() mutable {
                      session->QueueEvent(std::move(line));
                    });
        });
    {
      std::lock_guard lock(gate_->mu);
      gate_->subscriptions.insert(*subscription_);
    }

    stream_response_ = std::make_unique<http::response<http::empty_body>>(
        http::status::ok, version_);
    stream_response_->set(http::field::server, "kms-mock");
    for (const auto& [name, value] : response.headers) {
      stream_response_->set(name, value);
    }
    stream_response_->chunked(true);
    stream_serializer_ =
        std::make_unique<http::response_serializer<http::empty_body>>(
            *stream_response_);
    http::async_write_header(stream_, *stream_serializer_,
                             beast::bind_front_handler(&Session::OnStreamHeader,
                                                       shared_from_this()));
  }

  void OnStreamHeader(beast::error_code error, size_t) {
    if (error) return EndEventStream(error);
    stream_header_sent_ = true;
    if (!events_.empty()) DoWriteEvent();
    // The client only reads; a completed read means it closed or failed.
    stream_.async_read_some(
        net::buffer(discard_),
        beast::bind_front_handler(&Session::OnStreamClientRead,
                                  shared_from_this()));
  }

  void OnStreamClientRead(beast::error_code error, size_t) {
    if (!error) {
      stream_.async_read_some(
          net::buffer(discard_),
          beast::bind_front_handler(&Session::OnStreamClientRead,
                                    shared_from_this()));
      return;
    }
    EndEventStream(error);
  }

  void DoWriteEvent() {
    writing_event_ = true;
    net::async_write(
        stream_, http::make_chunk(net::buffer(events_.front())),
        beast::bind_front_handler(&Session::OnWriteEvent, shared_from_this()));
  }

  void OnWriteEvent(beast::error_code error, size_t) {
    writing_event_ = false;
    if (error) return EndEventStream(error);
    events_.pop_front();
    if (!events_.empty()) DoWriteEvent();
  }

  void EndEventStream(beast::error_code error) {
    if (subscription_) {
      api_.service().Unsubscribe(*subscription_);
      std::lock_guard lock(gate_->mu);
      gate_->subscriptions.erase(*subscription_);
      subscription_.reset();
    }
    Fail(error, "event stream");
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  // --- Plain responses ---

  void DoWrite(HttpResponse response, unsigned version, bool keep_alive) {
    stream_.expires_after(timeout_);
    response_ = std::make_shared<http::response<http::string_body>>(
        ToBeastResponse(std::move(response), version, keep_alive));
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

  // Closes after the last response. Whatever the client still sends, such
  // as the rest of a body over the size limit, is read and dropped up to a
  // budget. Closing a socket with unread data would send a reset, which can
  // destroy the response before the client has read it.
  void DoClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain_budget_ = kMaxDrainBytes;
    stream_.expires_after(timeout_);
    DoDrain();
  }

  void DoDrain() {
    stream_.async_read_some(
        net::buffer(discard_),
        beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code error, size_t bytes) {
    if (error || bytes >= drain_budget_) return;
    drain_budget_ -= bytes;
    DoDrain();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  KeyProtectApi& api_;
  const std::shared_ptr<Gate> gate_;
  const std::chrono::seconds timeout_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  HttpResponse delayed_response_;
  std::array<char, 4096> discard_;
  size_t drain_budget_ = 0;

  std::optional<KeyService::SubscriptionId> subscription_;
  std::unique_ptr<http::response<http::empty_body>> stream_response_;
  std::unique_ptr<http::response_serializer<http::empty_body>>
      stream_serializer_;
  std::deque<std::string> events_;  // the front one is being written
  bool stream_header_sent_ = false;
  bool writing_event_ = false;
};

// Accepts connections. Pause and Resume close and reopen the listening
// socket (for a refuse outage) from any thread, so every use of the
// acceptor locks mu_.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& context, KeyProtectApi& api,
           std::shared_ptr<Gate> gate, std::chrono::seconds timeout)
      : context_(context),
        acceptor_(net::make_strand(context)),
        api_(api),
        gate_(std::move(gate)),
        timeout_(timeout) {}

  base::Status Open(const tcp::endpoint& endpoint) {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(base::Listen(acceptor_, endpoint));
    endpoint_ = acceptor_.local_endpoint();
    listening_ = true;
    return base::OkStatus();
  }

  uint16_t port() const { return endpoint_.port(); }

  void DoAccept() {
    std::lock_guard lock(mu_);
    if (!listening_) return;
    acceptor_.async_accept(
        net::make_strand(context_),
        beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  // Closes the listening socket: new connections are refused.
  void Pause() {
    std::lock_guard lock(mu_);
    if (!listening_) return;
    beast::error_code ignored;
    acceptor_.close(ignored);
    listening_ = false;
    spdlog::info("kms server: stopped listening on port {} (injected outage)",
                 endpoint_.port());
  }

  // Listens again on the same address after Pause.
  void Resume() {
    if (Open(endpoint_).ok()) {
      spdlog::info("kms server: listening again on port {}", endpoint_.port());
      DoAccept();
    } else {
      spdlog::error("kms server: cannot listen again on port {}",
                    endpoint_.port());
    }
  }

  bool listening() {
    std::lock_guard lock(mu_);
    return listening_;
  }

  // Closes the listening socket for good. REQUIRES: no thread runs the I/O
  // loop.
  void Close() {
    std::lock_guard lock(mu_);
    beast::error_code ignored;
    acceptor_.close(ignored);
    listening_ = false;
  }

 private:
  void OnAccept(beast::error_code error, tcp::socket socket) {
    if (error == net::error::operation_aborted) return;
    if (error) {
      Fail(error, "accept");
    } else {
      std::make_shared<Session>(std::move(socket), api_, gate_, timeout_)
          ->Run();
    }
    DoAccept();
  }

  net::io_context& context_;
  std::mutex mu_;
  tcp::acceptor acceptor_;  // guarded by mu_
  tcp::endpoint endpoint_;  // the bound address; constant after Open
  bool listening_ = false;  // guarded by mu_
  KeyProtectApi& api_;
  const std::shared_ptr<Gate> gate_;
  const std::chrono::seconds timeout_;
};

// Applies a change of the injected faults: the listener closes during an
// unscoped refuse outage, and hung connections whose fault is gone close.
// REQUIRES: gate.mu held and gate.open, so that Stop waits for it.
void ApplyFaults(KeyProtectApi& api, Gate& gate, Listener& listener) {
  FaultInjector& faults = api.service().faults();
  bool refused = faults.ListenerRefused();
  if (refused && listener.listening()) listener.Pause();
  if (!refused && !listener.listening()) listener.Resume();

  for (auto it = gate.hung.begin(); it != gate.hung.end();) {
    std::shared_ptr<Session> session = it->second.lock();
    if (session != nullptr && faults.Get(it->first).has_value()) {
      ++it;
      continue;
    }
    if (session != nullptr) {
      net::post(session->executor(), [session] { session->CloseHung(); });
    }
    it = gate.hung.erase(it);
  }
}

}  // namespace

struct Server::Impl {
  Impl(KeyProtectApi& a, int threads)
      : api(a),
        context(std::make_unique<net::io_context>(threads)),
        gate(std::make_shared<Gate>()) {}

  KeyProtectApi& api;
  // Reset by Stop, which destroys the pending handlers and with them the
  // sessions and their sockets.
  std::unique_ptr<net::io_context> context;
  const std::shared_ptr<Gate> gate;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  std::optional<FaultInjector::WatchId> watch;
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
  auto impl = std::make_unique<Impl>(api, threads);
  impl->listener = std::make_shared<Listener>(*impl->context, api, impl->gate,
                                              options.idle_timeout);
  RETURN_IF_ERROR(impl->listener->Open(tcp::endpoint(address, options.port)));
  impl->port = impl->listener->port();
  impl->address = options.address;
  impl->listener->DoAccept();

  // The watcher holds the gate's lock while it uses the listener, and Stop
  // closes the gate first, so the listener is never used after Stop.
  impl->watch = api.service().faults().Watch(
      [&api, gate = impl->gate, listener = impl->listener.get()] {
        std::lock_guard lock(gate->mu);
        if (gate->open) ApplyFaults(api, *gate, *listener);
      });
  {
    std::lock_guard lock(impl->gate->mu);
    ApplyFaults(api, *impl->gate, *impl->listener);
  }

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
    if (impl_->watch) impl_->api.service().faults().Unwatch(*impl_->watch);

    // Closing the gate stops timers, key events and fault changes from
    // reaching the loop. Delayed sessions are released only after the
    // threads have stopped, together with the loop.
    std::vector<std::shared_ptr<Session>> delayed;
    std::set<KeyService::SubscriptionId> subscriptions;
    {
      std::lock_guard lock(impl_->gate->mu);
      impl_->gate->open = false;
      for (auto& [id, entry] : impl_->gate->delayed) {
        impl_->api.clock().Cancel(entry.timer);
        delayed.push_back(std::move(entry.session));
      }
      impl_->gate->delayed.clear();
      impl_->gate->hung.clear();
      subscriptions.swap(impl_->gate->subscriptions);
    }
    for (KeyService::SubscriptionId id : subscriptions) {
      impl_->api.service().Unsubscribe(id);
    }

    impl_->context->stop();
    for (std::thread& thread : impl_->threads) thread.join();
    // No thread runs handlers any more, so the acceptor can close here.
    // Destroying the loop then destroys the pending handlers, which own the
    // sessions, and so closes every open connection.
    impl_->listener->Close();
    delayed.clear();
    impl_->listener.reset();
    impl_->context.reset();
    spdlog::info("kms server: stopped listening on http://{}:{}",
                 impl_->address, impl_->port);
  });
}

}  // namespace kms
