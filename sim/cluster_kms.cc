// KMS enablement, rotation, provider switches and the root key checks of a
// Cluster.
#include <spdlog/spdlog.h>

#include "apiserver/kms_client.h"
#include "sim/cluster_state.h"
#include "sim/names.h"

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
// An expired root key makes the cluster unusable "about an hour" after the
// KMS deactivates it, or at the next master refresh if that comes first.
constexpr minutes kExpiryDetection{60};

class FixedKeyIdKmsClient : public apiserver::KmsClient {
 public:
  FixedKeyIdKmsClient(std::shared_ptr<apiserver::KmsClient> inner,
                      std::string fixed_key_id)
      : inner_(std::move(inner)), fixed_key_id_(std::move(fixed_key_id)) {}

  base::StatusOr<apiserver::KmsEncryptResponse> Encrypt(
      const std::string& uid, const std::string& plaintext) override {
    ASSIGN_OR_RETURN(apiserver::KmsEncryptResponse response,
                     inner_->Encrypt(uid, plaintext));
    response.key_id = fixed_key_id_;
    return response;
  }

  // Every version of the root key unwraps, so the fixed key_id stored with
  // a DEK works for DEKs wrapped under later versions too.
  base::StatusOr<std::string> Decrypt(const std::string& uid,
                                      const std::string& ciphertext,
                                      const std::string& key_id) override {
    return inner_->Decrypt(uid, ciphertext, key_id);
  }

  apiserver::KmsStatusResponse Status() override {
    apiserver::KmsStatusResponse response = inner_->Status();
    if (!response.key_id.empty()) response.key_id = fixed_key_id_;
    return response;
  }

 private:
  const std::shared_ptr<apiserver::KmsClient> inner_;
  const std::string fixed_key_id_;
};

}  // namespace

std::shared_ptr<apiserver::KmsClient> NewFixedKeyIdKmsClient(
    std::shared_ptr<apiserver::KmsClient> inner, std::string fixed_key_id) {
  return std::make_shared<FixedKeyIdKmsClient>(std::move(inner),
                                               std::move(fixed_key_id));
}

std::string ProviderName(const std::string& key_id) {
  return "ibm-kms-" + key_id;
}

std::string ProviderTypeText(kms::InstanceType type) {
  return type == kms::InstanceType::kHyperProtect
             ? "Hyper Protect Crypto Services"
             : "Key Protect";
}

base::Duration Cluster::State::RefreshIntervalLocked() {
  if (features.reports_key_health) return kFastRefresh;
  return kSlowRefresh +
         minutes(deps.random->Uniform(kSlowRefreshJitterMinutes));
}

std::shared_ptr<apiserver::KmsV2Transformer> Cluster::State::NewTransformer(
    const ProviderRecord& record) {
  std::shared_ptr<apiserver::KmsClient> client =
      apiserver::NewKeyServiceKmsClient(*deps.kms, record.info.instance_id,
                                        record.info.key_id);
  if (!record.info.follows_key_rotation) {
    client = NewFixedKeyIdKmsClient(std::move(client), record.fixed_key_id);
  }
  return std::make_shared<apiserver::KmsV2Transformer>(
      record.info.name, std::move(client), clock(), *deps.random);
}

void Cluster::State::BuildTransformer(ProviderRecord& record) {
  record.transformer = NewTransformer(record);
}

namespace {

std::shared_ptr<apiserver::Transformer> ChainOf(
    const std::vector<std::shared_ptr<apiserver::KmsV2Transformer>>&
        transformers) {
  std::vector<apiserver::Provider> chain;
  for (const auto& transformer : transformers) {
    chain.push_back({transformer->prefix(), transformer});
  }
  // Identity stays last so that Secrets written before enablement still
  // read.
  chain.push_back({"", apiserver::NewIdentityTransformer()});
  return std::make_shared<apiserver::TransformerChain>(std::move(chain));
}

}  // namespace

void Cluster::State::InstallTransformerChain() {
  std::vector<
      std::pair<apiserver::Registry*, std::shared_ptr<apiserver::Transformer>>>
      chains;
  {
    std::lock_guard lock(mu);
    chains.emplace_back(registry.get(), ChainOf(ServerTransformersLocked(0)));
    for (size_t i = 0; i < extra_api_servers.size(); ++i) {
      chains.emplace_back(extra_api_servers[i].registry.get(),
                          ChainOf(ServerTransformersLocked(i + 1)));
    }
  }
  for (auto& [target, chain] : chains) target->SetTransformer(chain);
}

