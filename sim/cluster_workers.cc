// Worker nodes, their LUKS key Secrets, and Data Shield on a Cluster.
#include <spdlog/spdlog.h>

#include "base/crypto.h"
#include "sim/cluster_state.h"

namespace sim {
namespace {

using std::chrono::minutes;

// How long a worker reload or update runs, in virtual minutes: the model
// draws 8 to 12 for a reload and 12 to 18 for an update.
constexpr int kMinReloadMinutes = 8;
constexpr int kMinUpdateMinutes = 12;
constexpr int kWorkerJitterMinutes = 5;
constexpr int kLuksKeyBytes = 32;

constexpr char kLuksNamespace[] = "kube-system";
constexpr char kWorkerIdLabel[] = "ibm-cloud.kubernetes.io/worker-id";

std::string LuksSecretName(const std::string& worker_id) {
  return "luks-key-" + worker_id;
}

std::string KnownWorkerIds(const std::vector<Worker>& workers) {
  if (workers.empty()) return "the cluster has no workers";
  std::string ids;
  for (const Worker& worker : workers) {
    ids += (ids.empty() ? "" : ", ") + worker.id;
  }
  return "its workers are " + ids;
}

}  // namespace

base::StatusOr<Worker> Cluster::State::NewWorkerLocked(const Flavor& flavor) {
  Worker worker;
  worker.id = "kube-" + id + "-w" + std::to_string(next_worker++);
  worker.flavor = flavor.name;
  worker.zone = spec.zone;
  worker.private_ip = "10." + std::to_string(deps.random->Uniform(256)) + "." +
                      std::to_string(deps.random->Uniform(256)) + "." +
                      std::to_string(1 + deps.random->Uniform(254));
  worker.version = version;
  worker.state_since = clock().Now();
  if (spec.infrastructure == Infrastructure::kClassic) {
    worker.luks_secret = LuksSecretName(worker.id);
    worker.luks_key_generation = 1;
  }
  return worker;
}

base::Status Cluster::State::WriteLuksSecret(const std::string& worker_id,
                                             const std::string& secret_name,
                                             int generation) {
  const apiserver::Resource& secrets = apiserver::SecretsResource();
  Json object = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", secret_name},
        {"namespace", kLuksNamespace},
        {"labels", {{kWorkerIdLabel, worker_id}}},
        {"annotations",
         {{"ibm-cloud.kubernetes.io/luks-key-generation",
           std::to_string(generation)}}}}},
      {"type", "Opaque"},
      {"data",
       {{"luks-key", base::Base64Encode(deps.random->Bytes(kLuksKeyBytes))}}},
  };
  base::StatusOr<Json> current =
      registry->Get(secrets, kLuksNamespace, secret_name);
  if (current.ok()) {
    return registry->Update(secrets, kLuksNamespace, std::move(object))
        .status();
  }
  if (current.status().reason() != "NotFound") return current.status();
  return registry->Create(secrets, kLuksNamespace, std::move(object)).status();
}

base::StatusOr<std::vector<Worker>> Cluster::AddWorkers(
    const std::string& flavor_name, int count) {
  State& s = *state_;
  int existing;
  {
    std::lock_guard lock(s.mu);
    existing = static_cast<int>(s.workers.size());
  }
  if (count < 1 || count > kMaxWorkers - existing) {
    return base::InvalidArgumentError(
        "invalid worker count " + std::to_string(count) + ": cluster " +
        s.spec.name + " has " + std::to_string(existing) +
        " workers, so expected 1 to " + std::to_string(kMaxWorkers - existing) +
        " more (at most " + std::to_string(kMaxWorkers) + " in all)");
  }
  ASSIGN_OR_RETURN(
      Flavor flavor,
      FindFlavor(flavor_name.empty() ? DefaultFlavor(s.spec.infrastructure)
                                     : flavor_name,
                 s.spec.infrastructure));
  bool classic = s.spec.infrastructure == Infrastructure::kClassic;
  if (classic && s.Unusable()) return s.ConnectError();

  std::vector<Worker> added;
  for (int i = 0; i < count; ++i) {
    Worker worker;
    {
      std::lock_guard lock(s.mu);
      ASSIGN_OR_RETURN(worker, s.NewWorkerLocked(flavor));
    }
    if (classic) {
      RETURN_IF_ERROR(s.WriteLuksSecret(worker.id, worker.luks_secret,
                                        worker.luks_key_generation));
    }
    {
      std::lock_guard lock(s.mu);
      s.workers.push_back(worker);
    }
    added.push_back(worker);
    s.Emit("worker " + worker.id + " added, flavor " + flavor.name +
           (classic ? ", with a LUKS key Secret in kube-system" : ""));
  }
  RETURN_IF_ERROR(s.Persist());
  return added;
}

std::vector<Worker> Cluster::Workers() const {
  std::lock_guard lock(state_->mu);
  return state_->workers;
}

base::StatusOr<Worker> Cluster::GetWorker(const std::string& worker_id) const {
  std::lock_guard lock(state_->mu);
  for (const Worker& worker : state_->workers) {
    if (worker.id == worker_id) return worker;
  }
  return base::NotFoundError("worker " + worker_id + " not found in cluster " +
                             state_->spec.name + "; " +
                             KnownWorkerIds(state_->workers));
}

