// Cluster: one simulated managed Kubernetes cluster, composing an etcd store
// on RocksDB, the API server's registry, a KMS provider, worker nodes and
// the account's IAM settings on one clock.
//
// The cluster behaves as the managed service documents:
//  - KMS enablement (EnableKms) first checks its prerequisites: an Active
//    root key of a known instance, the caller's Administrator role, and an
//    API key for the region whose owner has the KMS Editor platform and
//    Writer service roles. It then runs for some virtual minutes. Meanwhile
//    the master status reads "Key management service feature enablement in
//    progress.", a second KMS action fails as busy and master updates are
//    rejected. Afterwards Secrets are stored KMS v2-encrypted under the root
//    key, and the master is Ready. Enabling again with a new root key
//    rotates; a root key of the other provider type (Key Protect or Hyper
//    Protect Crypto Services) switches provider. Earlier root keys stay in
//    the encryption configuration so old data still reads, and cannot be
//    enabled again. KMS encryption cannot be disabled.
//  - Clusters at 1.18.8_1525 or later, when KMS is enabled on them, register
//    the root key with the KMS, create the Reader service-to-service
//    authorization to the KMS instance if missing, receive key events and
//    follow a rotation done inside the KMS: new writes use the new key
//    version and objects under older versions become stale. Older clusters
//    keep the key_id they started with.
//  - The cluster checks its root key on a master refresh loop: every 5
//    minutes from 1.19 (and 1 to 3 minutes after a key event), every 60 to
//    90 minutes before. An expired root key is also noticed an hour after
//    the KMS deactivated it, on every version. A check that finds the key
//    not Active makes the master unusable: every API call fails with
//    kubectl's "i/o timeout" error and `ks cluster config` fails. From 1.19
//    the cluster's health reports it. A disabled or expired key recovers
//    when it is Active again; a deleted key loses the cluster's data for
//    good.
//  - Classic workers each keep a LUKS key in a Secret in kube-system,
//    rotated on worker reload and update; VPC workers have none (their
//    disks are encrypted by the provider). Data Shield needs an SGX-capable
//    classic bare metal worker.
//
// The state, pending timers included, is kept in "cluster.json" in the
// cluster's data directory, so Open can restore a cluster in a later
// process. A call that changes the state writes the file before it returns.
// A change made by a timer is written by Flush, which the owner calls after
// moving the clock, or by the destructor.
//
// Thread-safe. Timers run on the thread that advances the clock. The
// cluster must not be destroyed while another thread advances the clock.
#ifndef SIM_CLUSTER_H_
#define SIM_CLUSTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/http_server.h"
#include "apiserver/registry.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "etcd-store/store.h"
#include "kms-mock/kms.h"
#include "sim/account.h"
#include "sim/flavor.h"
#include "sim/version.h"

