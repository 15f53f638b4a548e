#include "scenarios/engine/runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string_view>

#include "apiserver/api_status.h"
#include "apiserver/registry.h"
#include "base/clock_limits.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/kms.h"
#include "sim/account.h"
#include "sim/cluster.h"
#include "sim/environment.h"
#include "sim/ks.h"
#include "sim/kube_access.h"

namespace scenarios {
namespace {

using apiserver::Json;

// Every replay starts at the same instant, so that timestamps repeat.
constexpr char kEpoch[] = "2026-01-01T00:00:00Z";

// Returns `text` with its line feeds and carriage returns written as \x0a
// and \x0d, for a message that must stay one line although it quotes
// names from the scenario.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\x0a";
    } else if (c == '\r') {
      out += "\\x0d";
    } else {
      out += c;
    }
  }
  return out;
}

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

bool IsKubernetesStep(const std::string& kind) {
  return kind == "create_namespace" || kind.ends_with("_secret") ||
         kind.ends_with("_secrets");
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
                                     const std::string& ns, int api_server) {
  const apiserver::Resource& secrets = apiserver::SecretsResource();
  ASSIGN_OR_RETURN(Json list, cluster.List(secrets, ns, api_server));
  int written = 0;
  for (Json& item : list["items"]) {
    ASSIGN_OR_RETURN(apiserver::UpdateResult result,
                     cluster.Update(secrets, ns, std::move(item), api_server));
    if (result.written) ++written;
  }
  return written;
}

// Splits a command line into words as a POSIX shell does for plain words,
// 'single' and "double" quotes and backslash escapes; no expansions.
base::StatusOr<std::vector<std::string>> SplitCommandLine(
    const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    return base::InvalidArgumentError("unterminated " + std::string(1, quote) +
                                      " quote in ks command: " + line);
  }
  if (in_word) words.push_back(word);
  return words;
}

// The outcome of an API or KMS action, for the expectation to inspect.
struct ActionResult {
  base::Status status;
  std::optional<Json> object;  // a Secret or a List
  std::optional<int> written;  // for rewrite_secrets
  // For Kubernetes operations: false when the master did not respond at
  // all (kubectl's i/o timeout), so there is no HTTP status.
  bool responded = true;
  std::string output;  // what a ks step printed
};

class Run;

// Runs `ks` steps on the replay's Environment and clock.
class ReplayKsHost : public sim::KsHost {
 public:
  explicit ReplayKsHost(Run& run) : run_(run) {}
  base::Status Init(const sim::KsGlobalFlags&,
                    const sim::KsInitFlags&) override {
    return base::FailedPreconditionError(
        "a scenario's account exists from its start; `ks init` is not a "
        "step");
  }
  base::StatusOr<sim::Environment*> Open(const sim::KsGlobalFlags&) override;
  base::Status AdvanceClock(base::Duration delta) override;
  std::string ClockDescription() const override;
  std::string KubeconfigDir() const override;
  base::Status Close() override { return base::OkStatus(); }

 private:
  Run& run_;
};

class Run {
 public:
  Run(const Scenario& scenario, const RunOptions& options, uint64_t seed)
      : scenario_(scenario),
        clock_(std::make_unique<base::SimulatedClock>(
            *base::ParseRfc3339(kEpoch))),
        random_(seed),
        start_(clock_->Now()),
        ks_host_(*this) {
    work_dir_ = options.work_dir;
    stop_ = options.stop;
  }
  ~Run() {
    // Clusters hold timers on the clock; drop them before it goes.
    env_.reset();
  }

  ScenarioResult Execute();

  sim::Environment& env() { return *env_; }
  base::SimulatedClock& clock() { return *clock_; }
  const std::string& work_dir() const { return work_dir_; }

 private:
  struct KeyRef {
    std::string instance_id;
    std::string key_id;
  };
  // The state a snapshot step saved beside the environment's files.
  struct Snapshot {
    std::string dir;
    base::Time at;
    std::map<std::string, kms::FaultInfo> faults;  // by scenario name
    std::map<std::string, KeyRef> keys;
  };

