#include "scenarios/engine/runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <regex>

#include "apiserver/registry.h"
#include "base/clock_limits.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/kms.h"
#include "sim/account.h"
#include "sim/cluster.h"

namespace scenarios {
namespace {

using apiserver::Json;

// Every replay starts at the same instant, so that timestamps repeat.
constexpr char kEpoch[] = "2026-01-01T00:00:00Z";

// The result of one evaluation of a step's expectation.
struct Check {
  bool ok = true;
  std::string expected;
  std::string actual;

  static Check Pass() { return {}; }
  static Check Fail(std::string expected, std::string actual) {
    return {false, std::move(expected), std::move(actual)};
  }
};

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

std::string Offset(base::Duration d) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char buf[48];
  if (secs >= 86400) {
    std::snprintf(buf, sizeof(buf), "T+%lldd%02lld:%02lld:%02lld",
                  static_cast<long long>(secs / 86400),
                  static_cast<long long>(secs / 3600 % 24),
                  static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "T+%02lld:%02lld:%02lld",
                  static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60));
  }
  return buf;
}

Json SecretObject(const Fields& f) {
  Json data = Json::object();
  if (f.Has("data")) {
    for (const auto& [key, value] : f.Map("data")) {
      data[key] = base::Base64Encode(value);
    }
  }
  return Json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata",
               {{"name", f.String("name")},
                {"namespace", f.StringOr("namespace", "default")}}},
              {"type", f.StringOr("type", "Opaque")},
              {"data", data}};
}

// `kubectl get secrets -n NS -o json | kubectl replace -f -`: returns how
// many Secrets were written.
base::StatusOr<int> RewriteNamespace(sim::Cluster& cluster,
                                     const std::string& ns) {
  const apiserver::Resource& secrets = apiserver::SecretsResource();
  ASSIGN_OR_RETURN(Json list, cluster.List(secrets, ns));
  int written = 0;
  for (Json& item : list["items"]) {
    ASSIGN_OR_RETURN(apiserver::UpdateResult result,
                     cluster.Update(secrets, ns, std::move(item)));
    if (result.written) ++written;
  }
  return written;
}

// The outcome of an API or KMS action, for the expectation to inspect.
struct ActionResult {
  base::Status status;
  std::optional<Json> object;  // a Secret or a List
  std::optional<int> written;  // for rewrite_secrets
};

class Run {
 public:
  Run(const Scenario& scenario, const RunOptions& options, uint64_t seed)
      : scenario_(scenario),
        clock_(*base::ParseRfc3339(kEpoch)),
        random_(seed),
        kms_(clock_, random_),
        start_(clock_.Now()) {
    work_dir_ = options.work_dir;
  }

  ScenarioResult Execute();

 private:
  base::Status SetUp();
  // Runs one step; returns a failure text or "" on success.
  std::string RunStep(const Step& step);
  // Evaluates `attempt` until it passes or the step's deadline passes.
  Check Await(const Step& step, const std::function<Check()>& attempt);
  Check ExpectAction(const Step& step, const ActionResult& result);
  ActionResult PerformAction(const Step& step);
  ActionResult PerformKeyAction(const Step& step);
  Check CheckCluster(const Step& step);
  Check CheckKey(const Step& step);
  Check CheckStored(const Step& step);
  Check CheckKmsCalls(const Step& step);
  Check CheckWorker(const Step& step);
  base::Status PerformClusterAction(const Step& step, sim::Cluster& cluster);
  // Returns why `step` can never succeed because its cluster's data is
  // gone, or "" when that is not the cause of its failure.
  std::string DataLostReason(const Step& step);
  // Checks that `attempt` keeps passing until `hold` has passed.
  Check Hold(base::Duration hold, const std::function<Check()>& attempt);
  // Records the current value of every timeline lane.
  void Sample();
  void SetLane(const std::string& lane, const std::string& value);

  void Log(const std::string& line) {
    events_.push_back(Offset(clock_.Now() - start_) + " " + line);
    Sample();
  }

  sim::Cluster& ClusterOf(const Fields& f) {
    return *clusters_.at(f.String("cluster"));
  }