base::Status Cluster::State::StartWorkerOperation(const std::string& worker_id,
                                                  WorkerState operation) {
  const bool reload = operation == WorkerState::kReloading;
  const char* verb = reload ? "reload" : "update";
  const bool classic = spec.infrastructure == Infrastructure::kClassic;
  std::string secret_name;
  int generation = 0;
  WorkerState before_state;
  base::Time before_since;
  {
    std::lock_guard lock(mu);
    auto it = std::ranges::find(workers, worker_id, &Worker::id);
    if (it == workers.end()) {
      return base::NotFoundError("worker " + worker_id +
                                 " not found in cluster " + spec.name + "; " +
                                 KnownWorkerIds(workers));
    }
    if (it->state != WorkerState::kNormal) {
      return base::FailedPreconditionError(
          "cannot " + std::string(verb) + " worker " + worker_id + ": it is " +
          std::string(WorkerStateName(it->state)) +
          "; wait until its state is normal");
    }
    // A classic worker stores its new LUKS key through the master.
    if (classic && UnusableLocked()) {
      return base::FailedPreconditionError(
          "cannot " + std::string(verb) + " worker " + worker_id +
          ": the master of cluster " + spec.name +
          " is unusable, so the worker's new LUKS key cannot be stored; " +
          UnusableReasonLocked());
    }
    // Claim the worker before writing its Secret outside the lock.
    before_state = it->state;
    before_since = it->state_since;
    it->state = operation;
    it->state_since = clock().Now();
    secret_name = it->luks_secret;
    generation = it->luks_key_generation + 1;
  }

  if (classic) {
    base::Status written = WriteLuksSecret(worker_id, secret_name, generation);
    if (!written.ok()) {
      std::lock_guard lock(mu);
      auto it = std::ranges::find(workers, worker_id, &Worker::id);
      it->state = before_state;
      it->state_since = before_since;
      return written;
    }
  }

  int min_minutes = reload ? kMinReloadMinutes : kMinUpdateMinutes;
  base::Duration duration =
      minutes(min_minutes + deps.random->Uniform(kWorkerJitterMinutes));
  {
    std::lock_guard lock(mu);
    auto it = std::ranges::find(workers, worker_id, &Worker::id);
    if (classic) it->luks_key_generation = generation;
    ScheduleLocked("worker/" + worker_id, clock().Now() + duration);
  }
  Emit("worker " + worker_id + " " + verb + " started" +
       (classic ? "; its LUKS key was rotated" : ""));
  return Persist();
}

void Cluster::State::FinishWorkerOperation(const std::string& worker_id) {
  std::string done;
  {
    std::lock_guard lock(mu);
    auto it = std::ranges::find(workers, worker_id, &Worker::id);
    if (it == workers.end()) return;
    if (it->state == WorkerState::kUpdating) {
      it->version = version;
      done = "updated to " + version.ToString();
    } else {
      done = "reloaded";
    }
    it->state = WorkerState::kNormal;
    it->state_since = clock().Now();
  }
  Emit("worker " + worker_id + " " + done);
}

base::Status Cluster::ReloadWorker(const std::string& worker_id) {
  return state_->StartWorkerOperation(worker_id, WorkerState::kReloading);
}

// NOTE: an update of a worker that already runs the master's version still
// reimages it and rotates its LUKS key. Whether the managed service does so
// is not documented.
base::Status Cluster::UpdateWorker(const std::string& worker_id) {
  return state_->StartWorkerOperation(worker_id, WorkerState::kUpdating);
}

base::Status Cluster::EnableDataShield() {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.spec.infrastructure == Infrastructure::kVpc) {
      return base::FailedPreconditionError(
          "Data Shield is not available on VPC cluster " + s.spec.name +
          ": it needs SGX-capable bare metal workers, which only classic "
          "clusters have; create a classic cluster with one of " +
          SgxFlavorNames());
    }
    bool has_sgx = false;
    std::string flavors;
    for (const Worker& worker : s.workers) {
      base::StatusOr<Flavor> flavor =
          FindFlavor(worker.flavor, s.spec.infrastructure);
      if (flavor.ok() && flavor->sgx) has_sgx = true;
      if (flavors.find(worker.flavor) == std::string::npos) {
        flavors += (flavors.empty() ? "" : ", ") + worker.flavor;
      }
    }
    if (!has_sgx) {
      return base::FailedPreconditionError(
          "Data Shield needs a worker with an SGX-capable bare metal "
          "flavor (" +
          SgxFlavorNames() + "), but cluster " + s.spec.name + " has " +
          (flavors.empty() ? "no workers" : "only " + flavors) +
          "; add workers of an SGX-capable flavor first");
    }
    if (s.data_shield) return base::OkStatus();
    s.data_shield = true;
  }
  s.Emit("Data Shield enabled");
  return s.Persist();
}

bool Cluster::data_shield_enabled() const {
  std::lock_guard lock(state_->mu);
  return state_->data_shield;
}

}  // namespace sim