  base::Status SetUp();
  // Opens the environment in `dir` on the current clock and finds the
  // scenario's clusters in it.
  base::Status OpenEnvironment(const std::string& dir);
  // Runs one step; returns a failure text or "" on success.
  std::string RunStep(const Step& step);
  // Evaluates `attempt` until it passes or the step's deadline passes.
  Check Await(const Step& step, const std::function<Check()>& attempt);
  Check ExpectAction(const Step& step, const ActionResult& result);
  Check ExpectHttp(const Fields& e, const ActionResult& result);
  ActionResult PerformAction(const Step& step);
  ActionResult PerformKeyAction(const Step& step);
  ActionResult PerformKubernetesAction(const Step& step);
  ActionResult PerformKs(const Step& step);
  base::Status AddFault(const Fields& f);
  base::Status ClearFaults(const Fields& f);
  base::Status TakeSnapshot(const std::string& name);
  base::Status RestoreSnapshot(const std::string& name);
  Check CheckCluster(const Step& step);
  Check CheckHealth(const Step& step);
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
  // Virtual time on the timeline: it keeps moving forward when a restore
  // sets the clock back.
  base::Duration TimelineNow() const {
    return clock_->Now() - start_ + rewound_;
  }
  kms::KeyService& kms() { return env_->kms(); }

  void Log(const std::string& line) {
    events_.push_back(Offset(clock_->Now() - start_) + " " + line);
    Sample();
  }

  sim::Cluster& ClusterOf(const Fields& f) {
    return *clusters_.at(f.String("cluster"));
  }

  const Scenario& scenario_;
  // Replaced by a restore; the environment uses it, so it goes last.
  std::unique_ptr<base::SimulatedClock> clock_;
  base::SeededRandom random_;
  const base::Time start_;
  std::string work_dir_;
  std::stop_token stop_;
  ReplayKsHost ks_host_;
  std::unique_ptr<sim::Environment> env_;
  // Each restore opens a copy in a new directory.
  int environment_generation_ = 0;
  std::map<std::string, KeyRef> keys_;            // by scenario name
  std::map<std::string, std::string> key_names_;  // key id -> name
  std::map<std::string, sim::Cluster*> clusters_;
  // KMS faults in effect, by scenario name -> fault id.
  std::map<std::string, uint64_t> faults_;
  std::map<std::string, Snapshot> snapshots_;
  // KMS call counts of the services that restores replaced.
  std::map<std::string, kms::CallCount> earlier_calls_;
  base::Duration rewound_{};
  std::vector<std::string> events_;
  Timeline timeline_;
  std::map<std::string, size_t> lane_index_;  // lane name -> timeline_.lanes
  // When each cluster lost its data, as a "T+..." offset.
  std::map<std::string, std::string> data_lost_at_;
  bool invalid_ = false;
  // Set by a step that can never run, with the reason and the fix.
  std::string invalid_reason_;
};

base::StatusOr<sim::Environment*> ReplayKsHost::Open(
    const sim::KsGlobalFlags&) {
  return &run_.env();
}

base::Status ReplayKsHost::AdvanceClock(base::Duration delta) {
  run_.clock().Advance(delta);
  return base::OkStatus();
}

std::string ReplayKsHost::ClockDescription() const {
  return "simulated, now " + base::FormatRfc3339(run_.clock().Now());
}

std::string ReplayKsHost::KubeconfigDir() const {
  return run_.work_dir() + "/kubeconfig";
}

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
  target.changes.push_back({TimelineNow(), value});
}

void Run::Sample() {
  for (const sim::ClusterSpec& spec : scenario_.clusters) {
    auto it = clusters_.find(spec.name);
    // A cluster reports events while it is being created or opened.
    if (it == clusters_.end() || !it->second) continue;
    sim::MasterState state = it->second->master_state();
    if (state == sim::MasterState::kDataLost) {
      data_lost_at_.emplace(spec.name, Offset(clock_->Now() - start_));
    }
    SetLane(spec.name + " master", std::string(MasterStateName(state)));
    bool usable = state != sim::MasterState::kKeyUnusable &&
                  state != sim::MasterState::kDataLost;
    SetLane(spec.name + " API", usable ? "available" : "unavailable");
  }
  if (!env_) return;
  for (const auto& [name, ref] : keys_) {
    base::StatusOr<kms::Key> key = kms().GetKey(ref.instance_id, ref.key_id);
    SetLane("key " + name,
            key.ok() ? std::string(kms::KeyStateName(key->state)) : "purged");
  }
}

