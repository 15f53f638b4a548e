// Cluster: one simulated managed Kubernetes cluster, composing an etcd store
// on RocksDB, the API server's registry and a KMS provider on one clock.
//
// The cluster behaves as the managed service documents:
//  - KMS enablement (EnableKms) runs for some virtual minutes, during which
//    the master status reads "Key management service feature enablement in
//    progress." and a second KMS action fails as busy; afterwards Secrets are
//    stored KMS v2-encrypted under the root key, and the master is Ready.
//  - The cluster checks its root key on a master refresh loop: every few
//    minutes from 1.19 (and soon after a key event), every hour before.
//    A check that finds the key not Active makes the master unusable: every
//    API call fails with kubectl's "i/o timeout" error. From 1.19 the
//    cluster's health reports it. A disabled or expired key recovers when it
//    is Active again; a deleted key loses the cluster's data for good.
//
// Thread-safe. Timers run on the thread that advances the clock.
#ifndef SIM_CLUSTER_H_
#define SIM_CLUSTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/registry.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "kms-mock/kms.h"
#include "sim/version.h"

namespace sim {

using apiserver::Json;

enum class Infrastructure { kClassic, kVpc };

struct ClusterSpec {
  std::string name;
  Version version;
  Infrastructure infrastructure = Infrastructure::kClassic;
  std::string region = "us-south";
};

// The master's condition, as `ks cluster get` shows it.
enum class MasterState {
  kReady,        // serving
  kKmsEnabling,  // KMS enablement in progress
  kKeyUnusable,  // root key disabled or expired: unusable until it is Active
  kDataLost,     // root key deleted: unusable for good
};

// "normal", "warning", "critical".
enum class MasterHealth { kNormal, kWarning, kCritical };

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
  // Directory for this cluster's RocksDB store; created if missing.
  std::string data_dir;
  // Receives every ClusterEvent; may be empty.
  std::function<void(const ClusterEvent&)> on_event;
};

class Cluster {
 public:
  // Creates the cluster with its store and a "default" namespace.
  static base::StatusOr<std::unique_ptr<Cluster>> Create(ClusterSpec spec,
                                                         ClusterDeps deps);
  ~Cluster();

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const ClusterSpec& spec() const;
  const std::string& id() const;
  // Where kubectl would connect, e.g. "169.48.110.250:32346".
  const std::string& master_endpoint() const;

  // Starts enabling (or rotating to) root key `crk_id` of `instance_id`.
  // Fails with kFailedPrecondition while another KMS action runs, when the
  // key is not an Active root key, when it was used before by this cluster,
  // or when the cluster's data is lost; kNotFound for an unknown instance or
  // key. The master stays in kKmsEnabling for the enablement duration.
  base::Status EnableKms(const std::string& instance_id,
                         const std::string& crk_id,
                         bool public_endpoint = false);

  MasterState master_state() const;
  MasterHealth health() const;
  // Text after "Master Status: ", e.g. "Ready (1 min ago)".
  std::string MasterStatusText() const;
  // Text of the health message ("" when normal).
  std::string HealthMessage() const;
  bool kms_enabled() const;
  // The root key in use, if KMS is enabled.
  std::optional<std::string> crk_id() const;

  // The Kubernetes API, as kubectl reaches it through the master. Every call
  // fails with kUnavailable "Unable to connect to the server: dial tcp
  // <endpoint>: i/o timeout" while the master is unusable.
  base::StatusOr<Json> Create(const apiserver::Resource& resource,
                              const std::string& ns, Json object);
  base::StatusOr<Json> Get(const apiserver::Resource& resource,
                           const std::string& ns, const std::string& name);
  base::StatusOr<Json> List(const apiserver::Resource& resource,
                            const std::string& ns);
  base::StatusOr<apiserver::UpdateResult> Update(
      const apiserver::Resource& resource, const std::string& ns, Json object);
  base::StatusOr<Json> Delete(const apiserver::Resource& resource,
                              const std::string& ns, const std::string& name);
  // `kubectl get secrets -A -o json | kubectl replace -f -`: returns how many
  // Secrets were written (a no-op replace of a current Secret is not).
  base::StatusOr<int> RewriteAllSecrets();

  // The stored bytes of an object, bypassing the master (as an operator
  // reading etcd directly would).
  base::StatusOr<std::string> RawValue(const apiserver::Resource& resource,
                                       const std::string& ns,
                                       const std::string& name);

 private:
  struct State;
  explicit Cluster(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sim

#endif  // SIM_CLUSTER_H_
