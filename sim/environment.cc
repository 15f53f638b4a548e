#include "sim/environment.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "sim/json_file.h"

namespace sim {

namespace fs = std::filesystem;

Environment::Environment(base::Clock& clock, base::Random& random,
                         EnvironmentOptions options)
    : clock_(clock), random_(random), options_(std::move(options)) {}

Environment::~Environment() {
  // Clusters subscribe to the KMS and hold timers on the clock.
  std::lock_guard lock(mu_);
  clusters_.clear();
}

base::StatusOr<std::unique_ptr<Environment>> Environment::Open(
    base::Clock& clock, base::Random& random, EnvironmentOptions options) {
  if (options.data_dir.empty()) {
    return base::InvalidArgumentError("environment needs a data directory");
  }
  // The directory contains the KMS's key material, the clusters' tokens and
  // their Secrets.
  RETURN_IF_ERROR(CreatePrivateDirectory(options.data_dir));
  RETURN_IF_ERROR(CreatePrivateDirectory(options.data_dir + "/clusters"));
  std::error_code ec;
  std::unique_ptr<Environment> env(
      new Environment(clock, random, std::move(options)));
  const std::string& dir = env->options_.data_dir;
  ASSIGN_OR_RETURN(env->account_,
                   Account::Open(dir + "/account.json", env->options_.owner));
  ASSIGN_OR_RETURN(env->kms_, kms::KeyService::Open(clock, random, dir + "/kms",
                                                    env->options_.sync_writes));

  std::vector<std::unique_ptr<Cluster>> clusters;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(dir + "/clusters", ec)) {
    if (!entry.is_directory()) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<Cluster> cluster,
                     Cluster::Open(env->DepsFor(entry.path().string(), "")));
    clusters.push_back(std::move(cluster));
  }
  if (ec) {
    return base::DataLossError("cannot list " + dir +
                               "/clusters: " + ec.message());
  }
  std::ranges::sort(clusters, [](const auto& a, const auto& b) {
    if (a->created() != b->created()) return a->created() < b->created();
    return a->spec().name < b->spec().name;
  });
  env->clusters_ = std::move(clusters);
  spdlog::info("environment: opened {} with {} clusters", dir,
               env->clusters_.size());
  return env;
}

ClusterDeps Environment::DepsFor(const std::string& dir,
                                 const std::string& name) {
  ClusterDeps deps;
  deps.clock = &clock_;
  deps.random = &random_;
  deps.kms = kms_.get();
  deps.data_dir = dir;
  deps.on_event = options_.on_event;
  deps.account = account_.get();
  deps.sync_writes = options_.sync_writes;
  if (!name.empty() && options_.master_endpoint) {
    deps.master_endpoint = options_.master_endpoint(name);
  }
  return deps;
}

base::Clock& Environment::clock() const { return clock_; }
base::Random& Environment::random() const { return random_; }
kms::KeyService& Environment::kms() const { return *kms_; }
Account& Environment::account() const { return *account_; }
const std::string& Environment::data_dir() const { return options_.data_dir; }

base::StatusOr<Cluster*> Environment::CreateCluster(
    ClusterSpec spec, const std::string& creator) {
  RETURN_IF_ERROR(account_->GetUser(creator).status());
  if (account_->ClusterRoles(creator, kAllResources).platform !=
      PlatformRole::kAdministrator) {
    return base::PermissionDeniedError(
        "user " + creator +
        " cannot create clusters: creating a cluster needs the "
        "Administrator platform role on all clusters; ask an account "
        "administrator to assign it");
  }

  std::lock_guard lock(mu_);
  for (const auto& cluster : clusters_) {
    if (cluster->spec().name == spec.name) {
      return base::AlreadyExistsError("a cluster named " + spec.name +
                                      " already exists; choose another name");
    }
  }
  // The cluster's directory is named after a random id, so a name can be
  // reused after a cluster is gone.
  std::string dir =
      options_.data_dir + "/clusters/" + random_.Uuid().substr(0, 8);
  std::string name = spec.name;
  std::string region = spec.region;
  base::StatusOr<std::unique_ptr<Cluster>> cluster =
      Cluster::Create(std::move(spec), DepsFor(dir, name));
  if (!cluster.ok()) {
    // A half-created directory would make the next Open fail.
    std::error_code ec;
    fs::remove_all(dir, ec);
    return cluster.status();
  }
  if (!account_->GetApiKey(region)) {
    RETURN_IF_ERROR(account_
                        ->ResetApiKey(region, creator,
                                      "ApiKey-" + random_.Uuid(), clock_.Now())
                        .status());
  }
  clusters_.push_back(std::move(*cluster));
  return clusters_.back().get();
}

base::StatusOr<Cluster*> Environment::FindCluster(
    const std::string& name_or_id) const {
  std::lock_guard lock(mu_);
  std::string names;
  for (const auto& cluster : clusters_) {
    if (cluster->spec().name == name_or_id || cluster->id() == name_or_id) {
      return cluster.get();
    }
    names += (names.empty() ? "" : ", ") + cluster->spec().name;
  }
  return base::NotFoundError(
      "cluster " + name_or_id + " not found; " +
      (names.empty() ? std::string("the account has no clusters yet")
                     : "the account's clusters are " + names) +
      " (list them with `ks cluster ls`)");
}

std::vector<Cluster*> Environment::Clusters() const {
  std::lock_guard lock(mu_);
  std::vector<Cluster*> out;
  for (const auto& cluster : clusters_) out.push_back(cluster.get());
  return out;
}

base::Status Environment::Flush() const {
  base::Status first;
  for (Cluster* cluster : Clusters()) {
    base::Status flushed = cluster->Flush();
    if (first.ok()) first = flushed;
  }
  return first;
}

}  // namespace sim

namespace sim {

base::Status Environment::Checkpoint(const std::string& dir) const {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return base::AlreadyExistsError("checkpoint directory " + dir +
                                    " exists; choose a new directory");
  }
  RETURN_IF_ERROR(CreatePrivateDirectory(dir + "/clusters"));
  RETURN_IF_ERROR(WriteJsonFile(dir + "/account.json", account_->ToJson()));
  RETURN_IF_ERROR(kms_->SaveCopy(dir + "/kms"));
  std::lock_guard lock(mu_);
  for (const auto& cluster : clusters_) {
    // Each cluster keeps the directory name it has here, so that Open finds
    // the same layout.
    std::string name = fs::path(cluster->data_dir()).filename().string();
    RETURN_IF_ERROR(cluster->Checkpoint(dir + "/clusters/" + name));
  }
  return base::OkStatus();
}

}  // namespace sim
