// The internal state of a Cluster, shared by the files that implement it:
// cluster.cc (creation, persistence, the Kubernetes API), cluster_kms.cc
// (enablement and root key checks), cluster_master.cc (updates, refresh,
// status) and cluster_workers.cc (workers and Data Shield).
//
// Locking: `mu` guards the mutable fields. Never call the KMS, the registry
// or on_event while holding it: the KMS delivers key events (expiry among
// them) on the calling thread, and those land in OnKeyEvent, which takes
// `mu`.
#ifndef SIM_CLUSTER_STATE_H_
#define SIM_CLUSTER_STATE_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "apiserver/registry.h"
#include "apiserver/transformer.h"
#include "etcd-store/store.h"
#include "sim/cluster.h"

namespace sim {

// One KMS provider: what is stored about it, and its live transformer.
struct ProviderRecord {
  KmsProviderInfo info;
  // The key_id that a provider which does not follow rotations reports:
  // "<key id>:<version id>" of the key's newest version at enablement.
  std::string fixed_key_id;
  std::shared_ptr<apiserver::KmsV2Transformer> transformer;
};

// An API server of the master beyond the first, which uses State::registry
// and the transformers of State::providers. It shares the store but has its
// own registry and its own KMS v2 transformers (one per provider, in the
// order of State::providers), so its own DEK seeds and caches, as each
// kube-apiserver of a highly available master has.
struct ApiServerRecord {
  std::unique_ptr<apiserver::Registry> registry;
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> transformers;
};

// A pending clock timer, by slot name ("enablement", "update", "refresh",
// "event_check", "expiry_check", "worker/<id>"), so that it can be stored
// and scheduled again after a restart.
struct PendingTimer {
  base::Clock::TimerId id = 0;
  base::Time due;
};

struct Cluster::State {
  // Constant after construction, except `endpoint` (see MoveMaster).
  ClusterSpec spec;
  ClusterDeps deps;
  std::string id;
  std::string endpoint;
  std::string api_token;
  base::Time created;
  std::unique_ptr<Account> own_account;  // set when deps.account is null
  Account* account = nullptr;
  std::string state_path;  // <data_dir>/cluster.json
  std::unique_ptr<etcd::Store> store;
  std::unique_ptr<apiserver::Registry> registry;
  kms::KeyService::SubscriptionId subscription = 0;

  mutable std::mutex mu;
  Version version;                                 // guarded by mu
  Features features;                               // guarded by mu
  MasterState master_state = MasterState::kReady;  // guarded by mu
  base::Time state_since;                          // guarded by mu
  std::string unusable_cause;                      // guarded by mu
  bool kms_enabled = false;                        // guarded by mu
  std::string instance_id;                         // guarded by mu
  std::string crk_id;                              // guarded by mu
  bool public_endpoint = false;                    // guarded by mu
  bool key_registered = false;                     // guarded by mu
  // The pending enablement.
  std::string enabling_instance;  // guarded by mu
  std::string enabling_crk;       // guarded by mu
  bool enabling_public = false;   // guarded by mu
  // The pending master update.
  std::optional<Version> update_target;  // guarded by mu
  std::set<std::string> used_crks;       // guarded by mu
  // KMS providers of the encryption configuration, newest first.
  std::vector<ProviderRecord> providers;  // guarded by mu
  // API servers 1 and up; server 0 is `registry`. Never shrinks, so a
  // registry pointer taken under mu stays valid.
  std::vector<ApiServerRecord> extra_api_servers;  // guarded by mu
  std::vector<Worker> workers;                     // guarded by mu
  int next_worker = 1;                             // guarded by mu
  bool data_shield = false;                        // guarded by mu
  std::map<std::string, PendingTimer> timers;      // guarded by mu
  uint64_t change_seq = 0;                         // guarded by mu
  // Set when a timer changed the state after the last write of
  // cluster.json; Flush writes it then.
  bool unsaved = false;  // guarded by mu

  std::mutex save_mu;
  uint64_t saved_seq = 0;  // guarded by save_mu

  base::Clock& clock() const { return *deps.clock; }