  const Scenario& scenario_;
  base::SimulatedClock clock_;
  base::SeededRandom random_;
  kms::KeyService kms_;
  const base::Time start_;
  std::string work_dir_;
  std::map<std::string, std::string> instance_ids_;  // by scenario name
  struct KeyRef {
    std::string instance_id;
    std::string key_id;
  };
  std::map<std::string, KeyRef> keys_;            // by scenario name
  std::map<std::string, std::string> key_names_;  // key id -> name
  std::map<std::string, std::unique_ptr<sim::Cluster>> clusters_;
  std::vector<std::string> events_;
  Timeline timeline_;
  std::map<std::string, size_t> lane_index_;  // lane name -> timeline_.lanes
  // When each cluster lost its data, as a "T+..." offset.
  std::map<std::string, std::string> data_lost_at_;
  bool invalid_ = false;
};

std::string_view MasterStateName(sim::MasterState state) {
  switch (state) {
    case sim::MasterState::kReady:
      return "Ready";
    case sim::MasterState::kKmsEnabling:
      return "KMS enabling";
    case sim::MasterState::kKeyUnusable:
      return "unusable";
    case sim::MasterState::kUpdating:
      return "updating";
    case sim::MasterState::kDataLost:
      return "data lost";
  }
  return "unknown";
}

void Run::SetLane(const std::string& lane, const std::string& value) {
  auto [it, added] = lane_index_.emplace(lane, timeline_.lanes.size());
  if (added) timeline_.lanes.push_back({lane, {}});
  Timeline::Lane& target = timeline_.lanes[it->second];
  if (!target.changes.empty() && target.changes.back().value == value) return;
  target.changes.push_back({clock_.Now() - start_, value});
}

void Run::Sample() {
  for (const sim::ClusterSpec& spec : scenario_.clusters) {
    auto it = clusters_.find(spec.name);
    // A cluster reports events while it is being created.
    if (it == clusters_.end() || !it->second) continue;
    sim::MasterState state = it->second->master_state();
    if (state == sim::MasterState::kDataLost) {
      data_lost_at_.emplace(spec.name, Offset(clock_.Now() - start_));
    }
    SetLane(spec.name + " master", std::string(MasterStateName(state)));
    bool usable = state != sim::MasterState::kKeyUnusable &&
                  state != sim::MasterState::kDataLost;
    SetLane(spec.name + " API", usable ? "available" : "unavailable");
  }
  for (const auto& [name, ref] : keys_) {
    base::StatusOr<kms::Key> key = kms_.GetKey(ref.instance_id, ref.key_id);
    SetLane("key " + name,
            key.ok() ? std::string(kms::KeyStateName(key->state)) : "purged");
  }
}

base::Status Run::SetUp() {
  kms_.Subscribe([this](const kms::KeyEvent& event) {
    auto name = key_names_.find(event.key_id);
    Log("kms: key " + (name == key_names_.end() ? event.key_id : name->second) +
        " " + std::string(kms::KeyEventTypeName(event.type)));
  });
  for (const InstanceSpec& spec : scenario_.instances) {
    ASSIGN_OR_RETURN(
        kms::Instance instance,
        kms_.CreateInstance(spec.name, *kms::ParseInstanceType(spec.type)));
    instance_ids_[spec.name] = instance.id;
  }
  for (const KeySpec& spec : scenario_.keys) {
    kms::CreateKeyRequest request;
    request.name = spec.name;
    request.extractable = !spec.root;
    if (spec.expires_after) request.expiration = start_ + *spec.expires_after;
    request.dual_auth_delete = spec.dual_auth_delete;
    ASSIGN_OR_RETURN(kms::Key key,
                     kms_.CreateKey(instance_ids_.at(spec.instance), request));
    keys_[spec.name] = {key.instance_id, key.id};
    key_names_[key.id] = spec.name;
  }
  for (const sim::ClusterSpec& spec : scenario_.clusters) {
    sim::ClusterDeps deps;
    deps.clock = &clock_;
    deps.random = &random_;
    deps.kms = &kms_;
    deps.data_dir = work_dir_ + "/" + spec.name;
    deps.sync_writes = false;
    deps.on_event = [this](const sim::ClusterEvent& event) {
      std::string message = event.message;
      // Key ids are random; the log names keys as the scenario does.
      for (const auto& [id, name] : key_names_) {
        for (size_t at = message.find(id); at != std::string::npos;
             at = message.find(id)) {
          message.replace(at, id.size(), name);
        }
      }
      Log("cluster " + event.cluster + ": " + message);
    };
    ASSIGN_OR_RETURN(clusters_[spec.name], sim::Cluster::Create(spec, deps));
  }
  return base::OkStatus();
}

