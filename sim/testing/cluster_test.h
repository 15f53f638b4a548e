// ClusterTest: a GoogleTest fixture for testing software against simulated
// managed clusters, their KMS and their root keys, on a simulated clock.
//
// Each test gets a fresh Environment (one account, its KMS and clusters) in
// a temporary data directory, on a SimulatedClock that moves only when the
// test advances it. Helpers create KMS instances, root keys and clusters,
// enable KMS, act on keys as a KMS user would, inject KMS faults and read
// what the cluster serves and what it stores. They name clusters by name
// and keys by id, so they keep working after Restart.
//
// Helpers return values that read well in a check: strings ("Active",
// "normal", a Secret's decoded field or "error: <message>"), small structs,
// or base::Status for actions, checked with SIM_ASSERT_OK:
//
//   class ConfigTest : public sim::testing::ClusterTest {};
//
//   TEST_F(ConfigTest, ReadsFailWhileRootKeyDisabled) {
//     std::string kp = CreateInstance("kp");
//     std::string crk = CreateRootKey(kp, "crk");
//     SIM_ASSERT_OK(CreateCluster("prod", "1.19.16_1540"));
//     SIM_ASSERT_OK(EnableKms("prod", kp, crk));
//     SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "hunter2"}}));
//
//     SIM_ASSERT_OK(DisableKey(crk));
//     SIM_ASSERT_OK(AdvanceUntilUnusable("prod"));
//
//     EXPECT_THAT(SecretValue("prod", "db", "password"),
//                 ::testing::HasSubstr("i/o timeout"));
//     EXPECT_EQ(Health("prod"), "warning");
//   }
//
// Setup helpers that return an id (CreateInstance, CreateRootKey) record a
// non-fatal failure at the caller's line and return "" when they fail. No
// helper waits in wall time: every wait advances the simulated clock timer
// by timer, firing the clusters' and the KMS's timers on the test's thread.
//
// Thread safety: call the fixture's helpers from the test's thread only.
// The Environment, clusters and KeyService behind them are thread-safe, so
// other threads (for example a server under test) may call those directly
// while the test thread advances the clock.
#ifndef SIM_TESTING_CLUSTER_TEST_H_
#define SIM_TESTING_CLUSTER_TEST_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "kms-mock/faults.h"
#include "kms-mock/kms.h"
#include "sim/cluster.h"
#include "sim/environment.h"

namespace sim::testing {

// Succeeds when `status` is OK; otherwise fails with the status's code,
// message and reason.
::testing::AssertionResult IsOk(const base::Status& status);

template <typename T>
::testing::AssertionResult IsOk(const base::StatusOr<T>& result) {
  return IsOk(result.status());
}

// Checks that a base::Status or base::StatusOr is OK, printing the error.
#define SIM_EXPECT_OK(expr) EXPECT_TRUE(::sim::testing::IsOk(expr))
#define SIM_ASSERT_OK(expr) ASSERT_TRUE(::sim::testing::IsOk(expr))

// The default start of the simulated clock: 2026-01-02T00:00:00Z.
base::Time DefaultStartTime();

struct ClusterTestOptions {
  base::Time start = DefaultStartTime();
  // Seed of the random source behind key material, ids and timer jitter.
  // The same seed and the same calls give the same ids and times.
  uint64_t seed = 1;
  // The account owner, who creates the clusters and enables KMS.
  std::string owner = kDefaultOwner;
  // The level SetUp gives every spdlog logger ("trace" ... "off"); the
  // clusters' lifecycle logs at "info" would bury the test output.
  std::string log_level = "warn";
};

// A cluster's stored bytes for one object, as an operator reading etcd
// directly would find them.
struct StoredObject {
  // Not OK when the cluster or the object does not exist.
  base::Status status;
  std::string raw;
  // True when raw starts with "k8s:enc:kms:v2:".
  bool kms_encrypted = false;
  // The provider name of the prefix, "ibm-kms-<root key id>"; empty unless
  // kms_encrypted.
  std::string provider;
  // The KMS key_id of the EncryptedObject after the prefix; it changes with
  // a rotation inside the KMS. Empty unless kms_encrypted.
  std::string kms_key_id;
};

class ClusterTest : public ::testing::Test {
 protected:
  explicit ClusterTest(ClusterTestOptions options = {});
  ~ClusterTest() override;

  // Creates the data directory and opens the Environment. A fixture that
  // overrides SetUp must call ClusterTest::SetUp first.
  void SetUp() override;
  // Closes the Environment and removes the data directory.
  void TearDown() override;