namespace sim {

using apiserver::Json;

// The owner of the account that a cluster creates for itself when its
// ClusterDeps carry no account.
inline constexpr char kDefaultOwner[] = "owner@example.com";

struct ClusterSpec {
  std::string name;
  Version version;
  Infrastructure infrastructure = Infrastructure::kClassic;
  std::string region = "us-south";
  // Worker nodes created with the cluster, all of `flavor`. The default of
  // none keeps the Kubernetes API free of LUKS key Secrets, as scenario
  // files written before workers existed expect.
  int workers = 0;
  // Empty picks DefaultFlavor(infrastructure).
  std::string flavor{};
  // Empty picks the region's first zone, such as "dal10" (classic) or
  // "us-south-1" (VPC).
  std::string zone{};
};

// The model's maximum number of workers per cluster. Each classic worker
// keeps a LUKS key Secret that is written, and rewritten on reloads, through
// the Kubernetes API.
inline constexpr int kMaxWorkers = 100;

// The regions that the model offers, in alphabetical order.
inline constexpr std::string_view kRegions[] = {
    "au-syd", "eu-de", "eu-gb", "jp-tok", "us-east", "us-south"};

// Returns OK for a name that the managed service accepts for a cluster: up
// to 35 letters, digits, '.', '-' or '_', starting with a letter. Otherwise
// kInvalidArgument stating that rule.
base::Status ValidateClusterName(const std::string& name);
// Returns OK for one of kRegions, else kInvalidArgument listing them.
base::Status ValidateRegion(const std::string& region);

// The master's condition, as `ks cluster get` shows it.
enum class MasterState {
  kReady,        // serving
  kKmsEnabling,  // KMS enablement in progress
  kKeyUnusable,  // root key disabled or expired: unusable until it is Active
  kDataLost,     // root key deleted: unusable for good
  kUpdating,     // master version update in progress
};

// "normal", "warning", "critical", "unavailable".
enum class MasterHealth { kNormal, kWarning, kCritical, kUnavailable };

std::string_view MasterHealthName(MasterHealth health);

// A line of the cluster's event log: what changed, when, in virtual time.
struct ClusterEvent {
  base::Time time;
  std::string cluster;
  std::string message;
};

struct ClusterDeps {
  base::Clock* clock = nullptr;
  base::Random* random = nullptr;
  kms::KeyService* kms = nullptr;
  // Directory for this cluster's RocksDB store and cluster.json; created if
  // missing.
  std::string data_dir;
  // Receives every ClusterEvent; may be empty.
  std::function<void(const ClusterEvent&)> on_event;
  // Sync every store write to disk before acknowledging it. Scenario
  // replays turn this off: their stores are thrown away after the run.
  bool sync_writes = true;
  // The account that owns the cluster, shared by the clusters of one
  // account; must outlive the cluster. When null, the cluster keeps its own
  // account, owned by kDefaultOwner, whose API key for the cluster's region
  // is the owner's.
  Account* account = nullptr;
  // "host:port" of the master as kubectl reaches it; empty draws a public
  // address such as "169.48.110.250:32346".
  std::string master_endpoint;
};

// One KMS provider of the cluster's encryption configuration.
struct KmsProviderInfo {
  std::string name;  // in the stored prefix: "k8s:enc:kms:v2:<name>:"
  kms::InstanceType type = kms::InstanceType::kKeyProtect;
  std::string instance_id;
  std::string key_id;
  // True when the provider follows rotations inside the KMS (KMS enabled on
  // 1.18.8_1525 or later); false when its key_id stays fixed.
  bool follows_key_rotation = false;
  bool current = false;  // the provider that writes
};

enum class WorkerState { kNormal, kReloading, kUpdating };

// "normal", "reloading", "updating".
std::string_view WorkerStateName(WorkerState state);

struct Worker {
  std::string id;  // "kube-<cluster id>-w<n>"
  std::string flavor{};
  std::string zone{};
  std::string private_ip;
  Version version;
  WorkerState state = WorkerState::kNormal;
  base::Time state_since;
  // Name of the kube-system Secret with the worker's LUKS key; empty on VPC.
  std::string luks_secret;
  int luks_key_generation = 0;  // 1 at creation, +1 per reload or update
};

class Cluster {
 public:
  // Creates the cluster with its store, the namespaces of a new cluster and
  // spec.workers workers. Fails with kInvalidArgument for an invalid name,
  // a version that ValidateSupportedVersion rejects, a region not in
  // kRegions, an invalid zone, a flavor that the infrastructure does not
  // offer, or a worker count below 0 or above kMaxWorkers.
  static base::StatusOr<std::unique_ptr<Cluster>> Create(ClusterSpec spec,
                                                         ClusterDeps deps);
  // Restores the cluster stored in deps.data_dir by an earlier Create, with
  // its pending timers (enablement, refresh, worker reloads) due at their
  // stored times. Fails with kNotFound when the directory contains no cluster
  // and kDataLoss when its state file is malformed.
  static base::StatusOr<std::unique_ptr<Cluster>> Open(ClusterDeps deps);
  ~Cluster();

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // The spec as created; version() is current after master updates.
  const ClusterSpec& spec() const;
  const std::string& id() const;
  // Where kubectl would connect, e.g. "169.48.110.250:32346".
  const std::string& master_endpoint() const;
  // Moves the master to `endpoint` (host:port) and saves the cluster, for a
  // sandbox restarted on another address. REQUIRES: nothing else uses the
  // cluster yet, since master_endpoint() is read without a lock.
  base::Status MoveMaster(const std::string& endpoint);
  base::Time created() const;
  Version version() const;
  Features features() const;
  Account& account() const;