Check Run::Await(const Step& step, const std::function<Check()>& attempt) {
  base::Time deadline = clock_.Now() + step.within.value_or(base::Duration{});
  while (true) {
    Check check = attempt();
    if (check.ok) break;
    base::Time now = clock_.Now();
    if (now >= deadline) {
      if (step.within) {
        check.actual +=
            " (still after " + base::FormatDuration(*step.within) + ")";
      }
      return check;
    }
    // Move to the next moment anything can change: the next timer.
    std::optional<base::Time> next = clock_.NextTimerAt();
    base::Time target =
        next && *next < deadline ? std::max(*next, now) : deadline;
    clock_.AdvanceTo(target);
  }
  if (step.hold) return Hold(*step.hold, attempt);
  return Check::Pass();
}

Check Run::Hold(base::Duration hold, const std::function<Check()>& attempt) {
  base::Time begin = clock_.Now();
  base::Time end = begin + hold;
  while (true) {
    base::Time now = clock_.Now();
    if (now >= end) return Check::Pass();
    std::optional<base::Time> next = clock_.NextTimerAt();
    clock_.AdvanceTo(next && *next < end ? std::max(*next, now) : end);
    Check check = attempt();
    if (!check.ok) {
      check.actual += " (after " + base::FormatDuration(clock_.Now() - begin) +
                      " of the " + base::FormatDuration(hold) +
                      " it had to hold)";
      return check;
    }
  }
}

Check Run::CheckKmsCalls(const Step& step) {
  const Fields& f = step.fields;
  std::map<std::string, kms::CallCount> counts = kms_.CallCounts();
  const std::string& operation = f.String("operation");
  kms::CallCount count;
  if (auto it = counts.find(operation); it != counts.end()) count = it->second;
  int64_t total = count.ok + count.failed;
  std::string actual = "calls " + std::to_string(total) + " (" +
                       std::to_string(count.ok) + " ok, " +
                       std::to_string(count.failed) + " failed)";
  if (f.Has("calls") && total != f.Int("calls")) {
    return Check::Fail(operation + " calls " + f.Describe("calls"), actual);
  }
  if (f.Has("at_most") && total > f.Int("at_most")) {
    return Check::Fail(operation + " calls at most " + f.Describe("at_most"),
                       actual);
  }
  if (f.Has("failed") && count.failed != f.Int("failed")) {
    return Check::Fail(operation + " failed calls " + f.Describe("failed"),
                       actual);
  }
  return Check::Pass();
}

ActionResult Run::PerformKeyAction(const Step& step) {
  const Fields& f = step.fields;
  ActionResult result;
  if (step.kind == "create_key") {
    kms::CreateKeyRequest request;
    request.name = f.String("name");
    request.extractable = !f.BoolOr("root", true);
    request.dual_auth_delete = f.BoolOr("dual_auth_delete", false);
    if (f.Has("expires_after")) {
      request.expiration = clock_.Now() + f.DurationOf("expires_after");
    }
    const std::string& instance = instance_ids_.at(f.String("instance"));
    base::StatusOr<kms::Key> key = kms_.CreateKey(instance, request);
    if (key.ok()) {
      keys_[request.name] = {key->instance_id, key->id};
      key_names_[key->id] = request.name;
    }
    result.status = key.status();
    return result;
  }
  const KeyRef& ref = keys_.at(f.String("key"));
  const std::string& i = ref.instance_id;
  const std::string& k = ref.key_id;
  if (step.kind == "disable_key") {
    result.status = kms_.Disable(i, k);
  } else if (step.kind == "enable_key") {
    result.status = kms_.Enable(i, k);
  } else if (step.kind == "rotate_key") {
    result.status = kms_.Rotate(i, k).status();
  } else if (step.kind == "delete_key") {
    result.status = kms_.Delete(i, k, f.BoolOr("force", false)).status();
  } else if (step.kind == "restore_key") {
    result.status = kms_.Restore(i, k).status();
  } else if (step.kind == "purge_key") {
    result.status = kms_.Purge(i, k);
  } else if (step.kind == "set_key_for_deletion") {
    result.status = kms_.SetKeyForDeletion(i, k);
  } else if (step.kind == "unset_key_for_deletion") {
    result.status = kms_.UnsetKeyForDeletion(i, k);
  }
  return result;
}

