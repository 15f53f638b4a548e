#include "sim/cluster.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "apiserver/kms_client.h"
#include "apiserver/transformer.h"
#include "base/crypto.h"
#include "etcd-store/store.h"

namespace sim {
namespace {

using std::chrono::minutes;

// How long a KMS enablement runs: "The enablement process can take some
// time"; the model draws 5 to 10 virtual minutes.
constexpr int kMinEnablementMinutes = 5;
constexpr int kEnablementJitterMinutes = 6;

// From 1.19 a root key change is detected "within minutes": a master refresh
// every 5 minutes, and a check 1 to 3 minutes after a key event.
constexpr minutes kFastRefresh{5};
constexpr int kMinEventCheckMinutes = 1;
constexpr int kEventCheckJitterMinutes = 3;
// Before 1.19 "you might need to wait for an hour or longer": a refresh every
// 60 to 90 minutes.
constexpr minutes kSlowRefresh{60};
constexpr int kSlowRefreshJitterMinutes = 31;

std::string AgoText(base::Duration elapsed) {
  auto mins = std::chrono::duration_cast<minutes>(elapsed).count();
  if (mins < 60) return std::to_string(std::max<int64_t>(mins, 1)) + " min ago";
  auto hours = mins / 60;
  if (hours < 48) return std::to_string(hours) + " hours ago";
  return std::to_string(hours / 24) + " days ago";
}

}  // namespace

std::string_view MasterHealthName(MasterHealth health) {
  switch (health) {
    case MasterHealth::kNormal:
      return "normal";
    case MasterHealth::kWarning:
      return "warning";
    case MasterHealth::kCritical:
      return "critical";
  }
  return "unknown";
}

struct Cluster::State {
  // Constant after construction.
  ClusterSpec spec;
  Features features;
  ClusterDeps deps;
  std::string id;
  std::string endpoint;
  std::unique_ptr<etcd::Store> store;
  std::unique_ptr<apiserver::Registry> registry;
  kms::KeyService::SubscriptionId subscription = 0;

  mutable std::mutex mu;
  MasterState master_state = MasterState::kReady;  // guarded by mu
  base::Time state_since;                          // guarded by mu
  std::string unusable_cause;                      // guarded by mu
  bool kms_enabled = false;                        // guarded by mu
  std::string instance_id;                         // guarded by mu
  std::string crk_id;                              // guarded by mu
  // The pending enablement: instance and key.
  std::string enabling_instance;    // guarded by mu
  std::string enabling_crk;         // guarded by mu
  std::set<std::string> used_crks;  // guarded by mu
  // KMS providers of the encryption configuration, newest first.
  std::vector<apiserver::Provider> kms_providers;  // guarded by mu
  base::Clock::TimerId refresh_timer = 0;          // guarded by mu
  bool event_check_pending = false;                // guarded by mu

  base::Clock& clock() const { return *deps.clock; }

  void Emit(const std::string& message) {
    spdlog::info("cluster {}: {}", spec.name, message);
    if (deps.on_event) deps.on_event({clock().Now(), spec.name, message});
  }

  // REQUIRES: mu held.
  void SetMasterState(MasterState state) {
    master_state = state;
    state_since = clock().Now();
  }

  bool Unusable() const {
    std::lock_guard lock(mu);
    return master_state == MasterState::kKeyUnusable ||
           master_state == MasterState::kDataLost;
  }

  base::Status ConnectError() const {
    return base::UnavailableError("Unable to connect to the server: dial tcp " +
                                      endpoint + ": i/o timeout",
                                  "Timeout");
  }

  base::Duration RefreshInterval() {
    if (features.reports_key_health) return kFastRefresh;
    return kSlowRefresh +
           minutes(deps.random->Uniform(kSlowRefreshJitterMinutes));
  }

