// `ks` commands on a running sandbox: SandboxKsHost runs them in the
// sandbox's process on its live environment, and RunKsOnSandbox sends them
// there from another process through POST /v1/ks.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "sim/sandbox_internal.h"

namespace sim {
namespace {

class SandboxKsHost : public KsHost {
 public:
  SandboxKsHost(Sandbox::Impl& sandbox, Runtime& rt)
      : sandbox_(sandbox), rt_(rt), clusters_(rt.env->Clusters().size()) {}

  base::Status Init(const KsGlobalFlags&, const KsInitFlags&) override {
    return base::FailedPreconditionError(
        "`ks init` creates a state directory, but this command runs on a "
        "sandbox, which has its state already; unset SIM_SANDBOX to use a "
        "state directory");
  }
  base::StatusOr<Environment*> Open(const KsGlobalFlags&) override {
    return rt_.env.get();
  }
  base::Status AdvanceClock(base::Duration delta) override {
    return sandbox_.Advance(rt_, delta);
  }
  std::string ClockDescription() const override {
    return sandbox_.ClockDescription(rt_);
  }
  std::string KubeconfigDir() const override {
    return sandbox_.options.data_dir + "/kubeconfigs";
  }
  base::Status Close() override {
    // A command may have created a cluster, which needs its servers.
    RETURN_IF_ERROR(sandbox_.AttachMasters(rt_));
    if (rt_.env->Clusters().size() != clusters_) {
      clusters_ = rt_.env->Clusters().size();
      RETURN_IF_ERROR(sandbox_.WriteKubeconfig(rt_));
      RETURN_IF_ERROR(sandbox_.SaveState(rt_));
    }
    sandbox_.RefreshModes(rt_);
    return base::OkStatus();
  }

 private:
  Sandbox::Impl& sandbox_;
  Runtime& rt_;
  size_t clusters_;
};

// Splits "http://host:port[/...]" into host and port; an IPv6 host is in
// brackets, as in "http://[::1]:8080".
bool ParseUrl(const std::string& url, std::string& host, std::string& port) {
  const std::string scheme = "http://";
  if (!url.starts_with(scheme)) return false;
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = rest.substr(0, colon);
  port = rest.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  }
  return !host.empty() && !port.empty();
}

// Connects `fd` to `address`, waiting at most `timeout`. Returns 0 or an
// errno value (ETIMEDOUT when the time ran out).
int ConnectWithin(int fd, const addrinfo& address,
                  std::chrono::milliseconds timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int result = 0;
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    result = errno;
    if (result == EINPROGRESS) {
      pollfd waiting{fd, POLLOUT, 0};
      int ready;
      do {
        ready = ::poll(&waiting, 1, static_cast<int>(timeout.count()));
      } while (ready < 0 && errno == EINTR);
      socklen_t size = sizeof result;
      if (ready == 0) {
        result = ETIMEDOUT;
      } else if (ready < 0 ||
                 ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size) != 0) {
        result = errno;
      }
    }
  }
  ::fcntl(fd, F_SETFL, flags);
  return result;
}

// Sends one HTTP/1.1 request with "Connection: close" and returns the
// status and body. A tiny client, so that `sim ks` needs no HTTP library.
// Connecting, sending and each read of the response wait at most
// `timeout`.
base::StatusOr<std::pair<int, std::string>> Post(
    const std::string& url, const std::string& path, const std::string& body,
    std::chrono::milliseconds timeout) {
  std::string host, port;
  if (!ParseUrl(url, host, port)) {
    return base::InvalidArgumentError(
        "invalid sandbox URL \"" + url +
        "\": expected the control API's address such as "
        "http://127.0.0.1:8080, as `sim serve` prints it");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) {
    return base::UnavailableError("cannot resolve the sandbox host " + host);
  }
  int fd = -1;
  int connect_error = 0;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd < 0) {
      connect_error = errno;
      continue;
    }
    connect_error = ConnectWithin(fd, *ai, timeout);
    if (connect_error != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  const std::string waited = base::FormatDuration(timeout);
  if (fd < 0) {
    return base::UnavailableError(
        "cannot reach the sandbox at " + url + ": " +
        (connect_error == ETIMEDOUT ? "no connection within " + waited
                                    : std::strerror(connect_error)) +
        "; start it with `sim serve`, or unset SIM_SANDBOX to use a state "
        "directory");
  }
  timeval limit{};
  limit.tv_sec = timeout.count() / 1000;
  limit.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  const base::Status timed_out = base::DeadlineExceededError(
      "the sandbox at " + url + " did not respond within " + waited +
      "; it may be busy with a long clock advance (GET " + url +
      "/v1/clock shows the clock moving), so try again later or pass "
      "--request-timeout with a longer duration");

  std::string authority = url.substr(7, url.find('/', 7) - 7);
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + authority +
                        "\r\nContent-Type: application/json\r\n"
                        "Connection: close\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n =
        ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      bool expired = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      ::close(fd);
      if (expired) return timed_out;
      return base::UnavailableError("lost the connection to the sandbox at " +
                                    url);
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ::close(fd);
      return timed_out;
    }
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t header_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.1 ") || header_end == std::string::npos) {
    return base::UnavailableError("the sandbox at " + url +
                                  " sent a malformed response");
  }
  int status = std::atoi(response.c_str() + 9);
  return std::pair(status, response.substr(header_end + 4));
}

}  // namespace

int Sandbox::Impl::RunKsCommand(Runtime& rt,
                                const std::vector<std::string>& args,
                                std::string& out, std::string& err) {
  std::ostringstream out_stream, err_stream;
  SandboxKsHost host(*this, rt);
  // Without --user the owner acts, whatever $SIM_KS_USER the sandbox's own
  // process has, because the client sends its $SIM_KS_USER as --user.
  int code = RunKs(host, WithKsUser(args, rt.env->account().owner()),
                   out_stream, err_stream);
  out = out_stream.str();
  err = err_stream.str();
  if (recorder) recorder->KsCommand(*rt.env, args, code);
  return code;
}

int RunKsOnSandbox(const std::string& control_url,
                   const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err, std::chrono::milliseconds timeout) {
  base::StatusOr<std::pair<int, std::string>> response =
      Post(control_url, "/v1/ks",
           json{{"args", args}}.dump(-1, ' ', false,
                                     nlohmann::json::error_handler_t::replace),
           timeout);
  if (!response.ok()) {
    err << "FAILED\n" << response.status().message() << "\n";
    return 1;
  }
  json body = json::parse(response->second, nullptr, false);
  if (response->first != 200 || !body.is_object() ||
      !body.contains("exit_code")) {
    std::string message = body.is_object() && body.contains("error")
                              ? body["error"].value("message", "")
                              : response->second;
    err << "FAILED\nthe sandbox at " << control_url << " rejected the command"
        << (message.empty() ? "" : ": " + message) << "\n";
    return 1;
  }
  out << body.value("stdout", "");
  err << body.value("stderr", "");
  return body["exit_code"].get<int>();
}

}  // namespace sim
