// The HTTP side of the etcd JSON gateway on Boost.Beast, shaped like Beast's
// advanced server: a listener, a session per connection on its own strand,
// a read timeout and a body limit. Unary endpoints return one JSON object.
// /v3/watch and /v3/lease/keepalive return a chunked stream of
// {"result":...} lines, as grpc-gateway does.
#include "etcd-store/gateway.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "etcd-store/gateway_json.h"

namespace etcd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using gateway_internal::HeaderIds;
using nlohmann::json;

struct Reply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply ErrorReply(const base::Status& status) {
  int code = gateway_internal::GrpcCode(status.code());
  return {static_cast<unsigned>(gateway_internal::HttpStatusFromGrpcCode(code)),
          gateway_internal::EncodeError(status.message(), code)};
}

// Runs a decoded request against the store and encodes the response.
template <typename Request, typename Response>
Reply Call(const json& body, base::StatusOr<Request> (*decode)(const json&),
           const std::function<base::StatusOr<Response>(const Request&)>& run,
           std::string (*encode)(const Response&, const HeaderIds&),
           const HeaderIds& ids) {
  base::StatusOr<Request> request = decode(body);
  if (!request.ok()) return ErrorReply(request.status());
  base::StatusOr<Response> response = run(*request);
  if (!response.ok()) return ErrorReply(response.status());
  return {200, encode(*response, ids)};
}

Reply HandleUnary(Store& store, const std::string& path, const json& body,
                  const HeaderIds& ids) {
  namespace gw = gateway_internal;
  if (path == "/v3/kv/range") {
    return Call<RangeRequest, RangeResponse>(
        body, gw::DecodeRangeRequest,
        [&](const RangeRequest& r) { return store.Range(r); },
        gw::EncodeRangeResponse, ids);
  }
  if (path == "/v3/kv/put") {
    return Call<PutRequest, PutResponse>(
        body, gw::DecodePutRequest,
        [&](const PutRequest& r) { return store.Put(r); },
        gw::EncodePutResponse, ids);
  }
  if (path == "/v3/kv/deleterange") {
    return Call<DeleteRangeRequest, DeleteRangeResponse>(
        body, gw::DecodeDeleteRangeRequest,
        [&](const DeleteRangeRequest& r) { return store.DeleteRange(r); },
        gw::EncodeDeleteRangeResponse, ids);
  }
  if (path == "/v3/kv/txn") {
    return Call<TxnRequest, TxnResponse>(
        body, gw::DecodeTxnRequest,
        [&](const TxnRequest& r) { return store.Txn(r); },
        gw::EncodeTxnResponse, ids);
  }
  if (path == "/v3/kv/compaction") {
    return Call<int64_t, CompactionResponse>(
        body, gw::DecodeCompactionRequest,
        [&](const int64_t& revision) { return store.Compact(revision); },
        gw::EncodeCompactionResponse, ids);
  }
  if (path == "/v3/lease/grant") {
    return Call<LeaseGrantRequest, LeaseGrantResponse>(
        body, gw::DecodeLeaseGrantRequest,
        [&](const LeaseGrantRequest& r) { return store.LeaseGrant(r); },
        gw::EncodeLeaseGrantResponse, ids);
  }
  if (path == "/v3/lease/revoke" || path == "/v3/kv/lease/revoke") {
    return Call<int64_t, LeaseRevokeResponse>(
        body, gw::DecodeLeaseId,
        [&](const int64_t& id) { return store.LeaseRevoke(id); },
        gw::EncodeLeaseRevokeResponse, ids);
  }
  if (path == "/v3/lease/timetolive" || path == "/v3/kv/lease/timetolive") {
    return Call<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(
        body, gw::DecodeLeaseTimeToLiveRequest,
        [&](const LeaseTimeToLiveRequest& r) {
          return store.LeaseTimeToLive(r);
        },
        gw::EncodeLeaseTimeToLiveResponse, ids);
  }
  // /v3/lease/leases takes an empty request.
  base::StatusOr<LeaseLeasesResponse> leases = store.LeaseLeases();
  if (!leases.ok()) return ErrorReply(leases.status());
  return {200, gw::EncodeLeaseLeasesResponse(*leases, ids)};
}

bool IsUnaryPath(const std::string& path) {
  static const char* const kPaths[] = {
      "/v3/kv/range",         "/v3/kv/put",
      "/v3/kv/deleterange",   "/v3/kv/txn",
      "/v3/kv/compaction",    "/v3/lease/grant",
      "/v3/lease/revoke",     "/v3/kv/lease/revoke",
      "/v3/lease/timetolive", "/v3/kv/lease/timetolive",
      "/v3/lease/leases",     "/v3/kv/lease/leases"};
  for (const char* known : kPaths) {
    if (path == known) return true;
  }
  return false;
}