base::Status Run::OpenEnvironment(const std::string& dir) {
  sim::EnvironmentOptions options;
  options.data_dir = dir;
  options.sync_writes = false;
  options.on_event = [this](const sim::ClusterEvent& event) {
    std::string message = event.message;
    // The run's directory is random, so the log shows paths relative to it.
    for (size_t at = message.find(work_dir_ + "/"); at != std::string::npos;
         at = message.find(work_dir_ + "/")) {
      message.erase(at, work_dir_.size() + 1);
    }
    // Cluster ids are random; the log names clusters as the scenario does.
    for (const auto& [name, cluster] : clusters_) {
      if (cluster == nullptr) continue;
      for (size_t at = message.find(cluster->id()); at != std::string::npos;
           at = message.find(cluster->id())) {
        message.replace(at, cluster->id().size(), name);
      }
    }
    Log("cluster " + event.cluster + ": " + message);
  };
  clusters_.clear();
  ASSIGN_OR_RETURN(env_, sim::Environment::Open(*clock_, random_, options));
  kms().Subscribe([this](const kms::KeyEvent& event) {
    auto name = key_names_.find(event.key_id);
    Log("kms: key " + (name == key_names_.end() ? event.key_id : name->second) +
        " " + std::string(kms::KeyEventTypeName(event.type)));
  });
  for (sim::Cluster* cluster : env_->Clusters()) {
    clusters_[cluster->spec().name] = cluster;
  }
  return base::OkStatus();
}

base::Status Run::SetUp() {
  RETURN_IF_ERROR(OpenEnvironment(work_dir_ + "/env-0"));
  // Instances and keys take their scenario names as ids, so that `ks` steps
  // and messages name them as the scenario does.
  for (const InstanceSpec& spec : scenario_.instances) {
    RETURN_IF_ERROR(kms()
                        .CreateInstance(spec.name,
                                        *kms::ParseInstanceType(spec.type),
                                        spec.name)
                        .status());
  }
  for (const KeySpec& spec : scenario_.keys) {
    kms::CreateKeyRequest request;
    request.name = spec.name;
    request.id = spec.name;
    request.extractable = !spec.root;
    if (spec.expires_after) request.expiration = start_ + *spec.expires_after;
    request.dual_auth_delete = spec.dual_auth_delete;
    base::StatusOr<kms::Key> created = kms().CreateKey(spec.instance, request);
    if (!created.ok()) {
      // The KMS's message may not name the key, so the report does.
      return base::Status(created.status().code(),
                          "creating key \"" + spec.name +
                              "\" failed: " + created.status().message(),
                          created.status().reason());
    }
    const kms::Key& key = *created;
    keys_[spec.name] = {key.instance_id, key.id};
    key_names_[key.id] = spec.name;
  }
  for (const sim::ClusterSpec& spec : scenario_.clusters) {
    clusters_[spec.name] = nullptr;
    ASSIGN_OR_RETURN(clusters_[spec.name],
                     env_->CreateCluster(spec, sim::kDefaultOwner));
  }
  return base::OkStatus();
}

Check Run::Await(const Step& step, const std::function<Check()>& attempt) {
  base::Time deadline = clock_->Now() + step.within.value_or(base::Duration{});
  while (true) {
    Check check = attempt();
    if (check.ok) break;
    base::Time now = clock_->Now();
    // Execute reports a stopped run as stopped, whatever the check returns.
    if (now >= deadline || stop_.stop_requested()) {
      if (step.within) {
        check.actual +=
            " (still after " + base::FormatDuration(*step.within) + ")";
      }
      return check;
    }
    // Move to the next moment anything can change: the next timer.
    std::optional<base::Time> next = clock_->NextTimerAt();
    base::Time target =
        next && *next < deadline ? std::max(*next, now) : deadline;
    clock_->AdvanceTo(target);
  }
  if (step.hold) return Hold(*step.hold, attempt);
  return Check::Pass();
}

Check Run::Hold(base::Duration hold, const std::function<Check()>& attempt) {
  base::Time begin = clock_->Now();
  base::Time end = begin + hold;
  while (true) {
    base::Time now = clock_->Now();
    if (now >= end || stop_.stop_requested()) return Check::Pass();
    std::optional<base::Time> next = clock_->NextTimerAt();
    clock_->AdvanceTo(next && *next < end ? std::max(*next, now) : end);
    Check check = attempt();
    if (!check.ok) {
      check.actual += " (after " + base::FormatDuration(clock_->Now() - begin) +
                      " of the " + base::FormatDuration(hold) +
                      " it had to hold)";
      return check;
    }
  }
}