  void ScheduleRefresh(base::Duration delay);
  void CheckRootKey();
  void OnKeyEvent(const kms::KeyEvent& event);
  void FinishEnablement();
  void LoseData();
  base::StatusOr<int> RewriteSecrets();
};

base::StatusOr<int> Cluster::State::RewriteSecrets() {
  ASSIGN_OR_RETURN(Json list, registry->List(apiserver::SecretsResource(), ""));
  int written = 0;
  for (Json& item : list["items"]) {
    std::string ns = item["metadata"].value("namespace", "");
    ASSIGN_OR_RETURN(
        apiserver::UpdateResult result,
        registry->Update(apiserver::SecretsResource(), ns, std::move(item)));
    if (result.written) ++written;
  }
  return written;
}

void Cluster::State::ScheduleRefresh(base::Duration delay) {
  std::lock_guard lock(mu);
  if (refresh_timer != 0) clock().Cancel(refresh_timer);
  refresh_timer = clock().ScheduleAfter(delay, [this] {
    {
      std::lock_guard lock(mu);
      refresh_timer = 0;
    }
    CheckRootKey();
    ScheduleRefresh(RefreshInterval());
  });
}

void Cluster::State::OnKeyEvent(const kms::KeyEvent& event) {
  {
    std::lock_guard lock(mu);
    if (!kms_enabled || event.key_id != crk_id) return;
    // Only 1.19+ reacts to key events within minutes; older versions see
    // the change at their next hourly refresh.
    if (!features.reports_key_health || event_check_pending) return;
    event_check_pending = true;
  }
  base::Duration delay = minutes(
      kMinEventCheckMinutes + deps.random->Uniform(kEventCheckJitterMinutes));
  clock().ScheduleAfter(delay, [this] {
    {
      std::lock_guard lock(mu);
      event_check_pending = false;
    }
    CheckRootKey();
  });
}

void Cluster::State::CheckRootKey() {
  std::string instance, key;
  {
    std::lock_guard lock(mu);
    if (!kms_enabled || master_state == MasterState::kDataLost) return;
    instance = instance_id;
    key = crk_id;
  }

  // Read the key outside the lock: the KMS may call back with events.
  base::StatusOr<kms::Key> info = deps.kms->GetKey(instance, key);
  std::optional<kms::KeyState> state;
  if (info.ok()) {
    state = info->state;
  } else if (info.status().code() == base::Code::kNotFound) {
    state = kms::KeyState::kDestroyed;  // purged, or destroyed
  } else {
    spdlog::warn("cluster {}: root key check failed: {}", spec.name,
                 info.status().ToString());
    return;
  }

  if (*state == kms::KeyState::kDestroyed) {
    LoseData();
    return;
  }
  std::unique_lock lock(mu);
  if (*state == kms::KeyState::kActive) {
    if (master_state == MasterState::kKeyUnusable) {
      SetMasterState(MasterState::kReady);
      unusable_cause.clear();
      lock.unlock();
      Emit("root key " + key + " is Active again: master recovered");
    }
    return;
  }
  if (master_state == MasterState::kKeyUnusable) return;
  unusable_cause = *state == kms::KeyState::kSuspended ? "disabled" : "expired";
  SetMasterState(MasterState::kKeyUnusable);
  std::string cause = unusable_cause;
  lock.unlock();
  Emit("root key " + key + " is " + cause + ": master unusable");
}

void Cluster::State::LoseData() {
  std::string key;
  {
    std::lock_guard lock(mu);
    if (master_state == MasterState::kDataLost) return;
    SetMasterState(MasterState::kDataLost);
    unusable_cause = "deleted";
    key = crk_id;
  }
  // The master's etcd data was encrypted under the deleted key; the managed
  // service cannot recover it, so the model erases it.
  etcd::DeleteRangeRequest wipe;
  wipe.key = "/registry/";
  wipe.range_end = etcd::PrefixEnd(wipe.key);
  base::StatusOr<etcd::DeleteRangeResponse> wiped = store->DeleteRange(wipe);
  if (!wiped.ok()) {
    spdlog::error("cluster {}: erasing data after key deletion failed: {}",
                  spec.name, wiped.status().ToString());
  }
  Emit("root key " + key + " was deleted: cluster data lost for good");
}

void Cluster::State::FinishEnablement() {
  std::string instance, key;
  {
    std::lock_guard lock(mu);
    instance = enabling_instance;
    key = enabling_crk;
  }

  auto client = std::shared_ptr<apiserver::KmsClient>(
      apiserver::NewKeyServiceKmsClient(*deps.kms, instance, key));
  auto kms_transformer = std::make_shared<apiserver::KmsV2Transformer>(
      "ibm-kms-" + key, client, clock(), *deps.random);
  std::vector<apiserver::Provider> chain;
  {
    std::lock_guard lock(mu);
    kms_providers.insert(kms_providers.begin(),
                         {kms_transformer->prefix(), kms_transformer});
    chain = kms_providers;
  }
  // Identity stays last so that Secrets written before enablement still
  // read.
  chain.push_back({"", apiserver::NewIdentityTransformer()});
  registry->SetTransformer(
      std::make_shared<apiserver::TransformerChain>(std::move(chain)));

  if (features.registers_root_key) {
    kms::Registration registration;
    registration.instance_id = instance;
    registration.key_id = key;
    registration.resource_crn =
        "crn:v1:bluemix:public:containers-kubernetes:" + spec.region +
        ":a/account:" + id + "::";
    registration.description = "cluster " + spec.name;
    base::Status registered = deps.kms->Register(registration);
    if (!registered.ok()) {
      spdlog::warn("cluster {}: registering root key failed: {}", spec.name,
                   registered.ToString());
    }
  }

  {
    std::lock_guard lock(mu);
    kms_enabled = true;
    instance_id = instance;
    crk_id = key;
    enabling_instance.clear();
    enabling_crk.clear();
    SetMasterState(MasterState::kReady);
  }
  Emit(
      "KMS enablement finished: Key Management Service: enabled with root "
      "key " +
      key);

  if (features.rewrites_existing_secrets) {
    base::StatusOr<int> rewritten = RewriteSecrets();
    if (rewritten.ok()) {
      Emit("re-encrypted " + std::to_string(*rewritten) +
           " existing Secrets under the root key");
    } else {
      spdlog::warn("cluster {}: rewriting Secrets after enablement failed: {}",
                   spec.name, rewritten.status().ToString());
    }
  }
  ScheduleRefresh(RefreshInterval());
}

Cluster::Cluster(std::unique_ptr<State> state) : state_(std::move(state)) {}

Cluster::~Cluster() {
  state_->deps.kms->Unsubscribe(state_->subscription);
  std::lock_guard lock(state_->mu);
  if (state_->refresh_timer != 0) state_->clock().Cancel(state_->refresh_timer);
}

base::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(ClusterSpec spec,
                                                         ClusterDeps deps) {
  if (!deps.clock || !deps.random || !deps.kms) {
    return base::InvalidArgumentError("cluster needs a clock, random and KMS");
  }
  auto state = std::make_unique<State>();
  state->spec = std::move(spec);
  state->features = FeaturesOf(state->spec.version);
  state->deps = std::move(deps);
  base::Random& random = *state->deps.random;
  state->id = base::Sha256Hex(random.Bytes(16)).substr(0, 20);
  state->endpoint = "169.48." + std::to_string(random.Uniform(256)) + "." +
                    std::to_string(random.Uniform(256)) + ":" +
                    std::to_string(30000 + random.Uniform(2768));
  state->state_since = state->clock().Now();

  std::error_code ec;
  std::filesystem::create_directories(state->deps.data_dir, ec);
  if (ec) {
    return base::FailedPreconditionError("cannot create cluster data dir " +
                                         state->deps.data_dir + ": " +
                                         ec.message());
  }
  ASSIGN_OR_RETURN(state->store, etcd::OpenRocksDbStore(state->deps.data_dir,
                                                        state->clock()));
  state->registry = std::make_unique<apiserver::Registry>(
      *state->store, apiserver::NewIdentityTransformer(), state->clock(),
      random);

  State* raw = state.get();
  state->subscription = state->deps.kms->Subscribe(
      [raw](const kms::KeyEvent& event) { raw->OnKeyEvent(event); });
  raw->Emit(
      "created: version " + raw->spec.version.ToString() + ", " +
      (raw->spec.infrastructure == Infrastructure::kVpc ? "VPC" : "classic"));
  return std::unique_ptr<Cluster>(new Cluster(std::move(state)));
}

const ClusterSpec& Cluster::spec() const { return state_->spec; }
const std::string& Cluster::id() const { return state_->id; }
const std::string& Cluster::master_endpoint() const { return state_->endpoint; }

base::Status Cluster::EnableKms(const std::string& instance_id,
                                const std::string& crk_id,
                                bool public_endpoint) {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.master_state == MasterState::kKmsEnabling) {
      return base::FailedPreconditionError(
          "cluster " + s.spec.name +
          " is busy with another key management service action; wait until "
          "its Master Status is Ready and try again");
    }
    if (s.master_state == MasterState::kDataLost) {
      return base::FailedPreconditionError(
          "cluster " + s.spec.name +
          " lost its data when its root key was deleted and cannot be "
          "recovered; create a new cluster");
    }
    if (s.used_crks.contains(crk_id)) {
      return base::FailedPreconditionError(
          "root key " + crk_id + " was already used by cluster " + s.spec.name +
          "; a previous root key cannot be reused, create a new "
          "root key");
    }
  }

  base::StatusOr<kms::Instance> instance = s.deps.kms->GetInstance(instance_id);
  if (!instance.ok()) {
    return base::NotFoundError("KMS instance " + instance_id +
                               " not found; list instances with `ks kms "
                               "instance ls`");
  }
  base::StatusOr<kms::Key> key = s.deps.kms->GetKey(instance_id, crk_id);
  if (!key.ok()) {
    return base::NotFoundError("root key " + crk_id +
                               " not found in KMS instance " + instance_id +
                               "; list root keys with `ks kms crk ls "
                               "--instance-id " +
                               instance_id + "`");
  }
  if (key->extractable) {
    return base::FailedPreconditionError(
        "key " + crk_id +
        " is a standard key; KMS enablement needs a root "
        "key (not extractable)");
  }
  if (key->state != kms::KeyState::kActive) {
    return base::FailedPreconditionError(
        "root key " + crk_id + " is " +
        std::string(kms::KeyStateName(key->state)) +
        "; enable it in the KMS instance first");
  }

  base::Duration duration = minutes(
      kMinEnablementMinutes + s.deps.random->Uniform(kEnablementJitterMinutes));
  {
    std::lock_guard lock(s.mu);
    s.used_crks.insert(crk_id);
    s.enabling_instance = instance_id;
    s.enabling_crk = crk_id;
    s.SetMasterState(MasterState::kKmsEnabling);
  }
  s.Emit("KMS enablement started with root key " + crk_id + " of instance " +
         instance->name + " over the " +
         (public_endpoint ? "public" : "private") + " endpoint");
  s.clock().ScheduleAfter(duration, [&s] { s.FinishEnablement(); });
  return base::OkStatus();
}