  // Starts enabling (or rotating to) root key `crk_id` of `instance_id` as
  // the account owner; see EnableKmsAs.
  base::Status EnableKms(const std::string& instance_id,
                         const std::string& crk_id,
                         bool public_endpoint = false);
  // Starts enabling (or rotating to) root key `crk_id` of `instance_id`,
  // acting as `user`. Fails, changing nothing, with
  //  - kFailedPrecondition while another KMS action or a master update
  //    runs, or when the cluster's data is lost;
  //  - kPermissionDenied when `user` lacks the Administrator platform role
  //    on the cluster, or the region's API key owner lacks the KMS Editor
  //    platform or Writer service role on the instance;
  //  - kFailedPrecondition when no API key is set for the region;
  //  - kNotFound for an unknown instance or key, or a key of another
  //    instance (the message names that instance);
  //  - kFailedPrecondition for a standard (extractable) key, a key that is
  //    not Active, or an earlier root key of this cluster.
  // Enabling the current root key again registers it, on 1.18.8_1525 and
  // later. The master stays in kKmsEnabling for the enablement duration.
  base::Status EnableKmsAs(const std::string& user,
                           const std::string& instance_id,
                           const std::string& crk_id,
                           bool public_endpoint = false);
  // Always fails with kFailedPrecondition: KMS encryption cannot be
  // disabled once enabled, and there is nothing to disable before.
  base::Status DisableKms();

  MasterState master_state() const;
  MasterHealth health() const;
  // Text after "Master Status: ", e.g. "Ready (1 min ago)".
  std::string MasterStatusText() const;
  // Text of the health message ("" when normal).
  std::string HealthMessage() const;
  bool kms_enabled() const;
  // The root key in use, if KMS is enabled.
  std::optional<std::string> crk_id() const;
  // The KMS instance of the root key in use, if KMS is enabled.
  std::optional<std::string> kms_instance_id() const;
  // The provider type in use, if KMS is enabled.
  std::optional<kms::InstanceType> kms_provider_type() const;
  bool kms_public_endpoint() const;
  // True when the root key in use is registered with the KMS.
  bool kms_key_registered() const;
  // The KMS providers of the encryption configuration, current first.
  std::vector<KmsProviderInfo> KmsProviders() const;

  // Starts a master update to `target`, which takes some virtual minutes
  // in kUpdating. Fails, changing nothing, with kFailedPrecondition while a
  // KMS enablement or another update runs and while the master is
  // unusable. Fails with kInvalidArgument for a target that is not newer,
  // of another major version, or more than one minor version ahead.
  base::Status UpdateMaster(const Version& target);
  // `ks cluster master refresh`: restarts the master components now. The
  // restarted master checks its root key at once and drops its DEK cache.
  // Fails with kFailedPrecondition while a KMS enablement or an update runs
  // and when the cluster's data is lost.
  base::Status RefreshMaster();

  std::vector<Worker> Workers() const;
  // Fails with kNotFound for an unknown worker id.
  base::StatusOr<Worker> GetWorker(const std::string& worker_id) const;
  // Adds `count` workers of `flavor` (empty: the default flavor). Fails
  // with kInvalidArgument for a flavor of another infrastructure, count
  // < 1 or more than kMaxWorkers workers in all, and with the master's
  // connection error while it is unusable and the workers are classic
  // (their LUKS Secrets cannot be written).
  base::StatusOr<std::vector<Worker>> AddWorkers(const std::string& flavor,
                                                 int count);
  // Reloads a worker: reimages it for some virtual minutes and, on classic,
  // rotates its LUKS key Secret. Fails, changing nothing, with kNotFound for
  // an unknown worker, kFailedPrecondition while the worker reloads or
  // updates, and with the master's connection error while the master is
  // unusable on classic.
  base::Status ReloadWorker(const std::string& worker_id);
  // Updates a worker to the master's version; otherwise like ReloadWorker.
  base::Status UpdateWorker(const std::string& worker_id);

  // Enables Data Shield. Fails with kFailedPrecondition on VPC clusters and
  // on classic clusters without an SGX-capable bare metal worker.
  base::Status EnableDataShield();
  bool data_shield_enabled() const;

  // `ks cluster config`: returns a kubeconfig (YAML) for `user`, with the
  // master's endpoint and the cluster's token. Fails with kUnavailable
  // while the master is unusable, as the managed service's command does.
  base::StatusOr<std::string> Kubeconfig(const std::string& user) const;
  // The bearer token of the kubeconfig.
  const std::string& api_token() const;