  // REQUIRES: SetUp has run.
  base::SimulatedClock& clock() { return clock_; }
  Environment& env() { return *env_; }
  kms::KeyService& kms() { return env_->kms(); }
  const std::string& data_dir() const { return data_dir_; }
  // The cluster with this name or id, or nullptr. The pointer is valid
  // until Restart or TearDown.
  Cluster* FindCluster(const std::string& name);

  // Closes the Environment and opens it again from the data directory, as
  // a restarted process would, on the same clock. Pointers from FindCluster
  // and env() become invalid; names and key ids stay valid. Fails with
  // Environment::Open's error.
  base::Status Restart();

  // --- KMS instances and keys ---

  // Creates a KMS instance and returns its id.
  std::string CreateInstance(
      const std::string& name,
      kms::InstanceType type = kms::InstanceType::kKeyProtect,
      std::source_location where = std::source_location::current());
  // Creates an Active root key and returns its id. With `expires_in`, its
  // expirationDate is that long after now.
  std::string CreateRootKey(
      const std::string& instance_id, const std::string& name,
      std::optional<base::Duration> expires_in = std::nullopt,
      std::source_location where = std::source_location::current());
  // Creates a key from a full request (standard keys, imported material,
  // dual authorization) and returns its id.
  std::string CreateKey(
      const std::string& instance_id, const kms::CreateKeyRequest& request,
      std::source_location where = std::source_location::current());

  // Key actions, by key id; each finds the key's instance and returns the
  // KeyService's result. Errors carry Key Protect reason codes in reason(),
  // for example KEY_ACTION_INVALID_STATE_ERR or REQ_TOO_EARLY_ERR (enabling
  // within 30 s of disabling: advance the clock first). Unknown keys fail
  // with kNotFound.
  base::Status DisableKey(const std::string& key_id);
  base::Status EnableKey(const std::string& key_id);
  // Adds a key version, as rotating inside the KMS does.
  base::Status RotateKey(const std::string& key_id);
  // Without `force`, fails with PROTECTED_RESOURCE_ERR while a cluster has
  // the key registered (clusters from 1.18.8_1525).
  base::Status DeleteKey(const std::string& key_id, bool force = false);
  base::Status RestoreKey(const std::string& key_id);
  base::Status SetKeyForDeletion(const std::string& key_id);
  base::Status UnsetKeyForDeletion(const std::string& key_id);
  // Advances the clock until the KMS deactivates the key, which happens
  // within an hour after its expirationDate. Fails with kFailedPrecondition
  // for a key without an expirationDate and kDeadlineExceeded when the key
  // is not Deactivated an hour after it.
  base::Status ExpireKey(const std::string& key_id);
  // "Active", "Suspended", "Deactivated", "Destroyed", or "error: <message>"
  // for an unknown key.
  std::string KeyState(const std::string& key_id);

  // --- KMS faults ---

  // Adds a fault to the KMS's FaultInjector and returns its id. Fails with
  // kInvalidArgument for a spec that FaultInjector::Add rejects.
  base::StatusOr<uint64_t> InjectFault(const kms::FaultSpec& spec);
  // Fails every KMS call on `key_id` (every call when empty) as
  // unreachable: kUnavailable in process. Returns the fault id.
  uint64_t InjectKmsOutage(
      const std::string& key_id = "",
      std::source_location where = std::source_location::current());
  // Fails every `operation` call ("wrap", "unwrap", ...) on `key_id` (any
  // key when empty) with `http_status`. Returns the fault id.
  uint64_t InjectKmsError(
      const std::string& operation, int http_status = 503,
      const std::string& key_id = "",
      std::source_location where = std::source_location::current());
  // Returns false when no fault has that id.
  bool ClearFault(uint64_t fault_id);
  void ClearFaults();
  // Successful plus failed KMS calls of `operation` since the Environment
  // was opened; see KeyService::CallCounts for the names.
  int64_t KmsCalls(const std::string& operation);
  int64_t FailedKmsCalls(const std::string& operation);

  // --- Clusters ---

  // Creates a cluster as the account owner, with no workers. Fails with
  // Environment::CreateCluster's errors; an invalid version fails with
  // kInvalidArgument.
  base::Status CreateCluster(
      const std::string& name, const std::string& version = "1.19.16_1540",
      Infrastructure infrastructure = Infrastructure::kClassic);
  base::Status CreateCluster(ClusterSpec spec);
  // Starts KMS enablement with root key `crk_id` and advances the clock
  // until it has finished. Fails with Cluster::EnableKms's errors (nothing
  // changed then), and with kDeadlineExceeded when the master is not Ready
  // with `crk_id` in use 30 virtual minutes later. To see the enablement in
  // progress, call FindCluster(name)->EnableKms instead.
  base::Status EnableKms(const std::string& cluster,
                         const std::string& instance_id,
                         const std::string& crk_id,
                         bool public_endpoint = false);

