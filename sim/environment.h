// Environment: one account's clusters and KMS, kept in a data directory so
// that a later process finds them again.
//
// Layout of the data directory:
//   account.json       the Account (users, policies, API keys)
//   kms/               the KeyService's RocksDB database
//   clusters/<id>/     each cluster's RocksDB store and cluster.json
//
// Open restores every cluster with Cluster::Open; pending timers resume on
// the given clock. The clock, random source and the Environment's KMS must
// outlive the clusters, which the destructor closes first.
//
// Thread-safe.
#ifndef SIM_ENVIRONMENT_H_
#define SIM_ENVIRONMENT_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "kms-mock/kms.h"
#include "sim/account.h"
#include "sim/cluster.h"

namespace sim {

struct EnvironmentOptions {
  std::string data_dir;
  // The account owner when the directory contains no account yet.
  std::string owner = kDefaultOwner;
  // Receives every cluster's events; may be empty.
  std::function<void(const ClusterEvent&)> on_event;
  // "host:port" for the master of each new cluster, by cluster name; a
  // sandbox puts its API servers' addresses here. Clusters without an
  // entry draw a public address.
  std::function<std::string(const std::string& name)> master_endpoint;
  // Sync every write of the KMS and the cluster stores to disk before
  // acknowledging it. Scenario replays turn this off: their data is thrown
  // away after the run.
  bool sync_writes = true;
};

class Environment {
 public:
  // Opens or creates the environment in options.data_dir. Fails with
  // kDataLoss when a stored file is malformed and with the KMS's or a
  // cluster's error when one cannot be opened.
  static base::StatusOr<std::unique_ptr<Environment>> Open(
      base::Clock& clock, base::Random& random, EnvironmentOptions options);
  ~Environment();

  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  base::Clock& clock() const;
  base::Random& random() const;
  kms::KeyService& kms() const;
  Account& account() const;
  const std::string& data_dir() const;

  // Creates a cluster as `creator`, who needs the Administrator platform
  // role on every cluster (kPermissionDenied otherwise). The first cluster
  // of a region stores the creator's API key for that region, as the
  // managed service does. Fails with kAlreadyExists for a name in use and
  // with Cluster::Create's errors.
  base::StatusOr<Cluster*> CreateCluster(ClusterSpec spec,
                                         const std::string& creator);
  // Finds a cluster by name or id. Fails with kNotFound, naming the
  // clusters that exist.
  base::StatusOr<Cluster*> FindCluster(const std::string& name_or_id) const;
  // Clusters by creation time, and by name among those created at the same
  // instant.
  std::vector<Cluster*> Clusters() const;
  // Writes the state that timers changed to each cluster's cluster.json
  // (Cluster::Flush); call it after moving the clock. Returns the first
  // error and still flushes the other clusters.
  base::Status Flush() const;

  // Writes a copy of the whole environment (account, KMS, every cluster's
  // store and state, pending timers included) to the new directory `dir`,
  // which Open can load on a clock set to the current time. Fails with
  // kAlreadyExists when `dir` exists, and with the error of the part that
  // could not be copied. Callers must not change the environment meanwhile.
  base::Status Checkpoint(const std::string& dir) const;

 private:
  Environment(base::Clock& clock, base::Random& random,
              EnvironmentOptions options);
  ClusterDeps DepsFor(const std::string& dir, const std::string& name);

  // Constant after construction.
  base::Clock& clock_;
  base::Random& random_;
  const EnvironmentOptions options_;
  std::unique_ptr<kms::KeyService> kms_;
  std::unique_ptr<Account> account_;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Cluster>> clusters_;  // guarded by mu_
};

}  // namespace sim

#endif  // SIM_ENVIRONMENT_H_