std::string Chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Store& store, const GatewayOptions& options)
      : stream_(std::move(socket)),
        store_(store),
        options_(options),
        ids_{options.cluster_id, options.member_id, options.raft_term} {}

  ~Session() { CancelWatches(); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this()] { self->DoRead(); });
  }

  // Cancels every watch of this connection; after it returns the store
  // calls none of their callbacks. Call on the strand, or after the
  // gateway's threads have stopped.
  void CancelWatches() {
    for (const auto& [stream_id, store_id] : watches_) {
      (void)store_.CancelWatch(store_id);
    }
    watches_.clear();
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(std::chrono::seconds(options_.read_timeout_seconds));
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return DoClose();
    if (ec) return;  // timeout, reset or a malformed request: drop it
    http::request<http::string_body> request = parser_->release();
    keep_alive_ = request.keep_alive();
    std::string path(request.target());
    if (auto query = path.find('?'); query != std::string::npos) {
      path.resize(query);
    }

    bool streaming = path == "/v3/watch" || path == "/v3/lease/keepalive";
    if (!streaming && !IsUnaryPath(path)) {
      return SendReply({404, "Not Found\n", "text/plain; charset=utf-8"});
    }
    if (request.method() != http::verb::post) {
      return SendReply(
          {405, "Method Not Allowed\n", "text/plain; charset=utf-8"});
    }
    if (streaming) return StartStream(path == "/v3/watch", request.body());

    base::StatusOr<json> body = gateway_internal::ParseBody(request.body());
    if (!body.ok()) return SendReply(ErrorReply(body.status()));
    SendReply(HandleUnary(store_, path, *body, ids_));
  }

  void SendReply(Reply reply) {
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), 11);
    response->set(http::field::content_type, reply.content_type);
    response->keep_alive(keep_alive_);
    response->body() = std::move(reply.body);
    response->prepare_payload();
    http::async_write(
        stream_, *response,
        [self = shared_from_this(), response](beast::error_code ec, size_t) {
          if (ec) return;
          if (!self->keep_alive_) return self->DoClose();
          self->DoRead();
        });
  }

  // ---- Streaming: /v3/watch and /v3/lease/keepalive ----

  void StartStream(bool watch, const std::string& body) {
    base::StatusOr<std::vector<json>> messages =
        gateway_internal::ParseStream(body);
    if (!messages.ok()) {
      // grpc-gateway reports a body it cannot read with code UNKNOWN.
      return SendReply(
          {500, gateway_internal::EncodeError(messages.status().message(), 2)});
    }

    stream_.expires_never();
    Send(
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        "Grpc-Metadata-Content-Type: application/grpc\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    if (watch) {
      for (const json& message : *messages) HandleWatchMessage(message);
      // Like etcd, the stream stays open until the client goes away.
      WaitForDisconnect();
      return;
    }
    for (const json& message : *messages) HandleKeepAlive(message);
    Send("0\r\n\r\n");
    finish_after_writes_ = true;
  }

  void HandleKeepAlive(const json& message) {
    base::StatusOr<int64_t> id = gateway_internal::DecodeLeaseId(message);
    base::StatusOr<LeaseKeepAliveResponse> response =
        id.ok() ? store_.LeaseKeepAlive(*id)
                : base::StatusOr<LeaseKeepAliveResponse>(id.status());
    if (!response.ok()) {
      int code = gateway_internal::GrpcCode(response.status().code());
      SendChunk(
          gateway_internal::EncodeError(response.status().message(), code));
      return;
    }
    SendChunk(gateway_internal::EncodeStreamResult(
        gateway_internal::EncodeLeaseKeepAliveResponse(*response, ids_)));
  }

  void HandleWatchMessage(const json& message) {
    base::StatusOr<gateway_internal::WatchStreamRequest> request =
        gateway_internal::DecodeWatchRequest(message);
    if (!request.ok()) {
      int code = gateway_internal::GrpcCode(request.status().code());
      SendChunk(
          gateway_internal::EncodeError(request.status().message(), code));
      return;
    }
    using Kind = gateway_internal::WatchStreamRequest::Kind;
    switch (request->kind) {
      case Kind::kCreate:
        return CreateWatch(request->create);
      case Kind::kCancel:
        return CancelWatch(request->watch_id);
      case Kind::kProgress: {
        // etcd replies to a progress request with watch_id -1 and the
        // current revision.
        WatchResponse progress;
        progress.header.revision = store_.CurrentRevision();
        progress.watch_id = -1;
        return PostChunk(WatchResult(progress));
      }
      case Kind::kNone:
        return;
    }
  }

  void CreateWatch(const WatchRequest& request) {
    // Like etcd, ids count from 0 within each stream.
    int64_t stream_id = next_watch_id_++;
    std::weak_ptr<Session> weak = weak_from_this();
    HeaderIds ids = ids_;
    base::StatusOr<int64_t> store_id = store_.Watch(
        request, [weak, stream_id, ids](const WatchResponse& response) {
          std::shared_ptr<Session> self = weak.lock();
          if (self == nullptr) return;
          WatchResponse renumbered = response;
          renumbered.watch_id = stream_id;
          self->PostChunk(WatchResult(renumbered, ids));
        });
    if (!store_id.ok()) {
      spdlog::warn("etcd-gateway: creating a watch failed: {}",
                   store_id.status().ToString());
      int code = gateway_internal::GrpcCode(store_id.status().code());
      PostChunk(
          gateway_internal::EncodeError(store_id.status().message(), code));
      return;
    }
    watches_[stream_id] = *store_id;
  }

  void CancelWatch(int64_t stream_id) {
    auto it = watches_.find(stream_id);
    if (it == watches_.end()) return;
    base::Status status = store_.CancelWatch(it->second);
    watches_.erase(it);
    // etcd replies only when the watch existed.
    if (!status.ok()) return;
    WatchResponse canceled;
    canceled.header.revision = store_.CurrentRevision();
    canceled.watch_id = stream_id;
    canceled.canceled = true;
    PostChunk(WatchResult(canceled));
  }

  std::string WatchResult(const WatchResponse& response) const {
    return WatchResult(response, ids_);
  }

  static std::string WatchResult(const WatchResponse& response,
                                 const HeaderIds& ids) {
    return gateway_internal::EncodeStreamResult(
        gateway_internal::EncodeWatchResponse(response, ids));
  }

  // Queues a stream line through the strand, so it keeps its place behind
  // lines that store callbacks posted earlier.
  void PostChunk(std::string line) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), line = std::move(line)] {
                self->SendChunk(line);
              });
  }

  void SendChunk(const std::string& line) { Send(Chunk(line + "\n")); }

  void Send(std::string bytes) {
    if (closed_) return;
    // NOTE: a client that stops reading makes this queue grow; the session
    // closes when it passes the body limit.
    queued_bytes_ += bytes.size();
    if (queued_bytes_ > options_.max_body_bytes * 4) {
      spdlog::warn(
          "etcd-gateway: closing a stream whose client is not "
          "reading ({} bytes queued)",
          queued_bytes_);
      return DoClose();
    }
    outgoing_.push_back(std::move(bytes));
    if (outgoing_.size() == 1) DoWrite();
  }

  void DoWrite() {
    net::async_write(
        stream_, net::buffer(outgoing_.front()),
        beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return DoClose();
    queued_bytes_ -= outgoing_.front().size();
    outgoing_.pop_front();
    if (!outgoing_.empty()) return DoWrite();
    if (finish_after_writes_) {
      finish_after_writes_ = false;
      if (!keep_alive_) return DoClose();
      DoRead();
    }
  }

  void WaitForDisconnect() {
    stream_.async_read_some(
        net::buffer(disconnect_buffer_),
        [self = shared_from_this()](beast::error_code, size_t) {
          // Either the client closed the connection or it sent another
          // request, which a watch stream does not take.
          self->DoClose();
        });
  }

  void DoClose() {
    if (closed_) return;
    closed_ = true;
    CancelWatches();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  Store& store_;
  const GatewayOptions options_;
  const HeaderIds ids_;

  // Used on the strand only.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  bool closed_ = false;
  bool finish_after_writes_ = false;
  std::deque<std::string> outgoing_;
  size_t queued_bytes_ = 0;
  std::map<int64_t, int64_t> watches_;  // stream watch id -> store watch id
  int64_t next_watch_id_ = 0;
  char disconnect_buffer_[512];
};

class GatewayImpl final : public Gateway {
 public:
  GatewayImpl(Store& store, const GatewayOptions& options)
      : store_(store), options_(options), acceptor_(net::make_strand(ioc_)) {}

  ~GatewayImpl() override {
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    for (std::thread& thread : threads_) thread.join();
    // Cancel watches before the io_context goes, so that no store callback
    // posts into a destroyed context.
    std::lock_guard lock(mu_);
    for (const std::weak_ptr<Session>& weak : sessions_) {
      if (std::shared_ptr<Session> session = weak.lock()) {
        session->CancelWatches();
      }
    }
    spdlog::info("etcd-gateway: stopped serving on {}:{}", options_.address,
                 port_);
  }

  base::Status Listen() {
    beast::error_code ec;
    tcp::endpoint endpoint(net::ip::make_address(options_.address, ec),
                           options_.port);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return base::UnavailableError(
          "etcd-gateway: listening on " + options_.address + ":" +
          std::to_string(options_.port) + " failed: " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    spdlog::info("etcd-gateway: serving on {}:{}", options_.address, port_);
    return base::OkStatus();
  }

  uint16_t port() const override { return port_; }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [this](beast::error_code ec, tcp::socket socket) {
                             if (ec == net::error::operation_aborted) return;
                             if (!ec) {
                               auto session = std::make_shared<Session>(
                                   std::move(socket), store_, options_);
                               Track(session);
                               session->Run();
                             }
                             DoAccept();
                           });
  }

  void Track(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mu_);
    std::erase_if(sessions_, [](const std::weak_ptr<Session>& weak) {
      return weak.expired();
    });
    sessions_.push_back(session);
  }

  Store& store_;
  const GatewayOptions options_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;

  std::mutex mu_;
  std::vector<std::weak_ptr<Session>> sessions_;  // guarded by mu_
};

}  // namespace

base::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    Store& store, const GatewayOptions& options) {
  auto gateway = std::make_unique<GatewayImpl>(store, options);
  RETURN_IF_ERROR(gateway->Listen());
  return std::unique_ptr<Gateway>(std::move(gateway));
}

}  // namespace etcd
