// Internal: the HTTP/1.1 client that the etcd Store uses to reach etcd's v3
// JSON gateway. It keeps Boost.Beast out of every other file: this header
// declares plain interfaces and remote_http.cc implements them on Beast.
#ifndef ETCD_STORE_REMOTE_HTTP_H_
#define ETCD_STORE_REMOTE_HTTP_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace etcd::remote_internal {

// One etcd member's client address.
struct Endpoint {
  std::string host;
  uint16_t port = 0;

  std::string ToString() const;
};

// Parses "host:port" or "[v6-address]:port". Fails with kInvalidArgument.
base::StatusOr<Endpoint> ParseEndpoint(const std::string& text);

struct HttpResult {
  int status = 0;
  std::string body;  // de-chunked
};

// One persistent (keep-alive) connection to a member. Not thread-safe: a
// caller takes a connection from a pool, uses it alone and returns it.
class HttpConnection {
 public:
  // Connects within `timeout`. Fails with kUnavailable.
  static base::StatusOr<std::unique_ptr<HttpConnection>> Connect(
      const Endpoint& endpoint, std::chrono::milliseconds timeout);

  virtual ~HttpConnection() = default;

  // Sends a POST with a JSON body and reads the whole response within
  // `timeout`. Fails with kUnavailable on any transport error. Then
  // `request_sent` is true when any byte of the request left this process,
  // so that etcd may have received the request.
  virtual base::StatusOr<HttpResult> Post(const std::string& path,
                                          const std::string& body,
                                          std::chrono::milliseconds timeout,
                                          bool& request_sent) = 0;

  // Returns true when the connection can no longer be used: the server
  // closed it while it was idle, or it failed before.
  virtual bool IsBroken() = 0;
};

// A POST whose response is a long-lived chunked stream of lines, as etcd's
// /v3/watch: the request body is sent whole and the response is read line
// by line as it arrives.
class HttpLineStream {
 public:
  // Connects, sends the request and reads the response header. Fails with
  // kUnavailable on a transport error or a status other than 200.
  static base::StatusOr<std::unique_ptr<HttpLineStream>> Open(
      const Endpoint& endpoint, const std::string& path,
      const std::string& body, std::chrono::milliseconds timeout);

  virtual ~HttpLineStream() = default;

  // Blocks until the next complete line (without its newline) and returns
  // it. Fails with kUnavailable when the stream ends, breaks or is shut
  // down. There is no timeout: a watch may stay quiet for hours.
  virtual base::StatusOr<std::string> ReadLine() = 0;

  // Makes a blocked or later ReadLine fail at once. Thread-safe, unlike
  // every other call.
  virtual void Shutdown() = 0;
};

}  // namespace etcd::remote_internal

#endif  // ETCD_STORE_REMOTE_HTTP_H_