  // --- The clock ---

  void Advance(base::Duration duration);
  // Advances the clock to each next timer until `done` returns true. Fails
  // with kDeadlineExceeded, naming `what`, when it is still false after
  // `limit`, and the clock is then at now + limit.
  base::Status AdvanceUntil(const std::function<bool()>& done,
                            base::Duration limit, const std::string& what);
  // Until the master is Ready (serving with a usable root key). Fails with
  // kDeadlineExceeded and the master status when it is not within `limit`.
  base::Status AdvanceUntilReady(
      const std::string& cluster,
      base::Duration limit = std::chrono::minutes(30));
  // Until the cluster has noticed that its root key is unusable (disabled,
  // expired or deleted) and its API calls fail. Before 1.19 that can take
  // 90 minutes or more, hence the default limit.
  base::Status AdvanceUntilUnusable(
      const std::string& cluster, base::Duration limit = std::chrono::hours(3));

  // --- Cluster state; each returns "error: <message>" for an unknown
  //     cluster ---

  // Text after "Master Status: ", such as "Ready (2 min ago)" or "Key
  // management service feature enablement in progress.".
  std::string MasterStatus(const std::string& cluster);
  // "normal", "warning", "critical" or "unavailable".
  std::string Health(const std::string& cluster);
  // "enabled" or "disabled", as `ks cluster get` shows it.
  std::string Kms(const std::string& cluster);
  // The root key in use; "" before KMS is enabled.
  std::string RootKey(const std::string& cluster);
  // The kubeconfig that `ks cluster config` writes for the account owner,
  // or "error: <message>" while the master is unusable.
  std::string ClusterConfig(const std::string& cluster);
  // The events logged for the cluster so far, in order; every cluster's
  // when `cluster` is empty. Cleared by Restart.
  std::vector<std::string> ClusterEvents(const std::string& cluster = "");

  // --- Secrets through the cluster's Kubernetes API ---

  // Creates an Opaque Secret whose data are `data`'s values base64-encoded.
  // Fails with the API's error, for example kAlreadyExists or the "i/o
  // timeout" kUnavailable of an unusable master.
  base::Status CreateSecret(const std::string& cluster, const std::string& name,
                            const std::map<std::string, std::string>& data,
                            const std::string& ns = "default");
  // Replaces the data of an existing Secret.
  base::Status UpdateSecret(const std::string& cluster, const std::string& name,
                            const std::map<std::string, std::string>& data,
                            const std::string& ns = "default");
  base::Status DeleteSecret(const std::string& cluster, const std::string& name,
                            const std::string& ns = "default");
  // A Secret's data, decoded. Fails with the API's error.
  base::StatusOr<std::map<std::string, std::string>> GetSecret(
      const std::string& cluster, const std::string& name,
      const std::string& ns = "default");
  // One decoded field of a Secret, or "error: <message>" when the read
  // fails or the field is missing.
  std::string SecretValue(const std::string& cluster, const std::string& name,
                          const std::string& field,
                          const std::string& ns = "default");
  // "namespace/name" of each Secret of `ns` (all namespaces when empty), in
  // the API's order. Fails with the API's error; one Secret that does not
  // decrypt fails the whole list.
  base::StatusOr<std::vector<std::string>> ListSecrets(
      const std::string& cluster, const std::string& ns = "");
  // `kubectl get secrets -A -o json | kubectl replace -f -`; returns how
  // many Secrets were written.
  base::StatusOr<int> RewriteSecrets(const std::string& cluster);

  // --- Stored bytes ---

  // The stored bytes of a Secret, read past the master, so this works while
  // the master is unusable.
  StoredObject StoredSecret(const std::string& cluster, const std::string& name,
                            const std::string& ns = "default");
  // Paths, relative to data_dir(), of the files that contain `text` or its
  // base64 form (as a Secret's data value stores it). A non-empty result
  // means plaintext reached the disk. Files that cannot be read are listed
  // with " (unreadable)" appended.
  std::vector<std::string> FilesContaining(const std::string& text);

 private:
  base::StatusOr<Cluster*> Lookup(const std::string& cluster);
  base::StatusOr<std::string> InstanceOfKey(const std::string& key_id);
  base::Status OpenEnvironment();
  void RecordEvent(const ClusterEvent& event);

  const ClusterTestOptions options_;
  base::SimulatedClock clock_;
  base::SeededRandom random_;
  std::string data_dir_;
  std::unique_ptr<Environment> env_;

  // Cluster events arrive on the thread that advances the clock.
  std::mutex events_mu_;
  std::vector<ClusterEvent> events_;  // guarded by events_mu_
};

}  // namespace sim::testing

#endif  // SIM_TESTING_CLUSTER_TEST_H_
