// Helpers for the project's Boost.Beast HTTP servers: the listening
// socket's set-up, which connection errors are routine, and request header
// names in lower case. The file is header-only, so it adds no translation
// unit to compile. Include it only from a server's Beast source file, which
// links Boost::system. Functions only, thread-safe.
#ifndef BASE_BEAST_HTTP_H_
#define BASE_BEAST_HTTP_H_

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace base {

// Opens `acceptor` on `endpoint` with SO_REUSEADDR and listens with the
// maximum backlog. On failure closes the acceptor and returns kUnavailable
// naming the address and the cause.
inline Status Listen(boost::asio::ip::tcp::acceptor& acceptor,
                     const boost::asio::ip::tcp::endpoint& endpoint) {
  namespace net = boost::asio;
  boost::beast::error_code error;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(net::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(net::socket_base::max_listen_connections, error);
  if (error) {
    boost::beast::error_code ignored;
    acceptor.close(ignored);
    return UnavailableError(
        "cannot listen on " + endpoint.address().to_string() + ":" +
        std::to_string(endpoint.port()) + ": " + error.message());
  }
  return OkStatus();
}

// Whether `error`, which ended a connection, is ordinary traffic for an
// HTTP server: a timeout, a reset, an end of stream, a broken pipe or the
// server's own shutdown. Servers log those at debug level only.
inline bool IsRoutineDisconnect(const boost::beast::error_code& error) {
  namespace net = boost::asio;
  return error == net::error::operation_aborted ||
         error == boost::beast::error::timeout ||
         error == net::error::connection_reset || error == net::error::eof ||
         error == net::error::broken_pipe;
}

// Returns the response that Go's net/http server writes before it closes a
// connection whose request it could not read (conn.serve in
// net/http/server.go): `status`, such as "400 Bad Request", on the status
// line and as a plain-text body, with Connection: close.
inline std::string GoPlainTextReply(std::string_view status) {
  return "HTTP/1.1 " + std::string(status) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Connection: close\r\n\r\n" +
         std::string(status);
}

// Returns what Go's net/http server replies when reading a request fails
// with the Beast HTTP parse error `error`: "431 Request Header Fields Too
// Large" for header_limit and "400 Bad Request" for other parse errors,
// both as GoPlainTextReply. Returns nullopt for an error that is not a
// parse error, such as a timeout or a reset, and for a stream that ended
// (end_of_stream, partial_message), where Go closes without a reply. A
// body over the parser's limit (body_limit) is left to the caller.
inline std::optional<std::string> GoReplyToUnreadableRequest(
    const boost::beast::error_code& error) {
  namespace http = boost::beast::http;
  if (error.category() != make_error_code(http::error::bad_target).category() ||
      error == http::error::end_of_stream ||
      error == http::error::partial_message ||
      error == http::error::body_limit) {
    return std::nullopt;
  }
  if (error == http::error::header_limit) {
    return GoPlainTextReply("431 Request Header Fields Too Large");
  }
  return GoPlainTextReply("400 Bad Request");
}

// Returns the header fields of a request or response, with names in lower
// case. A repeated field keeps all its values, joined by ", ".
inline std::map<std::string, std::string> LowercaseFields(
    const boost::beast::http::fields& fields) {
  std::map<std::string, std::string> out;
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    // Repeated fields combine into one comma-separated value (RFC 9110,
    // section 5.3), so that no copy of a header silently wins.
    std::string value(field.value());
    auto [it, inserted] = out.try_emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  return out;
}

}  // namespace base

#endif  // BASE_BEAST_HTTP_H_