  // The Kubernetes API, as kubectl reaches it through the master, served by
  // API server `api_server` (0 is the master's first). Every call fails with
  // kUnavailable "Unable to connect to the server: dial tcp <endpoint>: i/o
  // timeout" while the master is unusable, and with kNotFound for an
  // unknown API server.
  base::StatusOr<Json> Create(const apiserver::Resource& resource,
                              const std::string& ns, Json object,
                              int api_server = 0);
  base::StatusOr<Json> Get(const apiserver::Resource& resource,
                           const std::string& ns, const std::string& name,
                           int api_server = 0);
  base::StatusOr<Json> List(const apiserver::Resource& resource,
                            const std::string& ns, int api_server = 0);
  base::StatusOr<apiserver::UpdateResult> Update(
      const apiserver::Resource& resource, const std::string& ns, Json object,
      int api_server = 0);
  base::StatusOr<Json> Delete(const apiserver::Resource& resource,
                              const std::string& ns, const std::string& name,
                              int api_server = 0);
  // `kubectl get secrets -A -o json | kubectl replace -f -`: returns how many
  // Secrets were written (a no-op replace of a current Secret is not).
  base::StatusOr<int> RewriteAllSecrets(int api_server = 0);

  // API servers. The master starts with one; AddApiServer starts another
  // on the same etcd store, as a highly available master runs several. Each
  // has its own KMS v2 transformers, so its own DEK seed for writes and its
  // own DEK cache for reads, and reaches the same KMS key_id. Returns the
  // new server's index. Fails with kFailedPrecondition when the cluster's
  // data is lost. The number of servers is kept across Open.
  base::StatusOr<int> AddApiServer();
  int api_servers() const;
  // Restarts API server `api_server`: its transformers are new, with empty
  // DEK caches and a new DEK seed for writes, and until their first healthy
  // KMS status every read and write through it fails with `got unexpected
  // nil transformer`. A master refresh only empties the caches. Fails with
  // kNotFound for an unknown server and kFailedPrecondition when the data
  // is lost.
  base::Status RestartApiServer(int api_server);
  // OK when every KMS provider of API server `api_server` is healthy, else
  // the first provider's error as /healthz/kms-providers reports it, such
  // as `kmsv2 Provider <name> is not healthy, error: ...`. OK before KMS is
  // enabled; kNotFound for an unknown server.
  base::Status KmsHealth(int api_server = 0) const;
  // A Kubernetes REST handler for API server `api_server`, as
  // kube-apiserver's HTTP layer serves it: Status errors with their HTTP
  // codes, and /livez, /readyz and /healthz/kms-providers with KmsHealth.
  // The handler ignores whether the master is usable; a caller that must
  // model an unreachable master checks master_state() first. The handler
  // must not outlive the cluster. Fails with kNotFound for an unknown
  // server.
  base::StatusOr<std::unique_ptr<apiserver::ApiHandler>> NewApiHandler(
      int api_server = 0, apiserver::ApiHandlerOptions options = {});

  // The directory of the cluster's store and state file.
  const std::string& data_dir() const;
  // Writes cluster.json if timers changed the state since it was last
  // written; does nothing otherwise. Fails with kDataLoss when the write
  // fails, and the next Flush tries again.
  base::Status Flush();
  // Writes a copy of the cluster (store, state and pending timers) to the
  // new directory `dir`, which Open can restore. Fails with kAlreadyExists
  // when `dir` exists and with the store's error.
  base::Status Checkpoint(const std::string& dir) const;

  // The registry and etcd store behind the master, for a server that serves
  // them over the network, such as the sandbox's API servers and etcd
  // gateways. Calls through them bypass the master's availability: the
  // server decides how an unusable master responds. The registry is the
  // one of API server 0.
  apiserver::Registry& registry() const;
  etcd::Store& store() const;

  // The stored bytes of an object, bypassing the master (as an operator
  // reading etcd directly would).
  base::StatusOr<std::string> RawValue(const apiserver::Resource& resource,
                                       const std::string& ns,
                                       const std::string& name);

  // Internal state, defined in cluster_state.h.
  struct State;

 private:
  explicit Cluster(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sim

#endif  // SIM_CLUSTER_H_
