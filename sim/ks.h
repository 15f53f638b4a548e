// The `ks` command line: the managed service's `ibmcloud ks` cluster, KMS,
// API key and worker commands, run against an Environment. Further commands
// stand in for what a user does elsewhere (creating clusters, KMS instances
// and keys, IAM policies) and move a simulated clock.
//
// RunKs parses one command line with CLI11 and runs it on a KsHost, which
// supplies the Environment: sim/ks_state.h keeps one in a state directory
// between processes, and a sandbox can supply its running one. Output goes
// to `out` (human text as `ibmcloud ks` prints it, or JSON with
// `--output json`); errors go to `err` as "FAILED" and a message that names
// the missing role, key, instance or state and what to do.
//
// Exit codes: 0 success, 1 the command failed (nothing changed), 2 invalid
// usage (unknown command or flag, missing flag).
#ifndef SIM_KS_H_
#define SIM_KS_H_

#include <ostream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "sim/environment.h"

namespace sim {

// Flags that every `ks` command accepts.
struct KsGlobalFlags {
  std::string state_dir;  // --state, or $SIM_KS_STATE
  std::string user;       // --user, or $SIM_KS_USER; empty: the owner
};

// Flags of `ks init`, which creates a state directory.
struct KsInitFlags {
  std::string owner = kDefaultOwner;
  // "simulated": time moves only with `ks clock advance`; "real": time
  // follows the wall clock between invocations, times `speed`.
  std::string clock = "simulated";
  double speed = 1.0;
  std::string start;  // RFC 3339; empty: 2026-01-01T00:00:00Z
  uint64_t seed = 1;
};

// The host of `ks` commands: their state and clock.
class KsHost {
 public:
  virtual ~KsHost() = default;
  // Creates a new state. Fails with kAlreadyExists when one exists.
  virtual base::Status Init(const KsGlobalFlags& flags,
                            const KsInitFlags& init) = 0;
  // Opens the state for one command; the pointer stays valid until Close.
  virtual base::StatusOr<Environment*> Open(const KsGlobalFlags& flags) = 0;
  // Moves the clock forward, firing every timer due on the way.
  virtual base::Status AdvanceClock(base::Duration delta) = 0;
  // Describes the clock, e.g. "simulated, now 2026-01-01T00:10:00Z".
  virtual std::string ClockDescription() const = 0;
  // Where `ks cluster config` writes kubeconfig files.
  virtual std::string KubeconfigDir() const = 0;
  // Ends the command: stores the clock and releases the state.
  virtual base::Status Close() = 0;
};

// Runs `args` (the words after `ks`) and returns the exit code.
int RunKs(KsHost& host, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err);

// Returns `args` with `--user USER` in front, unless `user` is empty or
// `args` already pass --user. A sandbox runs `ks` in its own process, so
// the acting user travels as a flag rather than through $SIM_KS_USER.
std::vector<std::string> WithKsUser(std::vector<std::string> args,
                                    const std::string& user);

}  // namespace sim

#endif  // SIM_KS_H_