std::vector<std::shared_ptr<apiserver::KmsV2Transformer>>
Cluster::State::ServerTransformersLocked(int index) const {
  if (index == 0) {
    std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> out;
    for (const ProviderRecord& record : providers) {
      out.push_back(record.transformer);
    }
    return out;
  }
  if (index < 0 || index > static_cast<int>(extra_api_servers.size())) {
    return {};
  }
  return extra_api_servers[index - 1].transformers;
}

std::vector<std::shared_ptr<apiserver::KmsV2Transformer>>
Cluster::State::Transformers() const {
  std::lock_guard lock(mu);
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> out;
  for (int i = 0; i <= static_cast<int>(extra_api_servers.size()); ++i) {
    for (auto& transformer : ServerTransformersLocked(i)) {
      out.push_back(std::move(transformer));
    }
  }
  return out;
}

void Cluster::State::RestartApiServerTransformers(int index) {
  std::vector<ProviderRecord> records;
  {
    std::lock_guard lock(mu);
    records = providers;
  }
  // Built without the lock: each transformer calls the KMS for its status.
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> fresh;
  for (const ProviderRecord& record : records) {
    fresh.push_back(NewTransformer(record));
  }
  {
    std::lock_guard lock(mu);
    // The providers may have changed meanwhile; then keep the old ones.
    if (providers.size() == fresh.size()) {
      if (index == 0) {
        for (size_t i = 0; i < fresh.size(); ++i) {
          providers[i].transformer = fresh[i];
        }
      } else if (index <= static_cast<int>(extra_api_servers.size())) {
        extra_api_servers[index - 1].transformers = fresh;
      }
    }
  }
  InstallTransformerChain();
}

base::StatusOr<apiserver::Registry*> Cluster::State::RegistryOf(
    int index) const {
  std::lock_guard lock(mu);
  if (index == 0) return registry.get();
  if (index < 0 || index > static_cast<int>(extra_api_servers.size())) {
    return base::NotFoundError("cluster " + spec.name + " has " +
                               std::to_string(extra_api_servers.size() + 1) +
                               " API servers, numbered from 0; API server " +
                               std::to_string(index) + " does not exist");
  }
  return extra_api_servers[index - 1].registry.get();
}

void Cluster::State::AddApiServersUpTo(int count) {
  while (true) {
    {
      std::lock_guard lock(mu);
      if (static_cast<int>(extra_api_servers.size()) + 1 >= count) break;
      ApiServerRecord server;
      server.registry = std::make_unique<apiserver::Registry>(
          *store, apiserver::NewIdentityTransformer(), clock(), *deps.random);
      extra_api_servers.push_back(std::move(server));
    }
    int index;
    {
      std::lock_guard lock(mu);
      index = static_cast<int>(extra_api_servers.size());
    }
    RestartApiServerTransformers(index);
  }
}