Check Run::CheckKmsCalls(const Step& step) {
  const Fields& f = step.fields;
  std::map<std::string, kms::CallCount> counts = kms().CallCounts();
  const std::string& operation = f.String("operation");
  kms::CallCount count;
  if (auto it = counts.find(operation); it != counts.end()) count = it->second;
  // Calls before a restore count too: the count is of the whole run.
  if (auto it = earlier_calls_.find(operation); it != earlier_calls_.end()) {
    count.ok += it->second.ok;
    count.failed += it->second.failed;
  }
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
    request.id = f.String("name");
    request.extractable = !f.BoolOr("root", true);
    request.dual_auth_delete = f.BoolOr("dual_auth_delete", false);
    if (f.Has("expires_after")) {
      request.expiration = clock_->Now() + f.DurationOf("expires_after");
    }
    base::StatusOr<kms::Key> key =
        kms().CreateKey(f.String("instance"), request);
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
    result.status = kms().Disable(i, k);
  } else if (step.kind == "enable_key") {
    result.status = kms().Enable(i, k);
  } else if (step.kind == "rotate_key") {
    result.status = kms().Rotate(i, k).status();
  } else if (step.kind == "delete_key") {
    result.status = kms().Delete(i, k, f.BoolOr("force", false)).status();
  } else if (step.kind == "restore_key") {
    result.status = kms().Restore(i, k).status();
  } else if (step.kind == "purge_key") {
    result.status = kms().Purge(i, k);
  } else if (step.kind == "set_key_for_deletion") {
    result.status = kms().SetKeyForDeletion(i, k);
  } else if (step.kind == "unset_key_for_deletion") {
    result.status = kms().UnsetKeyForDeletion(i, k);
  }
  return result;
}

base::Status Run::AddFault(const Fields& f) {
  kms::FaultSpec spec;
  spec.kind = *kms::ParseFaultKind(f.String("kind"));
  spec.operation = f.StringOr("operation", "");
  if (f.Has("key")) {
    const KeyRef& ref = keys_.at(f.String("key"));
    spec.instance_id = ref.instance_id;
    spec.key_id = ref.key_id;
  }
  if (f.Has("latency")) spec.latency = f.DurationOf("latency");
  if (f.Has("status")) spec.http_status = static_cast<int>(f.Int("status"));
  spec.reason = f.StringOr("reason", "");
  spec.message = f.StringOr("message", "");
  if (f.Has("outage")) spec.outage = *kms::ParseOutageMode(f.String("outage"));
  if (f.Has("nth")) spec.nth = f.Int("nth");
  if (f.Has("rate")) spec.rate = f.Number("rate");
  // Each fault draws from its own stream, seeded from the run's random source
  // unless the step sets `seed`.
  spec.seed = f.Has("seed") ? static_cast<uint64_t>(f.Int("seed"))
                            : random_.Uniform(1u << 30) + 1;
  if (f.Has("max_hits")) spec.max_hits = f.Int("max_hits");
  if (f.Has("lasts")) spec.expires_at = clock_->Now() + f.DurationOf("lasts");
  ASSIGN_OR_RETURN(uint64_t id, kms().faults().Add(spec));
  faults_[f.String("name")] = id;
  return base::OkStatus();
}

base::Status Run::ClearFaults(const Fields& f) {
  if (!f.Has("name")) {
    kms().faults().Clear();
    faults_.clear();
    return base::OkStatus();
  }
  auto it = faults_.find(f.String("name"));
  // A fault with `lasts` may have removed itself already.
  if (it != faults_.end()) {
    kms().faults().Remove(it->second);
    faults_.erase(it);
  }
  return base::OkStatus();
}

base::Status Run::TakeSnapshot(const std::string& name) {
  Snapshot snapshot;
  snapshot.dir = work_dir_ + "/snapshot-" + std::to_string(snapshots_.size());
  snapshot.at = clock_->Now();
  for (const auto& [fault, id] : faults_) {
    if (std::optional<kms::FaultInfo> info = kms().faults().Get(id)) {
      snapshot.faults[fault] = *info;
    }
  }
  snapshot.keys = keys_;
  RETURN_IF_ERROR(env_->Checkpoint(snapshot.dir));
  Log("snapshot " + name + " taken");
  snapshots_[name] = std::move(snapshot);
  return base::OkStatus();
}