MasterState Cluster::master_state() const {
  std::lock_guard lock(state_->mu);
  return state_->master_state;
}

MasterHealth Cluster::health() const {
  std::lock_guard lock(state_->mu);
  if (!state_->features.reports_key_health) return MasterHealth::kNormal;
  switch (state_->master_state) {
    case MasterState::kKeyUnusable:
      return MasterHealth::kWarning;
    case MasterState::kDataLost:
      return MasterHealth::kCritical;
    default:
      return MasterHealth::kNormal;
  }
}

std::string Cluster::MasterStatusText() const {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  std::string ready =
      "Ready (" + AgoText(s.clock().Now() - s.state_since) + ")";
  switch (s.master_state) {
    case MasterState::kReady:
      return ready;
    case MasterState::kKmsEnabling:
      return "Key management service feature enablement in progress.";
    case MasterState::kKeyUnusable:
    case MasterState::kDataLost:
      // Before 1.19 the cluster reports nothing about its root key.
      if (!s.features.reports_key_health) return ready;
      if (s.master_state == MasterState::kDataLost) {
        return "The root key " + s.crk_id +
               " was deleted. The master lost its data and cannot be "
               "recovered.";
      }
      return "The root key " + s.crk_id + " is " + s.unusable_cause +
             ". The master cannot decrypt its data; enable the root key to "
             "restore it.";
  }
  return ready;
}

