// HTTP helpers for the project's JSON APIs that need no server library:
// the HTTP status of a Status code, and the split of a request target into
// path segments and query parameters. Functions only, thread-safe.
#ifndef BASE_HTTP_H_
#define BASE_HTTP_H_

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace base {

// Returns the HTTP status of an error with `code`: 400 for
// kInvalidArgument and kOutOfRange, 401, 403, 404, 405 for kUnimplemented,
// 409 for kAlreadyExists, kFailedPrecondition and kAborted, 503, 504 for
// kDeadlineExceeded, and 500 for every other code. A server whose protocol
// maps reasons to statuses checks the reason first.
int HttpStatusForCode(Code code);

// Returns "host:port", with an IPv6 address in brackets ("[::1]:8080"), as
// URLs and Go's net.JoinHostPort write it.
std::string JoinHostPort(std::string_view host, uint16_t port);

// The kind of a listen address: a loopback IP address (127.0.0.0/8 or
// ::1), another IP address, or no IP address at all, such as a host name.
enum class AddressKind { kLoopback, kOtherIp, kNotIp };
AddressKind ClassifyAddress(const std::string& address);

// Decodes %XX escapes, and '+' as a space when `plus_is_space` (as in a
// query string). Returns nullopt when a '%' is not followed by two hex
// digits.
std::optional<std::string> PercentDecode(std::string_view text,
                                         bool plus_is_space);

// A request target such as "/api/v2/keys?limit=10", split and decoded.
struct RequestTarget {
  std::vector<std::string> segments;  // percent-decoded, empty ones dropped
  std::map<std::string, std::string> query;  // name -> percent-decoded value
};

// The part of a request target that failed to decode.
struct RequestTargetError {
  std::string part;     // "path" or "query"
  std::string name;     // "path", or the query parameter's name as sent
  std::string message;  // e.g. "invalid percent-encoding in the query"
};

// Splits `target` into path segments and query parameters, and decodes
// them ('+' is a space in the query only). A parameter without '=' has an
// empty value, and a repeated one (state=1&state=2) joins its values with
// commas (state=1,2). Fails on a malformed percent-escape.
std::expected<RequestTarget, RequestTargetError> ParseRequestTarget(
    std::string_view target);

}  // namespace base

#endif  // BASE_HTTP_H_
