#include "base/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <utility>

namespace base {

int HttpStatusForCode(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kAborted:
      return 409;
    case Code::kUnimplemented:
      return 405;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string JoinHostPort(std::string_view host, uint16_t port) {
  std::string out(host);
  if (host.find(':') != std::string_view::npos) out = "[" + out + "]";
  return out + ":" + std::to_string(port);
}

AddressKind ClassifyAddress(const std::string& address) {
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127 ? AddressKind::kLoopback
                                           : AddressKind::kOtherIp;
  }
  if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) ? AddressKind::kLoopback
                                     : AddressKind::kOtherIp;
  }
  return AddressKind::kNotIp;
}

std::optional<std::string> PercentDecode(std::string_view text,
                                         bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      unsigned value = 0;
      auto [end, error] =
          std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (error != std::errc() || end != text.data() + i + 3) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(value));
      i += 2;
    }
  }
  return out;
}

std::expected<RequestTarget, RequestTargetError> ParseRequestTarget(
    std::string_view target) {
  RequestTarget out;
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? "" : target.substr(question + 1);

  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view raw = path.substr(start, slash - start);
    if (!raw.empty()) {
      std::optional<std::string> segment = PercentDecode(raw, false);
      if (!segment) {
        return std::unexpected(RequestTargetError{
            "path", "path", "invalid percent-encoding in the path"});
      }
      out.segments.push_back(*segment);
    }
    start = slash + 1;
  }

  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t equals = pair.find('=');
    std::optional<std::string> name =
        PercentDecode(pair.substr(0, equals), true);
    std::optional<std::string> value =
        equals == std::string_view::npos
            ? std::optional<std::string>("")
            : PercentDecode(pair.substr(equals + 1), true);
    if (!name || !value) {
      return std::unexpected(
          RequestTargetError{"query", std::string(pair.substr(0, equals)),
                             "invalid percent-encoding in the query"});
    }
    auto [it, inserted] = out.query.try_emplace(*name, *value);
    if (!inserted) it->second += "," + *value;
  }
  return out;
}

}  // namespace base
