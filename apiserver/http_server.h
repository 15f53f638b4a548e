// The Kubernetes API (core/v1 Secrets, ConfigMaps and Namespaces, discovery
// and health) over HTTPS, for real clients such as kubectl.
//
// ApiHandler turns one request into one response and keeps no connection
// state, so tests can call it directly. HttpServer serves an ApiHandler (or
// any RequestHandler) over TLS on Boost.Beast, one session per connection,
// with a self-signed certificate unless one is given, or over plain HTTP.
// Its ServeMode makes it unreachable in the ways a real master can be.
//
// Usage:
//   apiserver::ApiHandler handler(registry, clock, {});
//   auto server = apiserver::HttpServer::Start(handler, clock, random, {});
//   // write (*server)->Kubeconfig() to a file and run kubectl with it
//
// Errors are v1 Status objects with upstream's reason, code and message:
// `{"kind":"Status","status":"Failure","reason":"NotFound","code":404,
// "message":"secrets \"x\" not found",...}`. A failed decryption is 500
// InternalError `Internal error occurred: unable to transform key ...`.
//
// Both classes are thread-safe. Stop may be called from any thread except a
// server thread.
#ifndef APISERVER_HTTP_SERVER_H_
#define APISERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apiserver/encryption_config.h"
#include "apiserver/metrics.h"
#include "apiserver/registry.h"
#include "apiserver/tls_certificates.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"

namespace apiserver {

// Request bodies over 3 MiB (3,145,728 bytes) are rejected with 413
// RequestEntityTooLarge `Request entity too large: limit is 3145728`, as
// kube-apiserver's default --max-request-body-bytes.
inline constexpr size_t kMaxApiRequestBodyBytes = 3 * 1024 * 1024;

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query: "/api/v1/secrets?limit=500"
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// Sends one line of a watch stream, or ends the stream when given nullopt.
// Callable from any thread.
using StreamSink = std::function<void(std::optional<std::string>)>;

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  // Further headers, such as a "Warning" for each unknown field that
  // fieldValidation=Warn reports.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set for a watch instead of a body: starts the stream, which sends its
  // lines to the sink, and returns the function that stops it.
  std::function<std::function<void()>(StreamSink)> stream;
};

struct ApiHandlerOptions {
  // Reported by /version.
  std::string git_version = "v1.32.0";
  // Returns OK when every KMS provider is healthy, else the error that
  // /healthz/kms-providers and /readyz report. Unset: no KMS check.
  std::function<base::Status()> kms_health;
  // Returns the statistics of each KMS v2 provider by name, for /metrics.
  // Unset: no KMS metrics.
  std::function<std::map<std::string, KmsV2Stats>()> kms_stats;
  // Whether the server validates fields itself (the fieldValidation query
  // parameter, published in the OpenAPI documents). When false, the server
  // behaves as one that predates server-side field validation: it drops
  // unknown fields silently, and kubectl validates on the client instead.
  bool server_side_field_validation = true;
  // How often a watch that allows bookmarks gets a BOOKMARK event, on the
  // handler's clock. kube-apiserver sends them about once a minute.
  base::Duration bookmark_interval = std::chrono::minutes(1);
  // Returns the counts of an EncryptionConfigReloader, for /metrics. Unset:
  // no reload metrics.
  std::function<EncryptionConfigReloader::Stats()> encryption_config_reloads;
  // Bearer tokens that authenticate requests, each mapped to its user name.
  // Empty turns authentication off: every request is served. Otherwise, as
  // kube-apiserver with anonymous requests allowed and RBAC's default
  // roles: a wrong token gets 401 Unauthorized; a request without an
  // Authorization header is user "system:anonymous", which may read only
  // /healthz, /livez, /readyz (and their checks) and /version, and gets 403
  // Forbidden elsewhere. Every authenticated user may do everything.
  std::map<std::string, std::string> bearer_tokens;
};

class ApiHandler {
 public:
  struct Selector;  // a parsed labelSelector and fieldSelector
  struct Route;     // a parsed /api/v1 resource path

  // `registry` and `clock` must outlive the handler, and the handler must
  // outlive the watch streams it started.
  ApiHandler(Registry& registry, base::Clock& clock, ApiHandlerOptions options);

  ApiResponse Handle(const ApiRequest& request);

  // Returns whether `request`, a write, is a server-side dry run: dryRun=All
  // in its query or, for a DELETE, in its DeleteOptions body. Reads the
  // request as Handle does, so a caller such as a session recorder can tell
  // a dry run from a real write.
  static bool IsDryRun(const ApiRequest& request);

 private:
  // Returns the response that rejects the request's credentials, if any.
  std::optional<ApiResponse> Authenticate(const ApiRequest& request,
                                          bool& anonymous) const;
  ApiResponse Dispatch(const ApiRequest& request, Route& route);
  ApiResponse HandleResource(const ApiRequest& request, Route& route);
  ApiResponse HandleNonResource(
      const ApiRequest& request, const std::string& path,
      const std::map<std::string, std::string>& query);
  ApiResponse HandleHealth(const std::string& path,
                           const std::map<std::string, std::string>& query);
  ApiResponse List(const ApiRequest& request, const Route& route,
                   const Selector& selector);
  ApiResponse Create(const ApiRequest& request, const Route& route);
  ApiResponse Replace(const ApiRequest& request, const Route& route);
  ApiResponse Patch(const ApiRequest& request, const Route& route);
  // Server-side apply: a PATCH with application/apply-patch+yaml.
  ApiResponse Apply(const ApiRequest& request, const Route& route);
  ApiResponse DeleteCollection(const ApiRequest& request, const Route& route,
                               const Selector& selector);
  ApiResponse Watch(const ApiRequest& request, const Route& route,
                    const Selector& selector);
  ApiResponse Metrics();