base::Status Run::PerformClusterAction(const Step& step,
                                       sim::Cluster& cluster) {
  const Fields& f = step.fields;
  auto worker_id = [&]() -> base::StatusOr<std::string> {
    std::vector<sim::Worker> workers = cluster.Workers();
    int64_t index = f.Int("worker");
    if (index < 0 || index >= static_cast<int64_t>(workers.size())) {
      return base::NotFoundError("cluster " + cluster.spec().name + " has " +
                                 std::to_string(workers.size()) +
                                 " workers; worker index " +
                                 std::to_string(index) + " does not exist");
    }
    return workers[index].id;
  };
  if (step.kind == "disable_kms") return cluster.DisableKms();
  if (step.kind == "refresh_master") return cluster.RefreshMaster();
  if (step.kind == "enable_data_shield") return cluster.EnableDataShield();
  if (step.kind == "update_master") {
    ASSIGN_OR_RETURN(sim::Version version,
                     sim::Version::Parse(f.String("version")));
    return cluster.UpdateMaster(version);
  }
  if (step.kind == "add_workers") {
    return cluster
        .AddWorkers(f.StringOr("flavor", ""),
                    f.Has("count") ? static_cast<int>(f.Int("count")) : 1)
        .status();
  }
  if (step.kind == "reload_worker" || step.kind == "update_worker") {
    ASSIGN_OR_RETURN(std::string id, worker_id());
    return step.kind == "reload_worker" ? cluster.ReloadWorker(id)
                                        : cluster.UpdateWorker(id);
  }
  sim::Account& account = cluster.account();
  if (step.kind == "add_user") {
    const std::string& email = f.String("email");
    RETURN_IF_ERROR(account.AddUser({email, email}));
    auto platform = [&](const std::string& field)
        -> base::StatusOr<std::optional<sim::PlatformRole>> {
      if (!f.Has(field)) return std::optional<sim::PlatformRole>();
      std::optional<sim::PlatformRole> role =
          sim::ParsePlatformRole(f.String(field));
      if (!role) {
        return base::InvalidArgumentError(
            "unknown platform role '" + f.String(field) +
            "'; use Viewer, Operator, Editor or Administrator");
      }
      return role;
    };
    ASSIGN_OR_RETURN(std::optional<sim::PlatformRole> cluster_role,
                     platform("cluster_role"));
    ASSIGN_OR_RETURN(std::optional<sim::PlatformRole> kms_platform,
                     platform("kms_platform_role"));
    std::optional<sim::ServiceRole> kms_service;
    if (f.Has("kms_service_role")) {
      kms_service = sim::ParseServiceRole(f.String("kms_service_role"));
      if (!kms_service) {
        return base::InvalidArgumentError("unknown service role '" +
                                          f.String("kms_service_role") +
                                          "'; use Reader, Writer or Manager");
      }
    }
    if (cluster_role) {
      RETURN_IF_ERROR(account.AssignClusterRoles(email, sim::kAllResources,
                                                 {cluster_role, {}}));
    }
    if (kms_platform || kms_service) {
      RETURN_IF_ERROR(account.AssignKmsRoles(email, sim::kAllResources,
                                             {kms_platform, kms_service}));
    }
    return base::OkStatus();
  }
  if (step.kind == "set_api_key") {
    return account
        .ResetApiKey(cluster.spec().region, f.String("user"),
                     "ApiKey-" + random_.Uuid(), clock_.Now())
        .status();
  }
  return base::InternalError("no handler for step " + step.kind);
}

