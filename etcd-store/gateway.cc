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
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/beast_http.h"
#include "base/log.h"
#include "etcd-store/gateway_json.h"
#include "etcd-store/request_size.h"

namespace etcd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using gateway_internal::HeaderIds;
using gateway_internal::JsonValue;

struct Reply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply ErrorReply(const base::Status& status) {
  int code = base::GrpcCodeNumber(status.code());
  return {static_cast<unsigned>(gateway_internal::HttpStatusFromGrpcCode(code)),
          gateway_internal::EncodeError(status.message(), code)};
}

// Runs a decoded request against the store and encodes the response.
template <typename Request, typename Response>
Reply Call(const JsonValue& body,
           base::StatusOr<Request> (*decode)(const JsonValue&),
           const std::function<base::StatusOr<Response>(const Request&)>& run,
           std::string (*encode)(const Response&, const HeaderIds&),
           const HeaderIds& ids) {
  base::StatusOr<Request> request = decode(body);
  if (!request.ok()) return ErrorReply(request.status());
  base::StatusOr<Response> response = run(*request);
  if (!response.ok()) return ErrorReply(response.status());
  return {200, encode(*response, ids)};
}

Reply HandleUnary(Store& store, const std::string& path, const JsonValue& body,
                  const HeaderIds& ids) {
  namespace gw = gateway_internal;
  if (path == "/v3/kv/range") {
    return Call<RangeRequest, RangeResponse>(
        body, gw::DecodeRangeRequest,
        [&](const RangeRequest& r) -> base::StatusOr<RangeResponse> {
          RETURN_IF_ERROR(gw::AdmitRange(r));
          return store.Range(r);
        },
        gw::EncodeRangeResponse, ids);
  }
  if (path == "/v3/kv/put") {
    return Call<PutRequest, PutResponse>(
        body, gw::DecodePutRequest,
        [&](const PutRequest& r) -> base::StatusOr<PutResponse> {
          RETURN_IF_ERROR(gw::AdmitPut(r, ids.member_id));
          return store.Put(r);
        },
        gw::EncodePutResponse, ids);
  }
  if (path == "/v3/kv/deleterange") {
    return Call<DeleteRangeRequest, DeleteRangeResponse>(
        body, gw::DecodeDeleteRangeRequest,
        [&](const DeleteRangeRequest& r)
            -> base::StatusOr<DeleteRangeResponse> {
          RETURN_IF_ERROR(gw::AdmitDeleteRange(r, ids.member_id));
          return store.DeleteRange(r);
        },
        gw::EncodeDeleteRangeResponse, ids);
  }
  if (path == "/v3/kv/txn") {
    return Call<TxnRequest, TxnResponse>(
        body, gw::DecodeTxnRequest,
        [&](const TxnRequest& r) -> base::StatusOr<TxnResponse> {
          RETURN_IF_ERROR(gw::AdmitTxn(r, ids.member_id));
          return store.Txn(r);
        },
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
  Session(tcp::socket socket, Store& store, const GatewayOptions& options,
          net::thread_pool& store_pool)
      : stream_(std::move(socket)),
        store_(store),
        store_pool_(store_pool),
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
    // A finished keep-alive stream leaves its state behind.
    stream_parser_.reset();
    pending_.clear();
    response_started_ = false;
    failed_ = false;
    header_parser_.emplace();
    header_parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(std::chrono::seconds(options_.read_timeout_seconds));
    http::async_read_header(
        stream_, buffer_, *header_parser_,
        beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return DoClose();
    if (ec) return RejectUnreadable(ec);
    const auto& header = header_parser_->get();
    keep_alive_ = header.keep_alive();
    path_ = std::string(header.target());
    if (auto query = path_.find('?'); query != std::string::npos) {
      path_.resize(query);
    }
    // Clients such as curl wait for this before they send a large body.
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      Send("HTTP/1.1 100 Continue\r\n\r\n");
    }
    bool streaming = path_ == "/v3/watch" || path_ == "/v3/lease/keepalive";
    if (streaming && header.method() == http::verb::post) {
      return StartStream(path_ == "/v3/watch");
    }

    // Everything else reads its whole body first.
    parser_.emplace(std::move(*header_parser_));
    parser_->body_limit(options_.max_body_bytes);
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return RejectUnreadable(ec);
    http::request<http::string_body> request = parser_->release();
    bool streaming = path_ == "/v3/watch" || path_ == "/v3/lease/keepalive";
    if (!streaming && !IsUnaryPath(path_)) {
      return SendReply({404, "Not Found\n", "text/plain; charset=utf-8"});
    }
    if (request.method() != http::verb::post) {
      return SendReply(
          {405, "Method Not Allowed\n", "text/plain; charset=utf-8"});
    }

    base::StatusOr<JsonValue> body =
        gateway_internal::ParseBody(request.body());
    if (!body.ok()) return SendReply(ErrorReply(body.status()));
    // A write blocks until it is synced, so it runs off the I/O threads;
    // the connection reads nothing more until the reply is sent.
    net::post(store_pool_, [self = shared_from_this(),
                            body = std::move(*body)] {
      Reply reply = HandleUnary(self->store_, self->path_, body, self->ids_);
      net::post(self->stream_.get_executor(),
                [self, reply = std::move(reply)]() mutable {
                  self->SendReply(std::move(reply));
                });
    });
  }

  // Replies to a request that could not be read as etcd 3.4 does, then
  // closes. etcd's connection multiplexer drops a first line that is not
  // HTTP/1.x, Go's HTTP server replies to a malformed header with a
  // plain-text 400 (431 when the headers are too large), and the gateway
  // replies to a malformed chunked body with a JSON error. A timeout or a
  // reset closes silently.
  void RejectUnreadable(beast::error_code ec) {
    if (ec.category() !=
            http::make_error_code(http::error::bad_target).category() ||
        ec == http::error::bad_version || ec == http::error::partial_message) {
      return DoClose();
    }
    keep_alive_ = false;
    if (ec == http::error::bad_chunk ||
        ec == http::error::bad_chunk_extension) {
      return SendReply({400,
                        R"({"error":"invalid byte in chunk length",)"
                        R"("message":"invalid byte in chunk length","code":3})",
                        "application/json"});
    }
    std::string status = "400 Bad Request";
    if (ec == http::error::header_limit) {
      status = "431 Request Header Fields Too Large";
    } else if (ec == http::error::body_limit) {
      status = "413 Request Entity Too Large";
    }
    Send(base::GoPlainTextReply(status));
    finish_after_writes_ = true;
  }

  // Queues a whole response; the connection then reads its next request,
  // or closes unless kept alive.
  void SendReply(Reply reply) {
    http::response<http::string_body> response(
        static_cast<http::status>(reply.status), 11);
    response.set(http::field::content_type, reply.content_type);
    response.keep_alive(keep_alive_);
    response.body() = std::move(reply.body);
    response.prepare_payload();
    std::ostringstream bytes;
    bytes << response;
    Send(bytes.str());
    finish_after_writes_ = true;
  }

  // ---- Streaming: /v3/watch and /v3/lease/keepalive ----

  // Reads the body as it arrives and handles each JSON message at once, so
  // a client may keep its request body open and send more messages later.
  void StartStream(bool watch) {
    watch_stream_ = watch;
    stream_parser_.emplace(std::move(*header_parser_));
    // A stream has no size limit as a whole; each message is limited below.
    stream_parser_->body_limit(boost::none);
    stream_.expires_never();
    DoReadBody();
  }

  void DoReadBody() {
    if (stream_parser_->is_done()) return OnBodyDone();
    stream_parser_->get().body().data = body_buffer_;
    stream_parser_->get().body().size = sizeof(body_buffer_);
    http::async_read_some(
        stream_, buffer_, *stream_parser_,
        beast::bind_front_handler(&Session::OnReadBody, shared_from_this()));
  }

  void OnReadBody(beast::error_code ec, size_t) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return DoClose();  // the client went away
    size_t received = sizeof(body_buffer_) - stream_parser_->get().body().size;
    pending_.append(body_buffer_, received);
    if (pending_.size() > options_.max_body_bytes) {
      spdlog::warn(
          "etcd-gateway: closing a stream whose message exceeds {} "
          "bytes",
          options_.max_body_bytes);
      return DoClose();
    }
    HandlePendingMessages(/*body_done=*/false);
    if (closed_ || (failed_ && !response_started_)) return;
    DoReadBody();
  }

  void OnBodyDone() {
    HandlePendingMessages(/*body_done=*/true);
    if (closed_ || (failed_ && !response_started_)) return;
    if (watch_stream_) {
      // Like etcd, a watch stream stays open until the client goes away.
      return WaitForDisconnect();
    }
    // Like etcd, a keep-alive stream ends with the request body. The last
    // chunk goes through the strand behind the posted responses.
    if (!response_started_) StartResponse(/*grpc_metadata=*/false);
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->Send("0\r\n\r\n");
      self->finish_after_writes_ = true;
    });
  }

  // Handles every complete message in pending_. Like grpc-gateway, a bad
  // first message fails the request with HTTP 500 and code UNKNOWN, and
  // handling stops silently at a bad later message.
  void HandlePendingMessages(bool body_done) {
    while (!failed_) {
      base::StatusOr<std::optional<JsonValue>> message =
          gateway_internal::TakeMessage(pending_, body_done);
      if (message.ok() && !message->has_value()) return;  // need more bytes
      base::Status status = message.status();
      if (status.ok()) status = HandleStreamMessage(**message);
      if (status.ok()) continue;

      failed_ = true;
      if (!response_started_) {
        keep_alive_ = false;
        SendReply({500, gateway_internal::EncodeError(status.message(), 2)});
      }
    }
  }

  base::Status HandleStreamMessage(const JsonValue& message) {
    if (watch_stream_) {
      ASSIGN_OR_RETURN(gateway_internal::WatchStreamRequest request,
                       gateway_internal::DecodeWatchRequest(message));
      if (!response_started_) StartResponse(/*grpc_metadata=*/true);
      HandleWatchRequest(request);
      return base::OkStatus();
    }
    ASSIGN_OR_RETURN(int64_t id, gateway_internal::DecodeLeaseId(message));
    if (!response_started_) StartResponse(/*grpc_metadata=*/true);
    HandleKeepAlive(id);
    return base::OkStatus();
  }

  void StartResponse(bool grpc_metadata) {
    response_started_ = true;
    std::string header =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n";
    if (grpc_metadata) {
      header += "Grpc-Metadata-Content-Type: application/grpc\r\n";
    }
    header += "Transfer-Encoding: chunked\r\n\r\n";
    Send(std::move(header));
  }

  void HandleKeepAlive(int64_t id) {
    base::StatusOr<LeaseKeepAliveResponse> response = store_.LeaseKeepAlive(id);
    if (!response.ok()) {
      int code = base::GrpcCodeNumber(response.status().code());
      PostChunk(
          gateway_internal::EncodeError(response.status().message(), code));
      return;
    }
    PostChunk(gateway_internal::EncodeStreamResult(
        gateway_internal::EncodeLeaseKeepAliveResponse(*response, ids_)));
  }

  void HandleWatchRequest(const gateway_internal::WatchStreamRequest& request) {
    using Kind = gateway_internal::WatchStreamRequest::Kind;
    switch (request.kind) {
      case Kind::kCreate:
        return CreateWatch(request.create, request.watch_id);
      case Kind::kCancel:
        return CancelWatch(request.watch_id);
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

  // Creates a watch with `requested_id`, or with the next free id when it
  // is 0, as etcd's watch stream does.
  void CreateWatch(const WatchRequest& request, int64_t requested_id) {
    std::string error;
    // etcd reads range_end "\0" as "every key from `key` on".
    bool from_key = request.range_end == std::string_view("\0", 1);
    if (!request.range_end.empty() && !from_key &&
        request.key >= request.range_end) {
      error = "mvcc: watcher range is empty";
    } else if (requested_id != 0 && watches_.contains(requested_id)) {
      error = "mvcc: duplicate watch ID provided on the WatchStream";
    }
    if (!error.empty()) {
      WatchResponse rejected;
      rejected.header.revision = store_.CurrentRevision();
      rejected.watch_id = -1;
      rejected.created = true;
      rejected.canceled = true;
      rejected.cancel_reason = error;
      return PostChunk(WatchResult(rejected));
    }

    // Like etcd, ids count from 0 within each stream.
    int64_t stream_id = requested_id;
    if (stream_id == 0) {
      while (watches_.contains(next_watch_id_)) ++next_watch_id_;
      stream_id = next_watch_id_++;
    }
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
      int code = base::GrpcCodeNumber(store_id.status().code());
      PostChunk(
          gateway_internal::EncodeError(store_id.status().message(), code));
      return;
    }
    watches_[stream_id] = *store_id;
  }

  void CancelWatch(int64_t stream_id) {
    auto it = watches_.find(stream_id);
    if (it == watches_.end()) return;
    // The store has already dropped a watch that it canceled itself, as
    // for a compacted start revision. etcd still confirms the cancel of
    // every watch id that the stream has created, and only of those.
    base::Status status = store_.CancelWatch(it->second);
    watches_.erase(it);
    if (!status.ok() && status.code() != base::Code::kNotFound) {
      spdlog::warn("etcd-gateway: canceling watch {} failed: {}", stream_id,
                   status.ToString());
      return;
    }
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
    // A stream's client that stops reading would make this queue grow
    // without bound, so the stream closes past a limit.
    queued_bytes_ += bytes.size();
    if (stream_parser_ && queued_bytes_ > options_.max_stream_queue_bytes) {
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
  net::thread_pool& store_pool_;
  const GatewayOptions options_;
  const HeaderIds ids_;

  // Used on the strand only.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string path_;
  // Streaming requests.
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  char body_buffer_[8192];
  std::string pending_;  // received body text not yet parsed
  bool watch_stream_ = false;
  bool response_started_ = false;
  bool failed_ = false;
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
      : store_(store),
        options_(options),
        store_pool_(std::max(1, options.store_threads)),
        acceptor_(net::make_strand(ioc_)) {}

  ~GatewayImpl() override {
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    for (std::thread& thread : threads_) thread.join();
    // Store calls still running finish; queued ones are dropped.
    store_pool_.stop();
    store_pool_.join();
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
    net::ip::address address = net::ip::make_address(options_.address, ec);
    if (ec) {
      return base::InvalidArgumentError(
          "etcd-gateway: invalid listen address " + options_.address);
    }
    base::Status listening =
        base::Listen(acceptor_, tcp::endpoint(address, options_.port));
    if (!listening.ok()) {
      return base::UnavailableError("etcd-gateway: " + listening.message());
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
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec,
                                                          tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        auto session = std::make_shared<Session>(std::move(socket), store_,
                                                 options_, store_pool_);
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
  net::thread_pool store_pool_;
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
