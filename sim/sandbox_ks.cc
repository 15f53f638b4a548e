// `ks` commands on a running sandbox: SandboxKsHost runs them in the
// sandbox's process on its live environment, and RunKsOnSandbox sends them
// there from another process through POST /v1/ks.
#include <netdb.h>
#include <sys/socket.h>
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

// Splits "http://host:port[/...]" into host and port.
bool ParseUrl(const std::string& url, std::string& host, std::string& port) {
  const std::string scheme = "http://";
  if (!url.starts_with(scheme)) return false;
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = rest.substr(0, colon);
  port = rest.substr(colon + 1);
  return !port.empty();
}

// Sends one HTTP/1.1 request with "Connection: close" and returns the
// status and body. A tiny client, so that `sim ks` needs no HTTP library.
base::StatusOr<std::pair<int, std::string>> Post(const std::string& url,
                                                 const std::string& path,
                                                 const std::string& body) {
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
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  int connect_errno = errno;
  freeaddrinfo(found);
  if (fd < 0) {
    return base::UnavailableError(
        "cannot reach the sandbox at " + url + ": " +
        std::strerror(connect_errno) +
        "; start it with `sim serve`, or unset SIM_SANDBOX to use a state "
        "directory");
  }
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" +
                        port +
                        "\r\nContent-Type: application/json\r\n"
                        "Connection: close\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n =
        ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
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
  int code = RunKs(host, args, out_stream, err_stream);
  out = out_stream.str();
  err = err_stream.str();
  if (recorder) recorder->KsCommand(*rt.env, args, code);
  return code;
}

int RunKsOnSandbox(const std::string& control_url,
                   const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  base::StatusOr<std::pair<int, std::string>> response =
      Post(control_url, "/v1/ks", json{{"args", args}}.dump());
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