  Registry& registry_;
  base::Clock& clock_;
  const ApiHandlerOptions options_;
  RequestMetrics request_metrics_;
};

// Turns one request into one response; called on the server's threads.
using RequestHandler = std::function<ApiResponse(const ApiRequest&)>;

// How an HttpServer treats clients, so that a sandbox can make a master
// unreachable as a real one becomes.
enum class ServeMode {
  kServe,  // respond to every request
  // Leave TCP connections half open: the server stops accepting and keeps
  // its listen queue full, so the kernel drops new SYNs and a client's
  // connect times out. Go clients such as kubectl then report `dial tcp
  // <ip>:<port>: i/o timeout` once their 30 s dial timeout passes. Requests
  // on connections opened before get no response.
  kTimeout,
  // Accept connections and never respond: no TLS handshake on new
  // connections and no response on open ones.
  kHang,
  // Close the listening socket (connection refused) and close an open
  // connection when its next request arrives.
  kRefuse,
  // Respond to every request with 503 ServiceUnavailable.
  kUnavailable,
};

// "serve", "timeout", "hang", "refuse", "unavailable".
std::string_view ServeModeName(ServeMode mode);
std::optional<ServeMode> ParseServeMode(std::string_view name);

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; see HttpServer::port()
  int threads = 1;    // threads running the I/O loop
  // Threads that run the handler for requests other than GET and HEAD,
  // off the I/O loop, because such a handler blocks until its store write
  // is synced. Concurrent writes share one sync, so this also bounds how
  // many writes one sync can carry. GET and HEAD run on the I/O threads.
  int handler_threads = 64;
  // A connection that sends no complete request for this long is closed.
  std::chrono::seconds idle_timeout{60};
  // PEM certificate and private key. When empty, Start generates a
  // self-signed certificate for 127.0.0.1 and localhost.
  std::string certificate_pem;
  std::string private_key_pem;
  // False serves plain HTTP (no certificate is made or used).
  bool tls = true;
  // The PEM CA certificate that clients should trust, for Kubeconfig().
  // Empty: the serving certificate itself.
  std::string ca_pem;
  // Builds the response to a request whose body exceeds
  // kMaxApiRequestBodyBytes, for a handler whose errors are not Kubernetes
  // Status objects. Unset: kube-apiserver's 413 RequestEntityTooLarge
  // Status.
  std::function<ApiResponse()> body_too_large;
};

class HttpServer {
 public:
  // Binds, listens and serves HTTPS on background threads. Fails with
  // kUnavailable when the address cannot be bound and kInvalidArgument for
  // a bad address or certificate. `handler` must outlive the server. The
  // clock and random source are used only for a generated certificate,
  // which is valid from a day before clock.Now() for ten years.
  static base::StatusOr<std::unique_ptr<HttpServer>> Start(
      ApiHandler& handler, base::Clock& clock, base::Random& random,
      const HttpServerOptions& options);
  // As above, for any handler, which must be safe to call from several
  // threads at once.
  static base::StatusOr<std::unique_ptr<HttpServer>> Start(
      RequestHandler handler, base::Clock& clock, base::Random& random,
      const HttpServerOptions& options);

  ~HttpServer();  // stops the server
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  // "https://127.0.0.1:<port>" ("http://" without TLS).
  std::string url() const;
  // The server's certificate in PEM; empty for plain HTTP.
  const std::string& certificate_pem() const;
  // The CA certificate that clients trust (HttpServerOptions::ca_pem, else
  // the serving certificate); empty for plain HTTP.
  const std::string& ca_pem() const;
  // A kubeconfig for kubectl with the server's URL, its CA and a user with
  // bearer token `token`. The handler decides whether the token is valid;
  // one without bearer_tokens accepts any, such as the default "sim".
  std::string Kubeconfig(const std::string& token = "sim") const;

  // Changes how clients are treated from now on. Leaving kTimeout or kHang
  // closes the connections that got no response. Fails with kUnavailable
  // when leaving kRefuse and the port cannot be bound again (the server
  // then stays in kRefuse). Calling it after Stop does nothing.
  base::Status SetMode(ServeMode mode);
  ServeMode mode() const;

  // Stops accepting, drops open connections and joins the threads. With a
  // `grace` period it first waits, for at most that long, until the
  // handlers of requests other than GET and HEAD have returned and their
  // responses are written. Calling it again does nothing.
  void Stop(
      std::chrono::milliseconds grace = std::chrono::milliseconds::zero());

 private:
  struct Impl;

  explicit HttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace apiserver

#endif  // APISERVER_HTTP_SERVER_H_