base::Status Run::RestoreSnapshot(const std::string& name) {
  namespace fs = std::filesystem;
  const Snapshot& snapshot = snapshots_.at(name);
  for (const auto& [operation, count] : kms().CallCounts()) {
    earlier_calls_[operation].ok += count.ok;
    earlier_calls_[operation].failed += count.failed;
  }
  base::Time now = clock_->Now();

  // The copy is opened, not the snapshot, so that it can be restored again.
  std::string dir =
      work_dir_ + "/env-" + std::to_string(++environment_generation_);
  std::error_code ec;
  fs::copy(snapshot.dir, dir, fs::copy_options::recursive, ec);
  if (ec) {
    return base::FailedPreconditionError("cannot copy snapshot " + name +
                                         " to " + dir + ": " + ec.message());
  }
  env_.reset();
  clusters_.clear();
  clock_ = std::make_unique<base::SimulatedClock>(snapshot.at);
  rewound_ += now - snapshot.at;
  keys_ = snapshot.keys;
  data_lost_at_.clear();
  RETURN_IF_ERROR(OpenEnvironment(dir));

  // Faults live in the KMS process, not in its data; the ones in effect at
  // the snapshot come back with the calls they had left.
  faults_.clear();
  for (const auto& [fault, info] : snapshot.faults) {
    kms::FaultSpec spec = info.spec;
    if (spec.nth > 0) {
      if (info.matched >= spec.nth) continue;
      spec.nth -= info.matched;
    }
    if (spec.max_hits > 0) {
      if (info.hits >= spec.max_hits) continue;
      spec.max_hits -= info.hits;
    }
    if (spec.expires_at && *spec.expires_at <= snapshot.at) continue;
    ASSIGN_OR_RETURN(uint64_t id, kms().faults().Add(spec));
    faults_[fault] = id;
  }
  Log("restored snapshot " + name + ": the clock is back at " +
      Offset(snapshot.at - start_));
  return base::OkStatus();
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
  if (step.kind == "add_api_server") return cluster.AddApiServer().status();
  if (step.kind == "restart_api_server") {
    return cluster.RestartApiServer(static_cast<int>(f.Int("api_server")));
  }
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
    auto service = [&](const std::string& field)
        -> base::StatusOr<std::optional<sim::ServiceRole>> {
      if (!f.Has(field)) return std::optional<sim::ServiceRole>();
      std::optional<sim::ServiceRole> role =
          sim::ParseServiceRole(f.String(field));
      if (!role) {
        return base::InvalidArgumentError("unknown service role '" +
                                          f.String(field) +
                                          "'; use Reader, Writer or Manager");
      }
      return role;
    };
    ASSIGN_OR_RETURN(std::optional<sim::ServiceRole> kms_service,
                     service("kms_service_role"));
    ASSIGN_OR_RETURN(std::optional<sim::ServiceRole> cluster_service,
                     service("cluster_service_role"));
    if (cluster_role || cluster_service) {
      RETURN_IF_ERROR(account.AssignClusterRoles(
          email, sim::kAllResources, {cluster_role, cluster_service}));
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
                     "ApiKey-" + random_.Uuid(), clock_->Now())
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
  ActionResult result;
  if (step.kind == "ks") return PerformKs(step);
  if (step.kind == "kms_fault") {
    result.status = AddFault(f);
    return result;
  }
  if (step.kind == "clear_kms_fault") {
    result.status = ClearFaults(f);
    return result;
  }
  if (!step.fields.Has("cluster")) return PerformKeyAction(step);
  if (IsKubernetesStep(step.kind)) return PerformKubernetesAction(step);

  sim::Cluster& cluster = ClusterOf(f);
  if (step.kind == "kms_enable") {
    const KeyRef& ref = keys_.at(f.String("key"));
    result.status = cluster.EnableKmsAs(
        f.StringOr("as", cluster.account().owner()), f.String("instance"),
        ref.key_id, f.BoolOr("public_endpoint", false));
  } else {
    result.status = PerformClusterAction(step, cluster);
  }
  return result;
}

