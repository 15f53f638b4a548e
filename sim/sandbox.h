// Sandbox: the whole simulated control plane on loopback, for developers and
// for tests written in any language. `sim serve` runs one.
//
// A running sandbox serves
//  - the Key Protect API of the mock KMS (kms-mock/server.h), with one
//    bearer token of the Manager role and an IAM API key for it;
//  - per cluster, the Kubernetes API over HTTPS (apiserver/http_server.h)
//    that kubectl reaches through the kubeconfig, and an etcd 3.4 JSON
//    gateway (etcd-store/gateway.h) over the cluster's store, where the
//    stored bytes of each Secret can be read;
//  - the control API over plain HTTP (sim/control_api.cc): the clock, KMS
//    faults, clusters, keys, snapshots, events and `ks` commands.
// Every component runs on one SimulatedClock. With a simulated clock it
// moves only through the control API (or `ks clock advance`); with a real
// clock a driver thread moves it with the wall clock, times the speed, and
// the control API can still jump it forward.
//
// An unusable master (root key disabled, expired or deleted, once the
// cluster noticed) behaves as unusable_master says; by default its server
// stops completing TCP handshakes, so kubectl fails with `dial tcp
// <ip>:<port>: i/o timeout`, or with its request timeout when that is
// shorter.
//
// The data directory contains sandbox.json (clock, ports, tokens), state/
// (the Environment: account, KMS, clusters), snapshots/<name>/, the
// combined kubeconfig and kubeconfigs/<cluster>.yaml. A restart on the same
// directory binds the same ports and finds every key, Secret and cluster.
//
// Thread-safe. Stop may be called from any thread except the servers'.
#ifndef SIM_SANDBOX_H_
#define SIM_SANDBOX_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "apiserver/http_server.h"
#include "base/status.h"
#include "sim/cluster.h"

namespace sim {

struct SandboxOptions {
  std::string data_dir;
  std::string address = "127.0.0.1";
  // 0 reuses the port stored in the data directory, or picks a free one.
  uint16_t control_port = 0;
  uint16_t kms_port = 0;
  // "simulated" or "real"; a new data directory stores it, and a restart
  // without an explicit clock keeps the stored one.
  std::optional<std::string> clock;
  std::optional<double> speed;  // virtual seconds per real second (real)
  std::string start;            // RFC 3339; empty: 2026-01-01T00:00:00Z
  std::string owner = kDefaultOwner;
  // Clusters created at start unless one of the name exists. A new data
  // directory without any gets one 1.19 classic cluster named "mycluster",
  // with `default_workers` workers (0 to kMaxWorkers).
  std::vector<ClusterSpec> clusters;
  int default_workers = 0;
  // How the API server of an unusable master treats clients.
  apiserver::ServeMode unusable_master = apiserver::ServeMode::kTimeout;
  // When set, the actions taken against the sandbox are written to this
  // file as a scenario that `sim replay` runs.
  std::string record_path;
};

// What a client needs to reach one cluster.
struct SandboxClusterInfo {
  std::string name;
  std::string api_url;   // "https://127.0.0.1:<port>"
  std::string etcd_url;  // "http://127.0.0.1:<port>"
  std::string token;     // the bearer token of the kubeconfig
};

struct SandboxInfo {
  std::string data_dir;
  std::string control_url;
  std::string kms_url;
  std::string kms_token;    // bearer token of the Manager role
  std::string kms_api_key;  // IAM API key for POST /identity/token
  std::string kubeconfig;   // path of the kubeconfig of every cluster
  std::string clock;        // e.g. "simulated, now 2026-01-01T00:00:00Z"
  std::vector<SandboxClusterInfo> clusters;
};

class Sandbox {
 public:
  // Opens the data directory (creating it when missing), starts every
  // server and writes the kubeconfig. Fails with kInvalidArgument for bad
  // options, kFailedPrecondition when another sandbox uses the directory,
  // kUnavailable when a port cannot be bound (the message names the port
  // and what uses it), and with the Environment's errors. A failed start on
  // a new directory removes what it created, so the next start finds the
  // directory new.
  static base::StatusOr<std::unique_ptr<Sandbox>> Start(SandboxOptions options);
  ~Sandbox();  // stops

  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  SandboxInfo Info() const;
  // The summary that `sim serve` prints: endpoints, tokens, kubeconfig.
  std::string Summary() const;

  // Stops every server, ends event streams, stores the clock and closes the
  // data directory. Calling it again does nothing.
  void Stop();

  struct Impl;  // sandbox.cc, shared with control_api.cc

 private:
  explicit Sandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Returns OK for a loopback IP address, 127.0.0.0/8 or ::1, which are the
// only addresses a sandbox listens on. Fails with kInvalidArgument for
// anything else, host names such as localhost included, since a name may
// resolve to several addresses or to none that the servers can bind.
base::Status ValidateLoopbackAddress(const std::string& address);

// The largest clock speed: a virtual day per real second. The driver moves
// a real clock in steps of an hour, so 24 steps per real second keep up.
// NOTE: base::Time ends in 2262, which a clock at this speed reaches from
// 2026 in about a day of running.
inline constexpr double kMaxClockSpeed = 86400;

// Returns OK for a clock speed greater than 0 and at most kMaxClockSpeed.
// Fails with kInvalidArgument otherwise, for NaN and infinities too.
base::Status ValidateClockSpeed(double speed);

// Parses the text of --clock-speed, a decimal number such as 60 or 0.5,
// and checks it with ValidateClockSpeed.
base::StatusOr<double> ParseClockSpeed(const std::string& text);

// How long `sim ks` waits for a sandbox by default: for the connection,
// for sending the request, and for each read of the response.
inline constexpr std::chrono::milliseconds kDefaultKsTimeout =
    std::chrono::seconds(60);

// Runs `sim ks` words on the sandbox whose control API is at `control_url`
// ("http://127.0.0.1:<port>"), printing what the command printed there.
// Returns the command's exit code, or 1 when the sandbox cannot be reached
// or does not respond within `timeout` (the error names the timeout).
int RunKsOnSandbox(const std::string& control_url,
                   const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err,
                   std::chrono::milliseconds timeout = kDefaultKsTimeout);

}  // namespace sim

#endif  // SIM_SANDBOX_H_
