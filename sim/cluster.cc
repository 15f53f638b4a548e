#include "sim/cluster.h"

#include <spdlog/spdlog.h>

#include <array>
#include <filesystem>
#include <regex>

#include "base/crypto.h"
#include "sim/cluster_state.h"
#include "sim/json_file.h"
#include "sim/names.h"

namespace sim {
namespace {

using nlohmann::json;

constexpr int kStateFormat = 1;
constexpr char kStateFile[] = "cluster.json";

constexpr std::array<std::string_view, 5> kMasterStateNames = {
    "ready", "kms_enabling", "key_unusable", "data_lost", "updating"};

std::optional<MasterState> ParseMasterState(std::string_view name) {
  for (size_t i = 0; i < kMasterStateNames.size(); ++i) {
    if (kMasterStateNames[i] == name) return static_cast<MasterState>(i);
  }
  return std::nullopt;
}

std::optional<WorkerState> ParseWorkerState(std::string_view name) {
  for (WorkerState state : {WorkerState::kNormal, WorkerState::kReloading,
                            WorkerState::kUpdating}) {
    if (WorkerStateName(state) == name) return state;
  }
  return std::nullopt;
}

// Zones are written as "dal10" (classic) or "us-south-1" (VPC).
base::Status ValidateZone(const std::string& zone) {
  static const std::regex kPattern(R"([a-z][a-z0-9-]{0,31})");
  if (std::regex_match(zone, kPattern)) return base::OkStatus();
  return base::InvalidArgumentError(
      "invalid zone " + QuoteForMessage(zone) +
      ": use 1 to 32 lower-case letters, digits or '-', starting with a "
      "letter, such as dal10 or us-south-1");
}

base::Status ValidateWorkerCount(int workers) {
  if (workers >= 0 && workers <= kMaxWorkers) return base::OkStatus();
  return base::InvalidArgumentError(
      "invalid worker count " + std::to_string(workers) + ": expected 0 to " +
      std::to_string(kMaxWorkers));
}

std::string DefaultZone(const std::string& region,
                        Infrastructure infrastructure) {
  if (infrastructure == Infrastructure::kVpc) return region + "-1";
  static const std::map<std::string, std::string> kClassicZones = {
      {"us-south", "dal10"}, {"us-east", "wdc04"}, {"eu-de", "fra02"},
      {"eu-gb", "lon04"},    {"jp-tok", "tok02"},  {"au-syd", "syd01"},
  };
  auto it = kClassicZones.find(region);
  return it == kClassicZones.end() ? region + "-classic-1" : it->second;
}

json WorkerToJson(const Worker& worker) {
  return {{"id", worker.id},
          {"flavor", worker.flavor},
          {"zone", worker.zone},
          {"private_ip", worker.private_ip},
          {"version", worker.version.ToString()},
          {"state", WorkerStateName(worker.state)},
          {"state_since", TimeToJson(worker.state_since)},
          {"luks_secret", worker.luks_secret},
          {"luks_key_generation", worker.luks_key_generation}};
}

base::StatusOr<Version> VersionFromJson(const json& in) {
  base::StatusOr<Version> version = Version::Parse(in.get<std::string>());
  if (!version.ok()) return base::DataLossError(version.status().message());
  return version;
}

base::StatusOr<Worker> WorkerFromJson(const json& in) {
  Worker worker;
  worker.id = in.at("id").get<std::string>();
  worker.flavor = in.at("flavor").get<std::string>();
  worker.zone = in.at("zone").get<std::string>();
  worker.private_ip = in.at("private_ip").get<std::string>();
  ASSIGN_OR_RETURN(worker.version, VersionFromJson(in.at("version")));
  std::optional<WorkerState> state =
      ParseWorkerState(in.at("state").get<std::string>());
  if (!state)
    return base::DataLossError(
        "unknown worker state " +
        in.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  worker.state = *state;
  ASSIGN_OR_RETURN(worker.state_since, TimeFromJson(in.at("state_since")));
  worker.luks_secret = in.at("luks_secret").get<std::string>();
  worker.luks_key_generation = in.at("luks_key_generation").get<int>();
  return worker;
}

json ProviderToJson(const ProviderRecord& record) {
  const KmsProviderInfo& info = record.info;
  return {{"name", info.name},
          {"type", kms::InstanceTypeName(info.type)},
          {"instance_id", info.instance_id},
          {"key_id", info.key_id},
          {"follows_key_rotation", info.follows_key_rotation},
          {"current", info.current},
          {"fixed_key_id", record.fixed_key_id}};
}

base::StatusOr<ProviderRecord> ProviderFromJson(const json& in) {
  ProviderRecord record;
  KmsProviderInfo& info = record.info;
  info.name = in.at("name").get<std::string>();
  std::optional<kms::InstanceType> type =
      kms::ParseInstanceType(in.at("type").get<std::string>());
  if (!type)
    return base::DataLossError(
        "unknown KMS type " +
        in.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  info.type = *type;
  info.instance_id = in.at("instance_id").get<std::string>();
  info.key_id = in.at("key_id").get<std::string>();
  info.follows_key_rotation = in.at("follows_key_rotation").get<bool>();
  info.current = in.at("current").get<bool>();
  record.fixed_key_id = in.at("fixed_key_id").get<std::string>();
  return record;
}

json SpecToJson(const ClusterSpec& spec) {
  return {{"name", spec.name},
          {"version", spec.version.ToString()},
          {"infrastructure", InfrastructureName(spec.infrastructure)},
          {"region", spec.region},
          {"workers", spec.workers},
          {"flavor", spec.flavor},
          {"zone", spec.zone}};
}

base::StatusOr<ClusterSpec> SpecFromJson(const json& in) {
  ClusterSpec spec;
  spec.name = in.at("name").get<std::string>();
  ASSIGN_OR_RETURN(spec.version, VersionFromJson(in.at("version")));
  spec.infrastructure = in.at("infrastructure").get<std::string>() == "vpc"
                            ? Infrastructure::kVpc
                            : Infrastructure::kClassic;
  spec.region = in.at("region").get<std::string>();
  spec.workers = in.at("workers").get<int>();
  spec.flavor = in.at("flavor").get<std::string>();
  spec.zone = in.at("zone").get<std::string>();
  return spec;
}

// Restores the fields of `s` from its stored form; the store, registry and
// transformers are set up by the caller.
base::Status StateFromJson(const json& in, Cluster::State& s) {
  if (in.value("format", 0) != kStateFormat) {
    return base::DataLossError("unsupported cluster state format in " +
                               s.state_path);
  }
  ASSIGN_OR_RETURN(s.spec, SpecFromJson(in.at("spec")));
  s.id = in.at("id").get<std::string>();
  s.endpoint = in.at("endpoint").get<std::string>();
  s.api_token = in.at("api_token").get<std::string>();
  ASSIGN_OR_RETURN(s.created, TimeFromJson(in.at("created")));
  if (in.contains("account")) {
    ASSIGN_OR_RETURN(s.own_account, Account::FromJson(in.at("account")));
  }
  ASSIGN_OR_RETURN(s.version, VersionFromJson(in.at("version")));
  s.features = FeaturesOf(s.version);

  const json& master = in.at("master");
  std::optional<MasterState> state =
      ParseMasterState(master.at("state").get<std::string>());
  if (!state) return base::DataLossError("unknown master state in state file");
  s.master_state = *state;
  ASSIGN_OR_RETURN(s.state_since, TimeFromJson(master.at("since")));
  s.unusable_cause = master.at("unusable_cause").get<std::string>();

  const json& kms = in.at("kms");
  s.kms_enabled = kms.at("enabled").get<bool>();
  s.instance_id = kms.at("instance_id").get<std::string>();
  s.crk_id = kms.at("crk_id").get<std::string>();
  s.public_endpoint = kms.at("public_endpoint").get<bool>();
  s.key_registered = kms.at("key_registered").get<bool>();
  for (const json& key : kms.at("used_crks")) {
    s.used_crks.insert(key.get<std::string>());
  }
  for (const json& provider : kms.at("providers")) {
    ASSIGN_OR_RETURN(ProviderRecord record, ProviderFromJson(provider));
    s.providers.push_back(std::move(record));
  }
  if (!kms.at("enabling").is_null()) {
    const json& enabling = kms.at("enabling");
    s.enabling_instance = enabling.at("instance_id").get<std::string>();
    s.enabling_crk = enabling.at("crk_id").get<std::string>();
    s.enabling_public = enabling.at("public_endpoint").get<bool>();
  }
  if (!in.at("update_target").is_null()) {
    ASSIGN_OR_RETURN(s.update_target, VersionFromJson(in.at("update_target")));
  }
  for (const json& worker : in.at("workers")) {
    ASSIGN_OR_RETURN(Worker parsed, WorkerFromJson(worker));
    s.workers.push_back(std::move(parsed));
  }
  s.next_worker = in.at("next_worker").get<int>();
  s.data_shield = in.at("data_shield").get<bool>();
  return base::OkStatus();
}

}  // namespace

base::Status ValidateClusterName(const std::string& name) {
  static const std::regex kPattern(R"([A-Za-z][A-Za-z0-9.\-_]{0,34})");
  if (std::regex_match(name, kPattern)) return base::OkStatus();
  return base::InvalidArgumentError(
      "invalid cluster name " + QuoteForMessage(name) +
      ": use up to 35 letters, digits, '.', '-' or '_', starting with a "
      "letter");
}

base::Status ValidateRegion(const std::string& region) {
  for (std::string_view known : kRegions) {
    if (region == known) return base::OkStatus();
  }
  std::string names;
  for (std::string_view known : kRegions) {
    names += (names.empty() ? "" : ", ") + std::string(known);
  }
  return base::InvalidArgumentError("unknown region " +
                                    QuoteForMessage(region) +
                                    ": the simulated service offers " + names);
}

std::string_view MasterHealthName(MasterHealth health) {
  switch (health) {
    case MasterHealth::kNormal:
      return "normal";
    case MasterHealth::kWarning:
      return "warning";
    case MasterHealth::kCritical:
      return "critical";
    case MasterHealth::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

std::string_view WorkerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kNormal:
      return "normal";
    case WorkerState::kReloading:
      return "reloading";
    case WorkerState::kUpdating:
      return "updating";
  }
  return "unknown";
}

void Cluster::State::Emit(const std::string& message) {
  spdlog::info("cluster {}: {}", spec.name, message);
  if (deps.on_event) deps.on_event({clock().Now(), spec.name, message});
}

void Cluster::State::SetMasterState(MasterState state) {
  master_state = state;
  state_since = clock().Now();
}

base::Status Cluster::State::ConnectError() const {
  return base::UnavailableError(
      "Unable to connect to the server: dial tcp " + endpoint + ": i/o timeout",
      "Timeout");
}

std::string Cluster::State::UnusableReasonLocked() const {
  if (master_state == MasterState::kDataLost) {
    return "its root key " + crk_id +
           " was deleted, so its data is lost for good; create a new cluster";
  }
  return "its root key " + crk_id + " in KMS instance " + instance_id + " is " +
         unusable_cause +
         "; enable the root key in the KMS instance "
         "and wait for the master to recover";
}

void Cluster::State::ScheduleLocked(const std::string& slot, base::Time due) {
  CancelLocked(slot);
  base::Clock::TimerId id = clock().ScheduleAt(due, [this, slot] {
    {
      std::lock_guard lock(mu);
      timers.erase(slot);
    }
    Fire(slot);
  });
  timers[slot] = {id, due};
}

void Cluster::State::CancelLocked(const std::string& slot) {
  auto it = timers.find(slot);
  if (it == timers.end()) return;
  clock().Cancel(it->second.id);
  timers.erase(it);
}

void Cluster::State::CancelAllLocked() {
  for (const auto& [slot, timer] : timers) clock().Cancel(timer.id);
  timers.clear();
}

void Cluster::State::Fire(const std::string& slot) {
  if (slot == "enablement") {
    FinishEnablement();
  } else if (slot == "update") {
    FinishUpdate();
  } else if (slot == "refresh") {
    CheckRootKey();
    std::lock_guard lock(mu);
    ScheduleLocked("refresh", clock().Now() + RefreshIntervalLocked());
  } else if (slot == "event_check" || slot == "expiry_check") {
    CheckRootKey();
  } else if (slot.starts_with("worker/")) {
    FinishWorkerOperation(slot.substr(std::string_view("worker/").size()));
  } else {
    spdlog::error("cluster {}: timer of unknown slot {}", spec.name, slot);
  }
  MarkUnsaved();
}

Json Cluster::State::ToJsonLocked() const {
  json kms_json = {{"enabled", kms_enabled},
                   {"instance_id", instance_id},
                   {"crk_id", crk_id},
                   {"public_endpoint", public_endpoint},
                   {"key_registered", key_registered},
                   {"used_crks", used_crks},
                   {"providers", json::array()},
                   {"enabling", nullptr}};
  for (const ProviderRecord& record : providers) {
    kms_json["providers"].push_back(ProviderToJson(record));
  }
  if (!enabling_crk.empty()) {
    kms_json["enabling"] = {{"instance_id", enabling_instance},
                            {"crk_id", enabling_crk},
                            {"public_endpoint", enabling_public}};
  }
  json out = {
      {"format", kStateFormat},
      {"spec", SpecToJson(spec)},
      {"id", id},
      {"endpoint", endpoint},
      {"api_token", api_token},
      {"created", TimeToJson(created)},
      {"version", version.ToString()},
      {"master",
       {{"state", kMasterStateNames[static_cast<size_t>(master_state)]},
        {"since", TimeToJson(state_since)},
        {"unusable_cause", unusable_cause}}},
      {"kms", kms_json},
      {"update_target",
       update_target ? json(update_target->ToString()) : json(nullptr)},
      {"workers", json::array()},
      {"next_worker", next_worker},
      {"data_shield", data_shield},
      {"api_servers", extra_api_servers.size() + 1},
      {"timers", json::object()},
  };
  if (own_account) out["account"] = own_account->ToJson();
  for (const Worker& worker : workers) {
    out["workers"].push_back(WorkerToJson(worker));
  }
  for (const auto& [slot, timer] : timers) {
    out["timers"][slot] = TimeToJson(timer.due);
  }
  return out;
}

base::Status Cluster::State::Persist() {
  json snapshot;
  uint64_t seq;
  {
    std::lock_guard lock(mu);
    snapshot = ToJsonLocked();
    seq = ++change_seq;
    unsaved = false;
  }
  std::lock_guard lock(save_mu);
  // A later snapshot may have been written first by another thread.
  if (seq <= saved_seq) return base::OkStatus();
  base::Status written = WriteJsonFile(state_path, snapshot);
  if (!written.ok()) {
    spdlog::error("cluster {}: saving state failed: {}", spec.name,
                  written.ToString());
    std::lock_guard retry(mu);
    unsaved = true;  // so that the next Flush tries again
    return written;
  }
  saved_seq = seq;
  return base::OkStatus();
}

void Cluster::State::MarkUnsaved() {
  std::lock_guard lock(mu);
  unsaved = true;
}

base::Status Cluster::State::Flush() {
  {
    std::lock_guard lock(mu);
    if (!unsaved) return base::OkStatus();
  }
  return Persist();
}

Cluster::Cluster(std::unique_ptr<State> state) : state_(std::move(state)) {}

Cluster::~Cluster() {
  state_->deps.kms->Unsubscribe(state_->subscription);
  // Before the timers are cancelled, which would drop them from the file.
  (void)state_->Flush();
  std::lock_guard lock(state_->mu);
  state_->CancelAllLocked();
}

base::Status Cluster::Flush() { return state_->Flush(); }

namespace {

base::Status CheckDeps(const ClusterDeps& deps) {
  if (!deps.clock || !deps.random || !deps.kms) {
    return base::InvalidArgumentError("cluster needs a clock, random and KMS");
  }
  if (deps.data_dir.empty()) {
    return base::InvalidArgumentError("cluster needs a data directory");
  }
  return base::OkStatus();
}

// Opens the store and registry of `s` and subscribes to key events.
base::Status Attach(Cluster::State& s) {
  RETURN_IF_ERROR(CreatePrivateDirectory(s.deps.data_dir));
  ASSIGN_OR_RETURN(s.store,
                   etcd::OpenRocksDbStore(s.deps.data_dir, s.clock(),
                                          {.sync = s.deps.sync_writes}));
  s.registry = std::make_unique<apiserver::Registry>(
      *s.store, apiserver::NewIdentityTransformer(), s.clock(), *s.deps.random);
  s.account = s.deps.account ? s.deps.account : s.own_account.get();
  return base::OkStatus();
}

void Subscribe(Cluster::State& s) {
  Cluster::State* raw = &s;
  s.subscription = s.deps.kms->Subscribe(
      [raw](const kms::KeyEvent& event) { raw->OnKeyEvent(event); });
}

}  // namespace

base::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(ClusterSpec spec,
                                                         ClusterDeps deps) {
  RETURN_IF_ERROR(CheckDeps(deps));
  RETURN_IF_ERROR(ValidateClusterName(spec.name));
  RETURN_IF_ERROR(ValidateSupportedVersion(spec.version));
  RETURN_IF_ERROR(ValidateRegion(spec.region));
  RETURN_IF_ERROR(ValidateWorkerCount(spec.workers));
  if (spec.flavor.empty()) spec.flavor = DefaultFlavor(spec.infrastructure);
  ASSIGN_OR_RETURN(Flavor flavor, FindFlavor(spec.flavor, spec.infrastructure));
  if (spec.zone.empty()) {
    spec.zone = DefaultZone(spec.region, spec.infrastructure);
  }
  RETURN_IF_ERROR(ValidateZone(spec.zone));

  auto state = std::make_unique<State>();
  State& s = *state;
  s.spec = std::move(spec);
  s.version = s.spec.version;
  s.features = FeaturesOf(s.version);
  s.deps = std::move(deps);
  s.state_path = s.deps.data_dir + "/" + kStateFile;
  base::Random& random = *s.deps.random;
  s.id = base::Sha256Hex(random.Bytes(16)).substr(0, 20);
  s.endpoint = s.deps.master_endpoint;
  if (s.endpoint.empty()) {
    s.endpoint = "169.48." + std::to_string(random.Uniform(256)) + "." +
                 std::to_string(random.Uniform(256)) + ":" +
                 std::to_string(30000 + random.Uniform(2768));
  }
  s.api_token = base::Sha256Hex(random.Bytes(32));
  s.created = s.clock().Now();
  s.state_since = s.created;
  if (!s.deps.account) {
    s.own_account = std::make_unique<Account>(kDefaultOwner);
    RETURN_IF_ERROR(s.own_account
                        ->ResetApiKey(s.spec.region, kDefaultOwner,
                                      "ApiKey-" + random.Uuid(), s.created)
                        .status());
  }
  RETURN_IF_ERROR(Attach(s));
  Subscribe(s);
  s.Emit("created: version " + s.version.ToString() + ", " +
         (s.spec.infrastructure == Infrastructure::kVpc ? "VPC" : "classic"));

  std::unique_ptr<Cluster> cluster(new Cluster(std::move(state)));
  if (cluster->spec().workers > 0) {
    RETURN_IF_ERROR(
        cluster->AddWorkers(flavor.name, cluster->spec().workers).status());
  }
  RETURN_IF_ERROR(cluster->state_->Persist());
  return cluster;
}

base::StatusOr<std::unique_ptr<Cluster>> Cluster::Open(ClusterDeps deps) {
  RETURN_IF_ERROR(CheckDeps(deps));
  auto state = std::make_unique<State>();
  State& s = *state;
  s.deps = std::move(deps);
  s.state_path = s.deps.data_dir + "/" + kStateFile;
  ASSIGN_OR_RETURN(json stored, ReadJsonFile(s.state_path));
  json timers;
  try {
    RETURN_IF_ERROR(StateFromJson(stored, s));
    timers = stored.at("timers");
  } catch (const json::exception& error) {
    return base::DataLossError("malformed cluster state " + s.state_path +
                               ": " + error.what());
  }
  RETURN_IF_ERROR(Attach(s));

  for (ProviderRecord& record : s.providers) s.BuildTransformer(record);
  s.InstallTransformerChain();
  s.AddApiServersUpTo(stored.value("api_servers", 1));
  Subscribe(s);
  {
    std::lock_guard lock(s.mu);
    for (const auto& [slot, due] : timers.items()) {
      base::StatusOr<base::Time> time = TimeFromJson(due);
      if (!time.ok()) return time.status();
      s.ScheduleLocked(slot, *time);
    }
  }
  s.Emit("restored from " + s.state_path);
  return std::unique_ptr<Cluster>(new Cluster(std::move(state)));
}

const ClusterSpec& Cluster::spec() const { return state_->spec; }
const std::string& Cluster::id() const { return state_->id; }
const std::string& Cluster::master_endpoint() const { return state_->endpoint; }

base::Status Cluster::MoveMaster(const std::string& endpoint) {
  if (state_->endpoint == endpoint) return base::OkStatus();
  {
    std::lock_guard lock(state_->mu);
    state_->endpoint = endpoint;
  }
  return state_->Persist();
}
base::Time Cluster::created() const { return state_->created; }
const std::string& Cluster::api_token() const { return state_->api_token; }
Account& Cluster::account() const { return *state_->account; }

Version Cluster::version() const {
  std::lock_guard lock(state_->mu);
  return state_->version;
}

Features Cluster::features() const {
  std::lock_guard lock(state_->mu);
  return state_->features;
}

base::StatusOr<std::string> Cluster::Kubeconfig(const std::string& user) const {
  const State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.UnusableLocked()) {
      return base::UnavailableError(
          "failed to get the configuration of cluster " + s.spec.name +
              ": its Kubernetes master at " + s.endpoint + " does not respond",
          "Timeout");
    }
  }
  std::string context = s.spec.name + "/" + s.id;
  std::string user_name = user + "/" + s.spec.name;
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: " +
         context +
         "\n"
         "  cluster:\n"
         "    server: https://" +
         s.endpoint +
         "\n"
         "    insecure-skip-tls-verify: true\n"
         "contexts:\n"
         "- name: " +
         context +
         "\n"
         "  context:\n"
         "    cluster: " +
         context +
         "\n"
         "    user: " +
         user_name +
         "\n"
         "    namespace: default\n"
         "current-context: " +
         context +
         "\n"
         "users:\n"
         "- name: " +
         user_name +
         "\n"
         "  user:\n"
         "    token: " +
         s.api_token + "\n";
}

base::StatusOr<Json> Cluster::Create(const apiserver::Resource& resource,
                                     const std::string& ns, Json object,
                                     int api_server) {
  if (state_->Unusable()) return state_->ConnectError();
  ASSIGN_OR_RETURN(apiserver::Registry * registry,
                   state_->RegistryOf(api_server));
  return registry->Create(resource, ns, std::move(object));
}

base::StatusOr<Json> Cluster::Get(const apiserver::Resource& resource,
                                  const std::string& ns,
                                  const std::string& name, int api_server) {
  if (state_->Unusable()) return state_->ConnectError();
  ASSIGN_OR_RETURN(apiserver::Registry * registry,
                   state_->RegistryOf(api_server));
  return registry->Get(resource, ns, name);
}

base::StatusOr<Json> Cluster::List(const apiserver::Resource& resource,
                                   const std::string& ns, int api_server) {
  if (state_->Unusable()) return state_->ConnectError();
  ASSIGN_OR_RETURN(apiserver::Registry * registry,
                   state_->RegistryOf(api_server));
  return registry->List(resource, ns);
}

base::StatusOr<apiserver::UpdateResult> Cluster::Update(
    const apiserver::Resource& resource, const std::string& ns, Json object,
    int api_server) {
  if (state_->Unusable()) return state_->ConnectError();
  ASSIGN_OR_RETURN(apiserver::Registry * registry,
                   state_->RegistryOf(api_server));
  return registry->Update(resource, ns, std::move(object));
}

base::StatusOr<Json> Cluster::Delete(const apiserver::Resource& resource,
                                     const std::string& ns,
                                     const std::string& name, int api_server) {
  if (state_->Unusable()) return state_->ConnectError();
  ASSIGN_OR_RETURN(apiserver::Registry * registry,
                   state_->RegistryOf(api_server));
  return registry->Delete(resource, ns, name);
}

base::StatusOr<int> Cluster::RewriteAllSecrets(int api_server) {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->RewriteSecrets(api_server);
}

base::StatusOr<int> Cluster::AddApiServer() {
  State& s = *state_;
  int count;
  {
    std::lock_guard lock(s.mu);
    if (s.master_state == MasterState::kDataLost) {
      return base::FailedPreconditionError(
          "cannot add an API server to cluster " + s.spec.name + ": " +
          s.UnusableReasonLocked());
    }
    count = static_cast<int>(s.extra_api_servers.size()) + 2;
  }
  s.AddApiServersUpTo(count);
  s.Emit("started API server " + std::to_string(count - 1));
  RETURN_IF_ERROR(s.Persist());
  return count - 1;
}

int Cluster::api_servers() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->extra_api_servers.size()) + 1;
}