Check Run::CheckWorker(const Step& step) {
  const Fields& f = step.fields;
  sim::Cluster& cluster = ClusterOf(f);
  std::vector<sim::Worker> workers = cluster.Workers();
  int64_t index = f.Int("worker");
  if (index < 0 || index >= static_cast<int64_t>(workers.size())) {
    return Check::Fail("worker " + f.Describe("worker"),
                       std::to_string(workers.size()) + " workers");
  }
  const sim::Worker& worker = workers[index];
  if (f.Has("state")) {
    std::string state = worker.state == sim::WorkerState::kNormal ? "normal"
                        : worker.state == sim::WorkerState::kReloading
                            ? "reloading"
                            : "updating";
    if (state != f.String("state")) {
      return Check::Fail("state " + Quote(f.String("state")),
                         "state " + Quote(state));
    }
  }
  if (f.Has("luks_secret") &&
      worker.luks_secret.empty() == f.BoolOr("luks_secret", false)) {
    return Check::Fail("luks_secret " + f.Describe("luks_secret"),
                       worker.luks_secret.empty()
                           ? "no LUKS key Secret"
                           : "LUKS key Secret " + worker.luks_secret);
  }
  if (f.Has("luks_key_generation") &&
      worker.luks_key_generation != f.Int("luks_key_generation")) {
    return Check::Fail(
        "luks_key_generation " + f.Describe("luks_key_generation"),
        "luks_key_generation " + std::to_string(worker.luks_key_generation));
  }
  if (f.Has("luks_encrypted")) {
    bool expected = f.BoolOr("luks_encrypted", false);
    if (worker.luks_secret.empty()) {
      return Check::Fail("luks_encrypted " + f.Describe("luks_encrypted"),
                         "no LUKS key Secret (provider-managed disk)");
    }
    base::StatusOr<std::string> raw = cluster.RawValue(
        apiserver::SecretsResource(), "kube-system", worker.luks_secret);
    bool encrypted = raw.ok() && raw->starts_with("k8s:enc:kms:v2:");
    if (encrypted != expected) {
      return Check::Fail(
          "luks_encrypted " + f.Describe("luks_encrypted"),
          raw.ok()
              ? "luks_encrypted " + std::string(encrypted ? "true" : "false")
              : "error " + Quote(raw.status().message()));
    }
  }
  return Check::Pass();
}