  // Logs and reports an event. REQUIRES: mu not held.
  void Emit(const std::string& message);

  // REQUIRES: mu held.
  void SetMasterState(MasterState state);
  bool UnusableLocked() const {
    return master_state == MasterState::kKeyUnusable ||
           master_state == MasterState::kDataLost;
  }
  bool Unusable() const {
    std::lock_guard lock(mu);
    return UnusableLocked();
  }
  base::Status ConnectError() const;
  // Why the master is unusable and what to do, for error messages.
  // REQUIRES: mu held.
  std::string UnusableReasonLocked() const;
  // REQUIRES: mu held.
  base::Duration RefreshIntervalLocked();

  // Timers. REQUIRES: mu held.
  void ScheduleLocked(const std::string& slot, base::Time due);
  void CancelLocked(const std::string& slot);
  void CancelAllLocked();
  // Runs the work of a slot whose timer fired.
  void Fire(const std::string& slot);

  // Writes cluster.json. Logs and returns a kDataLoss error on failure.
  base::Status Persist();
  // Marks the state as changed by a timer. The root key check alone fires
  // every 5 virtual minutes, so a long advance fires thousands of timers,
  // and the write waits for Flush (after the advance) or the destructor.
  void MarkUnsaved();
  // Writes cluster.json if a timer changed the state since the last write.
  base::Status Flush();
  // The stored form of the state. REQUIRES: mu held.
  Json ToJsonLocked() const;

  // KMS (cluster_kms.cc).
  void CheckRootKey();
  void OnKeyEvent(const kms::KeyEvent& event);
  void ScheduleEventCheck();
  void FinishEnablement();
  void FailEnablement(const std::string& key, const std::string& cause);
  void LoseData();
  base::StatusOr<int> RewriteSecrets(int api_server = 0);
  // Creates the transformer of a provider. REQUIRES: mu not held.
  void BuildTransformer(ProviderRecord& record);
  std::shared_ptr<apiserver::KmsV2Transformer> NewTransformer(
      const ProviderRecord& record);
  // Installs each API server's chain of providers (identity last) in its
  // registry.
  void InstallTransformerChain();
  // The transformers of every API server.
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> Transformers()
      const;
  // The transformers of API server `index`, current first; empty for an
  // unknown index. REQUIRES: mu held.
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>>
  ServerTransformersLocked(int index) const;
  // Gives API server `index` new transformers for every provider, as a
  // restart does, and installs them. REQUIRES: mu not held.
  void RestartApiServerTransformers(int index);
  // The registry of API server `index`, or kNotFound.
  base::StatusOr<apiserver::Registry*> RegistryOf(int index) const;
  // Adds API servers until there are `count`. REQUIRES: mu not held.
  void AddApiServersUpTo(int count);

  // Master (cluster_master.cc).
  void FinishUpdate();

  // Workers (cluster_workers.cc).
  base::StatusOr<Worker> NewWorkerLocked(const Flavor& flavor);
  // Writes a new LUKS key for `worker_id` to its Secret. REQUIRES: mu not
  // held.
  base::Status WriteLuksSecret(const std::string& worker_id,
                               const std::string& secret_name, int generation);
  base::Status StartWorkerOperation(const std::string& worker_id,
                                    WorkerState operation);
  void FinishWorkerOperation(const std::string& worker_id);
};

// The KmsClient of a provider that does not follow rotations inside the
// KMS: it reports `fixed_key_id` for every encryption and status, so the
// provider's DEK stays current after a rotation (cluster_kms.cc).
std::shared_ptr<apiserver::KmsClient> NewFixedKeyIdKmsClient(
    std::shared_ptr<apiserver::KmsClient> inner, std::string fixed_key_id);

// The provider name of a root key: "ibm-kms-<key id>".
std::string ProviderName(const std::string& key_id);

// The text of a provider type: "Key Protect" or "Hyper Protect Crypto
// Services".
std::string ProviderTypeText(kms::InstanceType type);

}  // namespace sim

#endif  // SIM_CLUSTER_STATE_H_
