// Server: the Key Protect-compatible HTTP/1.1 server of the mock KMS, on
// Boost.Beast. It accepts connections on one address, runs a session per
// connection and hands each request to a KeyProtectApi.
//
// Usage:
//   kms::KeyProtectApi api(service, clock, tokens);
//   auto server = kms::Server::Start(api, {.port = 0});
//   // ... point clients at http://127.0.0.1:<server->port()> ...
//   (*server)->Stop();
//
// Besides responding to requests, the server carries out injected faults
// (faults.h). It delays responses on the API's clock, resets connections or
// never responds on them, and stops listening during an unscoped refuse
// outage. It also streams key events for GET /control/events.
//
// Plain HTTP only. Thread-safe; Stop may be called from any thread except a
// server thread.
#ifndef KMS_MOCK_SERVER_H_
#define KMS_MOCK_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "kms-mock/api.h"

namespace kms {

// The request body limit, 1 MiB (1,048,576 bytes), with Content-Length or
// chunked. A larger body gets a 400 BAD_BODY_ERR naming the body as soon as
// the limit is passed. The server then closes the connection, after reading
// and dropping at most 4 MiB more so that the client receives the response.
// Key Protect request bodies are a few KiB at most.
inline constexpr size_t kMaxRequestBodyBytes = 1 << 20;

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; see Server::port()
  int threads = 1;    // threads running the I/O loop
  // A connection that sends no complete request for this long is closed.
  std::chrono::seconds idle_timeout{30};
};

class Server {
 public:
  // Binds, listens and starts serving on background threads. Fails with
  // kUnavailable when the address cannot be bound and kInvalidArgument for
  // an address that does not parse. `api` must outlive the server.
  static base::StatusOr<std::unique_ptr<Server>> Start(
      KeyProtectApi& api, const ServerOptions& options);

  ~Server();  // stops the server
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port, useful when ServerOptions::port was 0.
  uint16_t port() const;

  // Stops accepting, drops open connections and joins the threads. Calling
  // it again does nothing.
  void Stop();

 private:
  struct Impl;  // defined in server.cc

  explicit Server(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace kms

#endif  // KMS_MOCK_SERVER_H_