ActionResult Run::PerformAction(const Step& step) {
  const Fields& f = step.fields;
  if (!step.fields.Has("cluster")) return PerformKeyAction(step);

  sim::Cluster& cluster = ClusterOf(f);
  const apiserver::Resource& secrets = apiserver::SecretsResource();
  std::string ns = f.StringOr("namespace", "default");
  ActionResult result;
  auto take = [&result](base::StatusOr<Json> object) {
    result.status = object.status();
    if (object.ok()) result.object = std::move(*object);
  };

  if (step.kind == "kms_enable") {
    const KeyRef& ref = keys_.at(f.String("key"));
    result.status =
        cluster.EnableKmsAs(f.StringOr("as", cluster.account().owner()),
                            instance_ids_.at(f.String("instance")), ref.key_id,
                            f.BoolOr("public_endpoint", false));
  } else if (step.kind != "create_namespace" &&
             !step.kind.ends_with("_secret") &&
             !step.kind.ends_with("_secrets")) {
    result.status = PerformClusterAction(step, cluster);
  } else if (step.kind == "create_namespace") {
    Json object = {{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata", {{"name", f.String("name")}}}};
    take(
        cluster.Create(apiserver::NamespacesResource(), "", std::move(object)));
  } else if (step.kind == "create_secret") {
    take(cluster.Create(secrets, ns, SecretObject(f)));
  } else if (step.kind == "get_secret") {
    take(cluster.Get(secrets, ns, f.String("name")));
  } else if (step.kind == "update_secret") {
    base::StatusOr<Json> current = cluster.Get(secrets, ns, f.String("name"));
    if (!current.ok()) {
      result.status = current.status();
      return result;
    }
    Json object = *current;
    object["data"] = SecretObject(f)["data"];
    base::StatusOr<apiserver::UpdateResult> updated =
        cluster.Update(secrets, ns, std::move(object));
    result.status = updated.status();
    if (updated.ok()) {
      result.object = updated->object;
      result.written = updated->written ? 1 : 0;
    }
  } else if (step.kind == "delete_secret") {
    take(cluster.Delete(secrets, ns, f.String("name")));
  } else if (step.kind == "list_secrets") {
    bool all = f.BoolOr("all_namespaces", !f.Has("namespace"));
    take(cluster.List(secrets, all ? "" : ns));
  } else if (step.kind == "rewrite_secrets") {
    base::StatusOr<int> written = f.Has("namespace")
                                      ? RewriteNamespace(cluster, ns)
                                      : cluster.RewriteAllSecrets();
    result.status = written.status();
    if (written.ok()) result.written = *written;
  }
  return result;
}

Check Run::ExpectAction(const Step& step, const ActionResult& result) {
  const base::Status& status = result.status;
  std::string actual_outcome =
      status.ok() ? "success" : "error " + Quote(status.message());
  if (!step.expect) {
    if (status.ok()) return Check::Pass();
    return Check::Fail("success", actual_outcome);
  }
  const Fields& e = *step.expect;
  if (e.Has("reason") &&
      (status.ok() || status.reason() != e.String("reason"))) {
    return Check::Fail("error with reason " + e.String("reason"),
                       status.ok() ? actual_outcome
                                   : "reason " + Quote(status.reason()) + ", " +
                                         actual_outcome);
  }
  if (e.Has("error")) {
    if (!status.ok() &&
        std::regex_search(status.message(), std::regex(e.String("error")))) {
      return Check::Pass();
    }
    return Check::Fail("error matching /" + e.String("error") + "/",
                       actual_outcome);
  }
  if (e.Has("reason")) return Check::Pass();
  if (!e.BoolOr("ok", true)) {
    if (!status.ok()) return Check::Pass();
    return Check::Fail("an error", actual_outcome);
  }
  if (!status.ok()) return Check::Fail("success", actual_outcome);

  if (e.Has("data")) {
    std::map<std::string, std::string> actual;
    if (result.object && result.object->contains("data")) {
      for (const auto& [key, value] : (*result.object)["data"].items()) {
        base::StatusOr<std::string> decoded =
            base::Base64Decode(value.get<std::string>());
        actual[key] = decoded.ok() ? *decoded : "<invalid base64>";
      }
    }
    Fields described;
    described.Set("data", actual);
    if (actual != e.Map("data")) {
      return Check::Fail("data " + e.Describe("data"),
                         "data " + described.Describe("data"));
    }
  }
  if (e.Has("count") || e.Has("names")) {
    StringList names;
    if (result.object && result.object->contains("items")) {
      for (const Json& item : (*result.object)["items"]) {
        const Json& meta = item["metadata"];
        names.push_back(meta.value("namespace", "") + "/" +
                        meta.value("name", ""));
      }
    }
    if (e.Has("count") &&
        static_cast<int64_t>(names.size()) != e.Int("count")) {
      return Check::Fail("count " + e.Describe("count"),
                         "count " + std::to_string(names.size()));
    }
    Fields described;
    described.Set("names", names);
    if (e.Has("names") && names != e.List("names")) {
      return Check::Fail("names " + e.Describe("names"),
                         "names " + described.Describe("names"));
    }
  }
  if (e.Has("written") && result.written.value_or(-1) != e.Int("written")) {
    return Check::Fail("written " + e.Describe("written"),
                       "written " + std::to_string(result.written.value_or(0)));
  }
  return Check::Pass();
}

Check Run::CheckCluster(const Step& step) {
  const Fields& f = step.fields;
  sim::Cluster& cluster = ClusterOf(f);
  if (f.Has("master_status")) {
    std::string text = cluster.MasterStatusText();
    if (!std::regex_search(text, std::regex(f.String("master_status")))) {
      return Check::Fail(
          "master_status matching /" + f.String("master_status") + "/",
          "master_status " + Quote(text));
    }
  }
  if (f.Has("health")) {
    std::string health(sim::MasterHealthName(cluster.health()));
    if (health != f.String("health")) {
      return Check::Fail("health " + Quote(f.String("health")),
                         "health " + Quote(health));
    }
  }
  if (f.Has("kms")) {
    std::string kms = cluster.kms_enabled() ? "enabled" : "disabled";
    if (kms != f.String("kms")) {
      return Check::Fail("kms " + Quote(f.String("kms")), "kms " + Quote(kms));
    }
  }
  return Check::Pass();
}

Check Run::CheckKey(const Step& step) {
  const KeyRef& ref = keys_.at(step.fields.String("key"));
  base::StatusOr<kms::Key> key = kms_.GetKey(ref.instance_id, ref.key_id);
  std::string actual = key.ok() ? std::string(kms::KeyStateName(key->state))
                                : "error " + Quote(key.status().message());
  std::string expected = step.fields.String("state");
  if (key.ok() && kms::ParseKeyState(expected) == key->state) {
    return Check::Pass();
  }
  return Check::Fail("state " + Quote(expected), "state " + Quote(actual));
}

Check Run::CheckStored(const Step& step) {
  const Fields& f = step.fields;
  base::StatusOr<std::string> raw = ClusterOf(f).RawValue(
      apiserver::SecretsResource(), f.StringOr("namespace", "default"),
      f.String("name"));
  bool absent = f.BoolOr("absent", false);
  if (!raw.ok()) {
    if (absent && raw.status().code() == base::Code::kNotFound) {
      return Check::Pass();
    }
    return Check::Fail(absent ? "no stored value" : "a stored value",
                       "error " + Quote(raw.status().message()));
  }
  if (absent) return Check::Fail("no stored value", "a stored value");
  if (f.Has("prefix") && !raw->starts_with(f.String("prefix"))) {
    return Check::Fail(
        "stored value starting with " + Quote(f.String("prefix")),
        "stored value starting with " +
            Quote(raw->substr(0, f.String("prefix").size() + 16)));
  }
  if (f.Has("contains")) {
    for (const std::string& text : f.List("contains")) {
      if (raw->find(text) == std::string::npos &&
          raw->find(base::Base64Encode(text)) == std::string::npos) {
        return Check::Fail("stored value containing " + Quote(text),
                           "no such bytes, in plain or base64 form");
      }
    }
  }
  if (f.Has("not_contains")) {
    for (const std::string& text : f.List("not_contains")) {
      if (raw->find(text) != std::string::npos) {
        return Check::Fail("stored value without " + Quote(text),
                           "found in plain form");
      }
      if (raw->find(base::Base64Encode(text)) != std::string::npos) {
        return Check::Fail("stored value without " + Quote(text),
                           "found in base64 form");
      }
    }
  }
  return Check::Pass();
}

std::string Run::RunStep(const Step& step) {
  std::string label = "step " + std::to_string(step.index) + " " + step.kind;
  for (const char* field : {"key", "name", "duration"}) {
    if (step.fields.Has(field)) label += " " + step.fields.Describe(field);
  }
  timeline_.steps.push_back({clock_.Now() - start_, label});
  Log("step " + std::to_string(step.index) + " " + step.kind);
  // Virtual time stays within 100 years of the start, so that adding any
  // duration to it cannot overflow.
  const base::Duration elapsed = clock_.Now() - start_;
  const base::Duration delta = step.kind == "advance"
                                   ? step.fields.DurationOf("duration")
                                   : base::Duration::zero();
  if (elapsed > base::kMaxDuration - delta) {
    invalid_ = true;
    return "step " + std::to_string(step.index) + " " + step.kind + " (" +
           scenario_.file + ":" + std::to_string(step.line) +
           ") cannot run: it would take the virtual clock past " +
           base::FormatDuration(base::kMaxDuration) +
           " from the start.\n    fix: advance the clock by less";
  }
  Check check;
  if (step.kind == "advance") {
    clock_.Advance(delta);
  } else if (step.kind == "expect_cluster") {
    check = Await(step, [&] { return CheckCluster(step); });
  } else if (step.kind == "expect_key") {
    check = Await(step, [&] { return CheckKey(step); });
  } else if (step.kind == "expect_stored") {
    check = Await(step, [&] { return CheckStored(step); });
  } else if (step.kind == "expect_kms_calls") {
    check = Await(step, [&] { return CheckKmsCalls(step); });
  } else if (step.kind == "expect_worker") {
    check = Await(step, [&] { return CheckWorker(step); });
  } else {
    check =
        Await(step, [&] { return ExpectAction(step, PerformAction(step)); });
  }
  if (check.ok) return "";
  std::string where = "step " + std::to_string(step.index) + " " + step.kind +
                      " (" + scenario_.file + ":" + std::to_string(step.line) +
                      ")";
  if (std::string lost = DataLostReason(step); !lost.empty()) {
    invalid_ = true;
    return where + " cannot run: " + lost;
  }
  return where + "\n    expected: " + check.expected +
         "\n    actual:   " + check.actual;
}

std::string Run::DataLostReason(const Step& step) {
  if (!step.fields.Has("cluster") || step.kind.starts_with("expect_")) {
    return "";
  }
  const std::string& name = step.fields.String("cluster");
  if (clusters_.at(name)->master_state() != sim::MasterState::kDataLost) {
    return "";
  }
  // A step that expects a failure is a valid check on the lost cluster.
  if (step.expect && (step.expect->Has("error") || step.expect->Has("reason") ||
                      !step.expect->BoolOr("ok", true))) {
    return "";
  }
  return "cluster " + name +
         " lost its data for good when its root key was "
         "deleted (at " +
         data_lost_at_[name] +
         "), so every request to it "
         "fails.\n    fix: expect the failure, for example expect: {error: "
         "\"i/o timeout\"}, or end the scenario before this step";
}

ScenarioResult Run::Execute() {
  ScenarioResult result;
  result.name = scenario_.name;
  result.file = scenario_.file;
  result.description = scenario_.description;
  result.steps_total = static_cast<int>(scenario_.steps.size());

  base::Status setup = SetUp();
  if (!setup.ok()) {
    result.failure = "set-up failed: " + setup.ToString();
    result.events = events_;
    return result;
  }
  Sample();
  for (const Step& step : scenario_.steps) {
    std::string failure = RunStep(step);
    ++result.steps_run;
    if (!failure.empty()) {
      result.failure = failure;
      break;
    }
  }
  result.passed = result.failure.empty();
  result.invalid = invalid_;
  result.virtual_elapsed = clock_.Now() - start_;
  Sample();
  timeline_.end = result.virtual_elapsed;
  // Clusters on top, keys below, each in order of appearance.
  std::stable_partition(timeline_.lanes.begin(), timeline_.lanes.end(),
                        [](const Timeline::Lane& lane) {
                          return !lane.name.starts_with("key ");
                        });
  result.timeline = timeline_;
  // Clusters hold timers on the clock; drop them before it goes.
  clusters_.clear();
  result.events = events_;
  return result;
}

}  // namespace

ScenarioResult RunScenario(const Scenario& scenario,
                           const RunOptions& options) {
  namespace fs = std::filesystem;
  auto wall_start = std::chrono::steady_clock::now();
  uint64_t seed = scenario.seed.value_or(options.seed);

  std::string parent = options.work_dir.empty()
                           ? fs::temp_directory_path().string()
                           : options.work_dir;
  std::string dir;
  std::error_code ec;
  base::SecureRandom dir_random;
  // A unique directory per run so that parallel runs never share a store.
  do {
    dir = parent + "/sim-replay-" +
          base::Sha256Hex(dir_random.Bytes(8)).substr(0, 12);
  } while (fs::exists(dir, ec));

  ScenarioResult result;
  {
    RunOptions run_options = options;
    run_options.work_dir = dir;
    Run run(scenario, run_options, seed);
    result = run.Execute();
  }
  fs::remove_all(dir, ec);
  if (ec)
    spdlog::warn("could not remove replay directory {}: {}", dir, ec.message());
  result.seed = seed;
  result.wall_seconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - wall_start)
                            .count();
  return result;
}

}  // namespace scenarios