base::Status Cluster::RestartApiServer(int api_server) {
  State& s = *state_;
  RETURN_IF_ERROR(s.RegistryOf(api_server).status());
  {
    std::lock_guard lock(s.mu);
    if (s.master_state == MasterState::kDataLost) {
      return base::FailedPreconditionError(
          "cannot restart an API server of cluster " + s.spec.name + ": " +
          s.UnusableReasonLocked());
    }
  }
  s.RestartApiServerTransformers(api_server);
  s.Emit("restarted API server " + std::to_string(api_server));
  return base::OkStatus();
}

base::Status Cluster::KmsHealth(int api_server) const {
  const State& s = *state_;
  RETURN_IF_ERROR(s.RegistryOf(api_server).status());
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> transformers;
  {
    std::lock_guard lock(s.mu);
    transformers = s.ServerTransformersLocked(api_server);
  }
  for (const auto& transformer : transformers) {
    RETURN_IF_ERROR(transformer->Health());
  }
  return base::OkStatus();
}

base::StatusOr<std::unique_ptr<apiserver::ApiHandler>> Cluster::NewApiHandler(
    int api_server, apiserver::ApiHandlerOptions options) {
  ASSIGN_OR_RETURN(apiserver::Registry * registry,
                   state_->RegistryOf(api_server));
  options.kms_health = [this, api_server] { return KmsHealth(api_server); };
  options.kms_stats = [this, api_server] {
    std::map<std::string, apiserver::KmsV2Stats> stats;
    std::lock_guard lock(state_->mu);
    for (const auto& transformer :
         state_->ServerTransformersLocked(api_server)) {
      stats[transformer->name()] = transformer->stats();
    }
    return stats;
  };
  return std::make_unique<apiserver::ApiHandler>(*registry, state_->clock(),
                                                 std::move(options));
}

const std::string& Cluster::data_dir() const { return state_->deps.data_dir; }

base::Status Cluster::Checkpoint(const std::string& dir) const {
  const State& s = *state_;
  RETURN_IF_ERROR(s.store->Checkpoint(dir));
  Json stored;
  {
    std::lock_guard lock(s.mu);
    stored = s.ToJsonLocked();
  }
  return WriteJsonFile(dir + "/" + kStateFile, stored);
}

apiserver::Registry& Cluster::registry() const { return *state_->registry; }

etcd::Store& Cluster::store() const { return *state_->store; }

base::StatusOr<std::string> Cluster::RawValue(
    const apiserver::Resource& resource, const std::string& ns,
    const std::string& name) {
  return state_->registry->RawValue(resource, ns, name);
}

}  // namespace sim