std::string Cluster::HealthMessage() const {
  if (health() == MasterHealth::kNormal) return "";
  return MasterStatusText();
}

bool Cluster::kms_enabled() const {
  std::lock_guard lock(state_->mu);
  return state_->kms_enabled;
}

std::optional<std::string> Cluster::crk_id() const {
  std::lock_guard lock(state_->mu);
  if (!state_->kms_enabled) return std::nullopt;
  return state_->crk_id;
}

base::StatusOr<Json> Cluster::Create(const apiserver::Resource& resource,
                                     const std::string& ns, Json object) {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->registry->Create(resource, ns, std::move(object));
}

base::StatusOr<Json> Cluster::Get(const apiserver::Resource& resource,
                                  const std::string& ns,
                                  const std::string& name) {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->registry->Get(resource, ns, name);
}

base::StatusOr<Json> Cluster::List(const apiserver::Resource& resource,
                                   const std::string& ns) {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->registry->List(resource, ns);
}

base::StatusOr<apiserver::UpdateResult> Cluster::Update(
    const apiserver::Resource& resource, const std::string& ns, Json object) {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->registry->Update(resource, ns, std::move(object));
}

base::StatusOr<Json> Cluster::Delete(const apiserver::Resource& resource,
                                     const std::string& ns,
                                     const std::string& name) {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->registry->Delete(resource, ns, name);
}

base::StatusOr<int> Cluster::RewriteAllSecrets() {
  if (state_->Unusable()) return state_->ConnectError();
  return state_->RewriteSecrets();
}

base::StatusOr<std::string> Cluster::RawValue(
    const apiserver::Resource& resource, const std::string& ns,
    const std::string& name) {
  return state_->registry->RawValue(resource, ns, name);
}

}  // namespace sim
