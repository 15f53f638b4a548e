// Private to the sandbox: the state shared by sandbox.cc (lifecycle, clock,
// servers, snapshots), control_api.cc (the control API's routes),
// sandbox_ks.cc (`ks` commands on the running environment) and
// sandbox_record.cc (the scenario recorder).
//
// Locking: runtime_mu guards `runtime`. Requests, `ks` commands and clock
// advances hold it shared; snapshot, restore and Stop hold it exclusively,
// and stop the servers of the runtime before replacing it. Master servers'
// handlers never take runtime_mu, so Stop can join their threads while
// holding it. advance_mu serializes clock advances; modes_mu serializes
// changes of the masters' ServeMode. Order: runtime_mu, advance_mu,
// modes_mu, then the leaf mutexes (masters_mu, events_mu, save_mu,
// ports_mu, the recorder's).
#ifndef SIM_SANDBOX_INTERNAL_H_
#define SIM_SANDBOX_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "apiserver/http_server.h"
#include "base/clock.h"
#include "base/random.h"
#include "etcd-store/gateway.h"
#include "kms-mock/api.h"
#include "kms-mock/server.h"
#include "sim/environment.h"
#include "sim/ks.h"
#include "sim/sandbox.h"

namespace sim {

using nlohmann::json;

// One cluster's servers. The API server starts before the cluster exists
// (its address becomes the cluster's endpoint) and answers 503 until
// `handler` is set.
struct Master {
  std::string cluster_name;
  Cluster* model = nullptr;  // set with handler
  std::string token;         // the cluster's bearer token
  std::unique_ptr<apiserver::ApiHandler> handler;
  std::atomic<apiserver::ApiHandler*> ready{nullptr};
  std::unique_ptr<apiserver::HttpServer> api;
  std::unique_ptr<etcd::Gateway> etcd;
  apiserver::ServeMode unusable_mode = apiserver::ServeMode::kTimeout;
};

// What a restore replaces: the clock, the environment and the servers that
// use them.
struct Runtime {
  std::unique_ptr<base::SimulatedClock> clock;
  std::unique_ptr<Environment> env;
  std::unique_ptr<kms::KeyProtectApi> kms_api;
  std::unique_ptr<kms::Server> kms_server;
  kms::KeyService::SubscriptionId kms_subscription = 0;

  std::mutex masters_mu;
  // By cluster name; guarded by masters_mu.
  std::map<std::string, std::shared_ptr<Master>> masters;

  std::vector<std::shared_ptr<Master>> Masters() {
    std::lock_guard lock(masters_mu);
    std::vector<std::shared_ptr<Master>> out;
    for (auto& [name, master] : masters) out.push_back(master);
    return out;
  }
  std::shared_ptr<Master> FindMaster(const std::string& name) {
    std::lock_guard lock(masters_mu);
    auto it = masters.find(name);
    return it == masters.end() ? nullptr : it->second;
  }
};

// Writes the actions taken against a sandbox as a scenario file
// (sandbox_record.cc). Thread-safe.
class Recorder {
 public:
  explicit Recorder(std::string path);
  ~Recorder();