base::StatusOr<int> Cluster::State::RewriteSecrets(int api_server) {
  ASSIGN_OR_RETURN(apiserver::Registry * registry, RegistryOf(api_server));
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

void Cluster::State::ScheduleEventCheck() {
  base::Duration delay = minutes(
      kMinEventCheckMinutes + deps.random->Uniform(kEventCheckJitterMinutes));
  std::lock_guard lock(mu);
  if (timers.contains("event_check")) return;
  ScheduleLocked("event_check", clock().Now() + delay);
}

void Cluster::State::OnKeyEvent(const kms::KeyEvent& event) {
  bool registered, reports_health;
  // The current provider's transformer of each API server.
  std::vector<std::shared_ptr<apiserver::KmsV2Transformer>> current;
  {
    std::lock_guard lock(mu);
    if (!kms_enabled || event.key_id != crk_id) return;
    registered = key_registered;
    reports_health = features.reports_key_health;
    for (int i = 0; i <= static_cast<int>(extra_api_servers.size()); ++i) {
      auto transformers = ServerTransformersLocked(i);
      if (!transformers.empty()) current.push_back(transformers.front());
    }
  }

  if (event.type == kms::KeyEventType::kExpired) {
    {
      std::lock_guard lock(mu);
      if (!timers.contains("expiry_check")) {
        ScheduleLocked("expiry_check", clock().Now() + kExpiryDetection);
      }
    }
    if (registered && reports_health) ScheduleEventCheck();
    (void)Persist();
    return;
  }
  // Only a cluster that registered its root key receives key events.
  if (!registered) return;
  if (event.type == kms::KeyEventType::kRotated) {
    // The provider learns the new key version from the KMS status; probing
    // now makes the next write use it.
    for (const auto& transformer : current) (void)transformer->ProbeNow();
    Emit("root key " + event.key_id +
         " was rotated in the KMS: new writes use its new version");
    return;
  }
  // Before 1.19 the cluster notices a key change only at its next refresh.
  if (!reports_health) return;
  ScheduleEventCheck();
  (void)Persist();
}

void Cluster::State::CheckRootKey() {
  std::string instance, key;
  {
    std::lock_guard lock(mu);
    if (!kms_enabled || master_state == MasterState::kDataLost) return;
    // An enablement or update restarts the master, which checks the key
    // when it finishes.
    if (master_state == MasterState::kKmsEnabling ||
        master_state == MasterState::kUpdating) {
      return;
    }
    instance = instance_id;
    key = crk_id;
  }

  // Read the key outside the lock: the KMS may call back with events.
  base::StatusOr<kms::KeyStateInfo> info = deps.kms->GetKeyState(instance, key);
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

void Cluster::State::FailEnablement(const std::string& key,
                                    const std::string& cause) {
  {
    std::lock_guard lock(mu);
    // The key never protected data, so it may be enabled again later.
    if (key != crk_id) used_crks.erase(key);
    enabling_instance.clear();
    enabling_crk.clear();
    SetMasterState(MasterState::kReady);
  }
  Emit("KMS enablement with root key " + key + " failed: " + cause);
}

void Cluster::State::FinishEnablement() {
  std::string instance, key;
  bool public_ep, registers;
  {
    std::lock_guard lock(mu);
    instance = enabling_instance;
    key = enabling_crk;
    public_ep = enabling_public;
    registers = features.registers_root_key;
  }

  // The key may have changed state while the enablement ran.
  base::StatusOr<kms::Key> info = deps.kms->GetKey(instance, key);
  base::StatusOr<kms::Instance> kms_instance = deps.kms->GetInstance(instance);
  if (!info.ok() || !kms_instance.ok()) {
    FailEnablement(key, info.ok() ? kms_instance.status().message()
                                  : info.status().message());
    return;
  }
  if (info->state != kms::KeyState::kActive) {
    FailEnablement(key, "the root key is " +
                            std::string(kms::KeyStateName(info->state)) +
                            "; enable it and run the enablement again");
    return;
  }

  ProviderRecord record;
  record.info = {
      ProviderName(key), kms_instance->type, instance, key, registers, true};
  record.fixed_key_id = key + ":" + info->versions.back().id;
  BuildTransformer(record);

  std::optional<kms::InstanceType> previous_type;
  {
    std::lock_guard lock(mu);
    if (kms_enabled && !providers.empty()) {
      previous_type = providers.front().info.type;
    }
    // Enabling the current key again replaces its provider, under the same
    // name, so what it wrote still reads.
    std::erase_if(providers, [&](const ProviderRecord& existing) {
      return existing.info.key_id == key;
    });
    for (ProviderRecord& existing : providers) existing.info.current = false;
    providers.insert(providers.begin(), std::move(record));
  }
  // The enablement restarts every API server of the master; the first one
  // keeps the transformers of the providers it had.
  int servers;
  {
    std::lock_guard lock(mu);
    servers = static_cast<int>(extra_api_servers.size()) + 1;
  }
  for (int i = 1; i < servers; ++i) RestartApiServerTransformers(i);
  InstallTransformerChain();
  if (previous_type && *previous_type != kms_instance->type) {
    Emit("switched the KMS provider from " + ProviderTypeText(*previous_type) +
         " to " + ProviderTypeText(kms_instance->type) +
         "; root keys of the previous provider stay in the configuration "
         "for reads");
  }

  bool registered = false;
  if (registers) {
    kms::Registration registration;
    registration.instance_id = instance;
    registration.key_id = key;
    registration.resource_crn =
        "crn:v1:bluemix:public:containers-kubernetes:" + spec.region +
        ":a/account:" + id + "::";
    registration.description = "cluster " + spec.name;
    base::Status done = deps.kms->Register(registration);
    registered = done.ok();
    if (!done.ok()) {
      spdlog::warn("cluster {}: registering root key failed: {}", spec.name,
                   done.ToString());
    }
    if (!account->HasKmsReaderAuthorization(instance)) {
      ServiceAuthorization authorization;
      authorization.target_resource = instance;
      authorization.created = clock().Now();
      base::StatusOr<bool> added =
          account->AddServiceAuthorization(authorization);
      if (added.ok() && *added) {
        Emit(
            "created the Reader service-to-service authorization from "
            "containers-kubernetes to KMS instance " +
            kms_instance->name);
      } else if (!added.ok()) {
        spdlog::warn("cluster {}: creating the authorization failed: {}",
                     spec.name, added.status().ToString());
      }
    }
  }

  bool rewrites;
  {
    std::lock_guard lock(mu);
    kms_enabled = true;
    instance_id = instance;
    crk_id = key;
    public_endpoint = public_ep;
    key_registered = registered;
    enabling_instance.clear();
    enabling_crk.clear();
    SetMasterState(MasterState::kReady);
    rewrites = features.rewrites_existing_secrets;
    ScheduleLocked("refresh", clock().Now() + RefreshIntervalLocked());
  }
  Emit(
      "KMS enablement finished: Key Management Service: enabled with root "
      "key " +
      key);

  if (rewrites) {
    base::StatusOr<int> rewritten = RewriteSecrets();
    if (rewritten.ok()) {
      Emit("re-encrypted " + std::to_string(*rewritten) +
           " existing Secrets under the root key");
    } else {
      spdlog::warn("cluster {}: rewriting Secrets after enablement failed: {}",
                   spec.name, rewritten.status().ToString());
    }
  }
}

namespace {

std::string RolesText(const Roles& roles) {
  std::string platform =
      roles.platform ? "the " + std::string(PlatformRoleName(*roles.platform)) +
                           " platform role"
                     : "no platform role";
  std::string service =
      roles.service ? "the " + std::string(ServiceRoleName(*roles.service)) +
                          " service role"
                    : "no service role";
  return platform + " and " + service;
}

}  // namespace

base::Status Cluster::EnableKms(const std::string& instance_id,
                                const std::string& crk_id,
                                bool public_endpoint) {
  return EnableKmsAs(account().owner(), instance_id, crk_id, public_endpoint);
}

base::Status Cluster::EnableKmsAs(const std::string& user,
                                  const std::string& instance_id,
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
    if (s.master_state == MasterState::kUpdating) {
      return base::FailedPreconditionError(
          "cluster " + s.spec.name + " is busy with a master update to " +
          s.update_target->ToString() +
          "; wait until its Master Status is Ready and try again");
    }
    if (s.master_state == MasterState::kDataLost) {
      return base::FailedPreconditionError(
          "cluster " + s.spec.name +
          " lost its data when its root key was deleted and cannot be "
          "recovered; create a new cluster");
    }
  }
  RETURN_IF_ERROR(s.account->RequireClusterRole(
      user, s.id, s.spec.name, PlatformRole::kAdministrator,
      "enabling a key management service provider"));

  base::StatusOr<kms::Instance> instance = s.deps.kms->GetInstance(instance_id);
  if (!instance.ok()) {
    // Unknown values are quoted and cut, as they may be anything a user
    // typed.
    return base::NotFoundError("KMS instance " + QuoteForMessage(instance_id) +
                               " not found; list instances with `ks kms "
                               "instance ls`");
  }
  base::StatusOr<kms::Key> key = s.deps.kms->GetKey(instance_id, crk_id);
  if (!key.ok()) {
    for (const kms::Instance& other : s.deps.kms->ListInstances()) {
      if (other.id == instance_id) continue;
      if (s.deps.kms->GetKey(other.id, crk_id).ok()) {
        return base::NotFoundError(
            "root key " + crk_id + " belongs to KMS instance " + other.name +
            " (" + other.id + "), not to " + instance->name + " (" +
            instance_id + "); pass --instance-id " + other.id);
      }
    }
    return base::NotFoundError("root key " + QuoteForMessage(crk_id) +
                               " not found in KMS instance " + instance_id +
                               "; list root keys with `ks kms crk ls "
                               "--instance-id " +
                               instance_id + "`");
  }
  if (key->extractable) {
    return base::FailedPreconditionError(
        "key " + crk_id +
        " is a standard key; KMS enablement needs a root key (not "
        "extractable); create a root key in KMS instance " +
        instance->name);
  }
  if (key->state != kms::KeyState::kActive) {
    return base::FailedPreconditionError(
        "root key " + crk_id + " is " +
        std::string(kms::KeyStateName(key->state)) +
        "; enable it in the KMS instance first");
  }

  {
    std::lock_guard lock(s.mu);
    if (s.used_crks.contains(crk_id) && crk_id != s.crk_id) {
      return base::FailedPreconditionError(
          "root key " + crk_id + " was already used by cluster " + s.spec.name +
          "; a previous root key cannot be reused, create a new root key");
    }
  }

  std::optional<ApiKey> api_key = s.account->GetApiKey(s.spec.region);
  if (!api_key) {
    return base::FailedPreconditionError(
        "no API key is set for region " + s.spec.region + ", so cluster " +
        s.spec.name + " cannot reach the KMS; run `ks api-key reset --region " +
        s.spec.region +
        "` as a user with the Editor platform and Writer service roles on "
        "KMS instance " +
        instance->name);
  }
  Roles kms_roles = s.account->KmsRoles(api_key->owner, instance_id);
  if (!kms_roles.platform || *kms_roles.platform < PlatformRole::kEditor ||
      !kms_roles.service || *kms_roles.service < ServiceRole::kWriter) {
    return base::PermissionDeniedError(
        "the API key for region " + s.spec.region + " belongs to " +
        api_key->owner + ", who has " + RolesText(kms_roles) +
        " on KMS instance " + instance->name +
        ", but KMS enablement needs the Editor platform and Writer service "
        "roles; assign them to " +
        api_key->owner + ", or run `ks api-key reset --region " +
        s.spec.region + "` as a user who has them");
  }

  base::Duration duration = std::chrono::minutes(
      kMinEnablementMinutes + s.deps.random->Uniform(kEnablementJitterMinutes));
  {
    std::lock_guard lock(s.mu);
    // Another caller may have started an action since the first check.
    if (s.master_state == MasterState::kKmsEnabling ||
        s.master_state == MasterState::kUpdating) {
      return base::FailedPreconditionError(
          "cluster " + s.spec.name +
          " is busy with another key management service action; wait until "
          "its Master Status is Ready and try again");
    }
    s.used_crks.insert(crk_id);
    s.enabling_instance = instance_id;
    s.enabling_crk = crk_id;
    s.enabling_public = public_endpoint;
    s.SetMasterState(MasterState::kKmsEnabling);
    s.ScheduleLocked("enablement", s.clock().Now() + duration);
  }
  s.Emit("KMS enablement started by " + user + " with root key " + crk_id +
         " of instance " + instance->name + " over the " +
         (public_endpoint ? "public" : "private") + " endpoint");
  return s.Persist();
}

base::Status Cluster::DisableKms() {
  std::lock_guard lock(state_->mu);
  if (!state_->kms_enabled) {
    return base::FailedPreconditionError(
        "KMS encryption cannot be disabled on cluster " + state_->spec.name +
        ": it is not enabled, and once enabled it stays enabled");
  }
  return base::FailedPreconditionError(
      "KMS encryption cannot be disabled once enabled on cluster " +
      state_->spec.name +
      "; to use another provider, enable a root key of that provider with "
      "`ks kms enable`");
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

std::optional<std::string> Cluster::kms_instance_id() const {
  std::lock_guard lock(state_->mu);
  if (!state_->kms_enabled) return std::nullopt;
  return state_->instance_id;
}

std::optional<kms::InstanceType> Cluster::kms_provider_type() const {
  std::lock_guard lock(state_->mu);
  if (!state_->kms_enabled || state_->providers.empty()) return std::nullopt;
  return state_->providers.front().info.type;
}

bool Cluster::kms_public_endpoint() const {
  std::lock_guard lock(state_->mu);
  return state_->public_endpoint;
}

bool Cluster::kms_key_registered() const {
  std::lock_guard lock(state_->mu);
  return state_->key_registered;
}

std::vector<KmsProviderInfo> Cluster::KmsProviders() const {
  std::lock_guard lock(state_->mu);
  std::vector<KmsProviderInfo> out;
  for (const ProviderRecord& record : state_->providers) {
    out.push_back(record.info);
  }
  return out;
}

}  // namespace sim