ActionResult Run::PerformKubernetesAction(const Step& step) {
  const Fields& f = step.fields;
  sim::Cluster& cluster = ClusterOf(f);
  const apiserver::Resource& secrets = apiserver::SecretsResource();
  std::string ns = f.StringOr("namespace", "default");
  int server = f.Has("api_server") ? static_cast<int>(f.Int("api_server")) : 0;
  ActionResult result;
  auto take = [&result](base::StatusOr<Json> object) {
    result.status = object.status();
    if (object.ok()) result.object = std::move(*object);
  };
  // An unusable master responds to nothing, not even with a 403.
  sim::MasterState state = cluster.master_state();
  result.responded = state != sim::MasterState::kKeyUnusable &&
                     state != sim::MasterState::kDataLost;

  // The verbs that kubectl's requests for the step need, checked in order.
  bool all = step.kind == "list_secrets" &&
             f.BoolOr("all_namespaces", !f.Has("namespace"));
  std::string name = f.StringOr("name", "");
  std::vector<std::pair<std::string, std::string>> verbs;
  const apiserver::Resource* resource = &secrets;
  if (step.kind == "create_namespace") {
    resource = &apiserver::NamespacesResource();
    verbs = {{"create", ""}};
  } else if (step.kind == "create_secret") {
    verbs = {{"create", ""}};
  } else if (step.kind == "get_secret") {
    verbs = {{"get", name}};
  } else if (step.kind == "update_secret") {
    verbs = {{"get", name}, {"update", name}};
  } else if (step.kind == "replace_secret") {
    verbs = {{"update", name}};
  } else if (step.kind == "delete_secret") {
    verbs = {{"delete", name}};
  } else if (step.kind == "list_secrets") {
    verbs = {{"list", ""}};
  } else if (step.kind == "rewrite_secrets") {
    all = !f.Has("namespace");
    verbs = {{"list", ""}, {"update", ""}};
  }
  if (f.Has("as") && result.responded) {
    for (const auto& [verb, object] : verbs) {
      base::Status allowed = sim::AuthorizeKubernetes(
          cluster.account(), cluster.id(), f.String("as"), verb, *resource,
          resource->namespaced && !all ? ns : "", object);
      if (!allowed.ok()) {
        result.status = allowed;
        return result;
      }
    }
  }

  if (step.kind == "create_namespace") {
    Json object = {{"apiVersion", "v1"},
                   {"kind", "Namespace"},
                   {"metadata", {{"name", f.String("name")}}}};
    take(cluster.Create(*resource, "", std::move(object), server));
  } else if (step.kind == "create_secret") {
    take(cluster.Create(secrets, ns, SecretObject(f), server));
  } else if (step.kind == "get_secret") {
    take(cluster.Get(secrets, ns, name, server));
  } else if (step.kind == "update_secret" || step.kind == "replace_secret") {
    Json object = SecretObject(f);
    if (step.kind == "update_secret") {
      // kubectl edit: read the object, change its data, write it back.
      base::StatusOr<Json> current = cluster.Get(secrets, ns, name, server);
      if (!current.ok()) {
        result.status = current.status();
        return result;
      }
      object = *current;
      object["data"] = SecretObject(f)["data"];
    } else if (f.Has("resource_version")) {
      object["metadata"]["resourceVersion"] = f.String("resource_version");
    }
    base::StatusOr<apiserver::UpdateResult> updated =
        cluster.Update(secrets, ns, std::move(object), server);
    result.status = updated.status();
    if (updated.ok()) {
      result.object = updated->object;
      result.written = updated->written ? 1 : 0;
    }
  } else if (step.kind == "delete_secret") {
    take(cluster.Delete(secrets, ns, name, server));
  } else if (step.kind == "list_secrets") {
    take(cluster.List(secrets, all ? "" : ns, server));
  } else if (step.kind == "rewrite_secrets") {
    base::StatusOr<int> written = f.Has("namespace")
                                      ? RewriteNamespace(cluster, ns, server)
                                      : cluster.RewriteAllSecrets(server);
    result.status = written.status();
    if (written.ok()) result.written = *written;
  }
  return result;
}