  // Declares what exists now (clusters, KMS instances and keys, Secrets)
  // and writes the file.
  base::Status Begin(Environment& env);
  // Adds one step, given as a JSON object with one step keyword, and
  // rewrites the file.
  void Step(json step);
  // Adds a YAML comment line, for an action that no step can replay.
  void Comment(const std::string& text);
  // Records a KMS fault from the JSON that the KMS mock returned for it
  // (kms-mock/control_api.cc), as a kms_fault step.
  void FaultAdded(Environment& env, const json& fault);
  // Records the removal of the fault with the KMS mock's `id`, or of every
  // fault when `id` is empty.
  void FaultsCleared(std::optional<uint64_t> id);
  // Records a snapshot saved or restored under `name`. Both restart the
  // sandbox's KMS, which ends every fault, so a clear_kms_fault step follows
  // when a replay may have faults in effect.
  void Snapshot(const std::string& name);
  void Restore(const std::string& name);
  // Records a KMS instance or key created after Begin.
  void AddInstance(const kms::Instance& instance);
  // Records a KMS key created after Begin as a create_key step.
  void KeyCreated(Environment& env, const kms::Key& key);
  // Returns the scenario name of a key, adding a create_key step first for
  // a key created through the Key Protect API.
  std::string KeyName(Environment& env, const std::string& key_id);
  std::string InstanceName(const std::string& instance_id);
  // Records a cluster created after Begin (declared with the others).
  void AddCluster(const Cluster& cluster);
  // Records a successful Kubernetes write on `cluster`'s API server.
  void KubernetesWrite(Cluster& cluster, const apiserver::ApiRequest& request,
                       const apiserver::ApiResponse& response);
  // Records a `ks` command that exited with `exit_code`.
  void KsCommand(Environment& env, const std::vector<std::string>& args,
                 int exit_code);
  // Adds expectations of the final cluster and key states, and writes the
  // file.
  base::Status Finish(Environment& env);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct Sandbox::Impl {
  // Constant after Start.
  SandboxOptions options;
  std::string state_dir;     // <data_dir>/state
  std::string snapshot_dir;  // <data_dir>/snapshots
  base::SecureRandom random;
  bool real_clock = false;
  double speed = 1.0;
  std::string kms_token;
  std::string kms_api_key;
  uint16_t kms_port = 0;
  std::unique_ptr<apiserver::HttpServer> control;
  std::unique_ptr<Recorder> recorder;  // null unless recording
  int lock_fd = -1;                    // of sandbox.lock, held until Stop
  std::chrono::steady_clock::time_point started;

  std::shared_mutex runtime_mu;
  std::unique_ptr<Runtime> runtime;  // guarded by runtime_mu
  // Ports by cluster id: {"api": N, "etcd": N}. Guarded by runtime_mu
  // (exclusive) or, with it shared, by masters of the runtime.
  json cluster_ports = json::object();
  std::mutex ports_mu;  // guards cluster_ports under a shared runtime_mu

  // Set first by Stop. An advance in progress then stops at its next step,
  // and snapshots and restores are rejected.
  std::atomic<bool> stop_requested{false};
  // True while a request advances the clock, so that a second advance, a
  // snapshot or a restore is rejected instead of taking a server thread
  // until the first finishes.
  std::atomic<bool> advancing{false};

  // The real clock's mapping: virtual = base_virtual + (steady now -
  // base_steady) * speed. Guarded by advance_mu.
  std::mutex advance_mu;
  base::Time base_virtual;
  std::chrono::steady_clock::time_point base_steady;

  std::mutex modes_mu;

  // Serializes writes of sandbox.json. saved_clock is the virtual time it
  // contains, never behind the clock while the runtime runs, so that a
  // restart after a crash does not go back in time.
  std::mutex save_mu;
  base::Time saved_clock;          // guarded by save_mu
  bool clock_save_failed = false;  // guarded by save_mu; logs once

  // The driver thread moves a real clock and applies modes after events.
  std::mutex driver_mu;
  std::condition_variable driver_wake;
  bool stopping = false;     // guarded by driver_mu
  bool modes_dirty = false;  // guarded by driver_mu
  std::thread driver;

  // Events of clusters and keys, for GET /v1/events.
  std::mutex events_mu;
  std::deque<json> recent_events;                            // guarded
  std::map<uint64_t, apiserver::StreamSink> event_watchers;  // guarded
  uint64_t next_watcher = 1;                                 // guarded
  uint64_t event_seq = 0;                                    // guarded

  std::once_flag stopped;

  // --- sandbox.cc ---
  // Opens the data directory and serves it; on failure stops what started
  // and, for a new directory, removes what it created.
  base::Status Open();
  base::Status ValidateOptions() const;
  // Takes <data_dir>/sandbox.lock with flock and writes the process id to
  // it. Fails with kFailedPrecondition naming the process that has it locked.
  base::Status LockDataDir();
  void UnlockDataDir();
  // Starts the runtime and the control API on the locked data directory;
  // `fresh` when it has no sandbox.json yet.
  base::Status Serve(bool fresh);
  // Undoes a failed Serve: stops the servers and the runtime, releases the
  // lock, and for a fresh directory removes the files Serve created, and
  // the directory itself unless it `existed` before.
  void AbandonStart(bool fresh, bool existed);
  // Creates the clock, environment and servers at virtual time `now`.
  // REQUIRES: runtime_mu held exclusively (or during Start).
  base::Status StartRuntime(base::Time now);
  // Stops the runtime's servers and closes the environment, saving
  // sandbox.json when `save`; returns the virtual time. REQUIRES:
  // runtime_mu held exclusively.
  base::Time StopRuntime(bool save = true);
  // Starts (or reuses) the API server of a cluster being created and
  // returns its endpoint. REQUIRES: runtime_mu held.
  std::string OpenMaster(Runtime& rt, const std::string& name, uint16_t port);
  // Serves every cluster of the environment that has no handler yet, and
  // stops the API servers of clusters that were never created. REQUIRES:
  // runtime_mu held.
  base::Status AttachMasters(Runtime& rt);
  // Applies each master's ServeMode from its cluster's state. REQUIRES:
  // runtime_mu held; not on a master's server thread.
  void RefreshModes(Runtime& rt);
  void MarkModesDirty();
  base::Status WriteKubeconfig(Runtime& rt);
  // Writes sandbox.json with the virtual time `clock`, by default the
  // later of the clock and the time written last.
  base::Status SaveState(Runtime& rt,
                         std::optional<base::Time> clock = std::nullopt);
  // Writes sandbox.json before the clock moves past the time it contains,
  // to `until`. A simulated clock saves up to a day further, but not past
  // the advance's `target`, and a real clock one real second further, so
  // that either writes seldom. Logs a failed write.
  // REQUIRES: advance_mu held.
  void SaveClockUntil(Runtime& rt, base::Time until, base::Time target);
  apiserver::ApiResponse HandleMaster(Master& master,
                                      const apiserver::ApiRequest& request);

  // Clock. REQUIRES: runtime_mu held.
  // Moves the clock forward by `delta`, firing the timers due on the way,
  // and writes the state they changed. Fails with kInvalidArgument for a
  // negative delta or one above kMaxAdvance, with kAborted while another
  // request advances the clock, and with kUnavailable when Stop interrupts
  // it: the clock then stays where the last step left it.
  base::Status Advance(Runtime& rt, base::Duration delta);
  // Moves the clock to `target` in steps of kAdvanceStep, and stops early
  // with kUnavailable once Stop was requested. REQUIRES: advance_mu held.
  base::Status MoveClockTo(Runtime& rt, base::Time target);
  std::string ClockDescription(Runtime& rt);
  void RunDriver();

  // Snapshots. REQUIRES: runtime_mu held exclusively.
  base::Status Snapshot(const std::string& name);
  base::Status Restore(const std::string& name);
  base::Status DeleteSnapshot(const std::string& name);
  base::StatusOr<json> ListSnapshots();

  // Events.
  void PublishEvent(json event);

  // Info for Sandbox::Info. REQUIRES: runtime_mu held.
  SandboxInfo InfoLocked(Runtime& rt);

  // --- control_api.cc ---
  apiserver::ApiResponse HandleControl(const apiserver::ApiRequest& request);

  // --- sandbox_ks.cc ---
  // Runs `ks` words on the running environment. REQUIRES: runtime_mu held.
  int RunKsCommand(Runtime& rt, const std::vector<std::string>& args,
                   std::string& out, std::string& err);
};

// The maximum advance per request. With KMS enabled each API server polls
// the KMS every virtual minute, so a year fires about 527,000 polls per API
// server, which took 0.6 to 0.9 s on a loaded 2-core machine.
inline constexpr base::Duration kMaxAdvance = std::chrono::days(366);

// The control API's 413 response to a body over
// apiserver::kMaxApiRequestBodyBytes, in its {"error": ...} shape
// (control_api.cc).
apiserver::ApiResponse ControlBodyTooLarge();

// Validates a snapshot name; returns kInvalidArgument naming the rule.
base::Status ValidateSnapshotName(const std::string& name);

}  // namespace sim

#endif  // SIM_SANDBOX_INTERNAL_H_