ActionResult Run::PerformKs(const Step& step) {
  const Fields& f = step.fields;
  ActionResult result;
  base::StatusOr<std::vector<std::string>> words =
      SplitCommandLine(f.String("command"));
  if (!words.ok()) {
    invalid_reason_ = words.status().message() +
                      "\n    fix: close the quote in the step's command";
    result.status = words.status();
    return result;
  }
  // The acting user is always passed, so that $SIM_KS_USER cannot leak in.
  std::vector<std::string> args = {"--user",
                                   f.StringOr("as", sim::kDefaultOwner)};
  args.insert(args.end(), words->begin(), words->end());
  std::ostringstream out, err;
  int code = sim::RunKs(ks_host_, args, out, err);
  result.output = out.str();
  std::string message = err.str();
  if (message.starts_with("FAILED\n")) message = message.substr(7);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (code == 2) {
    invalid_reason_ = "`ks " + f.String("command") +
                      "` is not a valid ks command line: " + message +
                      "\n    fix: correct the command; `sim ks --help` "
                      "lists the commands and their flags";
  }
  if (code != 0) {
    result.status = base::Status(
        base::Code::kFailedPrecondition,
        message.empty() ? "ks exited with code " + std::to_string(code)
                        : message);
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
  if (e.Has("http_status") || e.Has("http_reason")) {
    Check http = ExpectHttp(e, result);
    if (!http.ok || !e.Has("error")) return http;
  }
  if (e.Has("error")) {
    if (!status.ok() &&
        std::regex_search(status.message(),
                          CompileExpectationRegex(e.String("error")))) {
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

  if (e.Has("output") &&
      !std::regex_search(result.output,
                         CompileExpectationRegex(e.String("output")))) {
    return Check::Fail("output matching /" + e.String("output") + "/",
                       "output " + Quote(result.output));
  }
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

Check Run::ExpectHttp(const Fields& e, const ActionResult& result) {
  std::string expected = "HTTP";
  if (e.Has("http_status")) expected += " " + e.Describe("http_status");
  if (e.Has("http_reason")) expected += " " + e.String("http_reason");
  if (!result.responded) {
    return Check::Fail(expected,
                       "no HTTP response: " + Quote(result.status.message()));
  }
  if (result.status.ok()) return Check::Fail(expected, "success");
  // The same Status body that the API server's HTTP layer sends.
  Json body = apiserver::FailureStatus(result.status);
  int64_t code = body.value("code", 0);
  std::string reason = body.value("reason", "");
  std::string actual = "HTTP " + std::to_string(code) + " " + reason + " " +
                       Quote(body.value("message", ""));
  if (e.Has("http_status") && code != e.Int("http_status")) {
    return Check::Fail(expected, actual);
  }
  if (e.Has("http_reason") && reason != e.String("http_reason")) {
    return Check::Fail(expected, actual);
  }
  return Check::Pass();
}

Check Run::CheckHealth(const Step& step) {
  const Fields& f = step.fields;
  sim::Cluster& cluster = ClusterOf(f);
  int server = f.Has("api_server") ? static_cast<int>(f.Int("api_server")) : 0;
  sim::MasterState state = cluster.master_state();
  bool reachable = state != sim::MasterState::kKeyUnusable &&
                   state != sim::MasterState::kDataLost;
  base::StatusOr<std::unique_ptr<apiserver::ApiHandler>> handler =
      cluster.NewApiHandler(server);
  for (const auto& [field, path] :
       {std::pair{"livez", "/livez"}, std::pair{"readyz", "/readyz"},
        std::pair{"kms_providers", "/healthz/kms-providers"}}) {
    if (!f.Has(field)) continue;
    std::string expected = std::string(path) + " " + f.String(field);
    if (!reachable) {
      return Check::Fail(expected,
                         "no HTTP response: the master is unreachable");
    }
    if (!handler.ok()) {
      return Check::Fail(expected,
                         "error " + Quote(handler.status().message()));
    }
    apiserver::ApiResponse response =
        (*handler)->Handle({"GET", std::string(path) + "?verbose", {}, ""});
    std::string actual = response.status == 200 ? "ok" : "failed";
    if (actual != f.String(field)) {
      std::string body = response.body;
      while (!body.empty() && body.back() == '\n') body.pop_back();
      return Check::Fail(expected, std::string(path) + " " + actual +
                                       " (HTTP " +
                                       std::to_string(response.status) + ": " +
                                       Quote(body) + ")");
    }
  }
  return Check::Pass();
}

Check Run::CheckCluster(const Step& step) {
  const Fields& f = step.fields;
  sim::Cluster& cluster = ClusterOf(f);
  if (f.Has("master_status")) {
    std::string text = cluster.MasterStatusText();
    if (!std::regex_search(
            text, CompileExpectationRegex(f.String("master_status")))) {
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
  base::StatusOr<kms::Key> key = kms().GetKey(ref.instance_id, ref.key_id);
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
  timeline_.steps.push_back({TimelineNow(), label});
  Log("step " + std::to_string(step.index) + " " + step.kind);
  invalid_reason_.clear();
  // Virtual time stays within 100 years of the start, so that adding any
  // duration to it cannot overflow.
  const base::Duration elapsed = clock_->Now() - start_;
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
    clock_->Advance(delta);
  } else if (step.kind == "snapshot" || step.kind == "restore") {
    const std::string& name = step.fields.String("name");
    base::Status done =
        step.kind == "snapshot" ? TakeSnapshot(name) : RestoreSnapshot(name);
    if (!done.ok()) check = Check::Fail("success", done.ToString());
  } else if (step.kind == "expect_cluster") {
    check = Await(step, [&] { return CheckCluster(step); });
  } else if (step.kind == "expect_health") {
    check = Await(step, [&] { return CheckHealth(step); });
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
  if (check.ok && invalid_reason_.empty()) return "";
  std::string where = "step " + std::to_string(step.index) + " " + step.kind +
                      " (" + scenario_.file + ":" + std::to_string(step.line) +
                      ")";
  if (std::string lost = DataLostReason(step); !lost.empty()) {
    invalid_ = true;
    return where + " cannot run: " + lost;
  }
  if (!invalid_reason_.empty()) {
    invalid_ = true;
    return where + " cannot run: " + invalid_reason_;
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
    result.failure = "set-up failed: " + OneLine(setup.ToString());
    result.cancelled = stop_.stop_requested();
    result.events = events_;
    return result;
  }
  Sample();
  for (const Step& step : scenario_.steps) {
    if (stop_.stop_requested()) {
      result.cancelled = true;
      break;
    }
    std::string failure = RunStep(step);
    ++result.steps_run;
    if (!failure.empty()) {
      result.failure = failure;
      break;
    }
  }
  result.cancelled = result.cancelled || stop_.stop_requested();
  result.passed = result.failure.empty() && !result.cancelled;
  result.invalid = invalid_;
  result.virtual_elapsed = clock_->Now() - start_;
  Sample();
  timeline_.end = TimelineNow();
  // Clusters on top, keys below, each in order of appearance.
  std::stable_partition(timeline_.lanes.begin(), timeline_.lanes.end(),
                        [](const Timeline::Lane& lane) {
                          return !lane.name.starts_with("key ");
                        });
  result.timeline = timeline_;
  // Clusters hold timers on the clock; drop them before it goes.
  clusters_.clear();
  env_.reset();
  result.events = events_;
  return result;
}

// Creates a new directory for one run under `parent`, or under the system
// temporary folder when `parent` is empty. The directory is mode 0700,
// because its stores hold the KMS's key material: everything the run
// creates inside is out of other users' reach, whatever the umask.
base::StatusOr<std::string> MakeRunDirectory(const std::string& parent) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string base_dir =
      parent.empty() ? fs::temp_directory_path(ec).string() : parent;
  if (ec) {
    return base::FailedPreconditionError(
        "no temporary folder: " + ec.message() + "; set TMPDIR or --work-dir");
  }
  fs::create_directories(base_dir, ec);
  std::string dir = base_dir + "/sim-replay-XXXXXX";
  if (ec || mkdtemp(dir.data()) == nullptr) {
    std::string reason = ec ? ec.message() : std::strerror(errno);
    return base::FailedPreconditionError(
        "cannot create a run directory in " + base_dir + ": " + reason +
        "; name a writable folder with --work-dir");
  }
  return dir;
}

}  // namespace

ScenarioResult RunScenario(const Scenario& scenario,
                           const RunOptions& options) {
  namespace fs = std::filesystem;
  auto wall_start = std::chrono::steady_clock::now();
  uint64_t seed = scenario.seed.value_or(options.seed);

  ScenarioResult result;
  result.name = scenario.name;
  result.file = scenario.file;
  result.description = scenario.description;
  result.steps_total = static_cast<int>(scenario.steps.size());
  result.seed = seed;
  base::StatusOr<std::string> dir = MakeRunDirectory(options.work_dir);
  if (!dir.ok()) {
    result.invalid = true;
    result.failure = "set-up failed: " + OneLine(dir.status().message());
    return result;
  }
  {
    RunOptions run_options = options;
    run_options.work_dir = *dir;
    Run run(scenario, run_options, seed);
    result = run.Execute();
  }
  std::error_code ec;
  fs::remove_all(*dir, ec);
  if (ec) {
    spdlog::warn("could not remove replay directory {}: {}", *dir,
                 ec.message());
  }
  result.seed = seed;
  result.wall_seconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - wall_start)
                            .count();
  return result;
}

}  // namespace scenarios
