#include "sim/testing/cluster_test.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "apiserver/encrypted_object.pb.h"
#include "apiserver/registry.h"
#include "base/crypto.h"
#include "sim/version.h"

namespace sim::testing {

namespace {

constexpr std::string_view kKmsV2Prefix = "k8s:enc:kms:v2:";

std::string ErrorText(const base::Status& status) {
  return "error: " + status.message();
}

void RecordFailure(const std::source_location& where, const std::string& what,
                   const base::Status& status) {
  ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
      << what << " failed: " << status;
}

apiserver::Json SecretObject(const std::string& name, const std::string& ns,
                             const std::map<std::string, std::string>& data) {
  apiserver::Json encoded = apiserver::Json::object();
  for (const auto& [field, value] : data) {
    encoded[field] = base::Base64Encode(value);
  }
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"type", "Opaque"},
          {"data", std::move(encoded)}};
}

base::StatusOr<std::map<std::string, std::string>> DecodeData(
    const apiserver::Json& secret) {
  std::map<std::string, std::string> data;
  auto encoded = secret.find("data");
  if (encoded == secret.end() || !encoded->is_object()) return data;
  for (const auto& [field, value] : encoded->items()) {
    if (!value.is_string()) {
      return base::DataLossError("Secret field \"" + field +
                                 "\" is not a base64 string");
    }
    ASSIGN_OR_RETURN(data[field], base::Base64Decode(value.get<std::string>()));
  }
  return data;
}

bool FileContains(const std::filesystem::path& path,
                  const std::vector<std::string>& needles, bool& readable) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  readable = !in.bad() && in.is_open();
  for (const std::string& needle : needles) {
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

::testing::AssertionResult IsOk(const base::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed with " << status;
}

base::Time DefaultStartTime() {
  return base::Time(std::chrono::sys_days(std::chrono::year_month_day(
      std::chrono::year(2026), std::chrono::month(1), std::chrono::day(2))));
}

ClusterTest::ClusterTest(ClusterTestOptions options)
    : options_(std::move(options)),
      clock_(options_.start),
      random_(options_.seed) {}

ClusterTest::~ClusterTest() {
  // For fixtures whose TearDown does not call ClusterTest::TearDown.
  env_.reset();
}

void ClusterTest::SetUp() {
  spdlog::set_level(spdlog::level::from_str(options_.log_level));
  std::string pattern = ::testing::TempDir() + "cluster_test_XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr)
      << "cannot create a data directory from " << pattern;
  data_dir_ = pattern;
  SIM_ASSERT_OK(OpenEnvironment());
}

void ClusterTest::TearDown() {
  // Clusters hold timers on the clock and subscriptions on the KMS.
  env_.reset();
  if (data_dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(data_dir_, ignored);
}

base::Status ClusterTest::OpenEnvironment() {
  EnvironmentOptions options;
  options.data_dir = data_dir_;
  options.owner = options_.owner;
  options.on_event = [this](const ClusterEvent& event) { RecordEvent(event); };
  ASSIGN_OR_RETURN(env_, Environment::Open(clock_, random_, options));
  return base::OkStatus();
}

base::Status ClusterTest::Restart() {
  env_.reset();
  {
    std::lock_guard lock(events_mu_);
    events_.clear();
  }
  return OpenEnvironment();
}

void ClusterTest::RecordEvent(const ClusterEvent& event) {
  std::lock_guard lock(events_mu_);
  events_.push_back(event);
}

Cluster* ClusterTest::FindCluster(const std::string& name) {
  auto cluster = Lookup(name);
  return cluster.ok() ? *cluster : nullptr;
}

base::StatusOr<Cluster*> ClusterTest::Lookup(const std::string& cluster) {
  if (!env_) {
    return base::FailedPreconditionError(
        "the environment is closed; call ClusterTest::SetUp first");
  }
  return env_->FindCluster(cluster);
}

// --- KMS instances and keys ---

std::string ClusterTest::CreateInstance(const std::string& name,
                                        kms::InstanceType type,
                                        std::source_location where) {
  auto instance = kms().CreateInstance(name, type);
  if (!instance.ok()) {
    RecordFailure(where, "creating KMS instance " + name, instance.status());
    return "";
  }
  return instance->id;
}

std::string ClusterTest::CreateRootKey(const std::string& instance_id,
                                       const std::string& name,
                                       std::optional<base::Duration> expires_in,
                                       std::source_location where) {
  kms::CreateKeyRequest request;
  request.name = name;
  if (expires_in) request.expiration = clock_.Now() + *expires_in;
  return CreateKey(instance_id, request, where);
}

std::string ClusterTest::CreateKey(const std::string& instance_id,
                                   const kms::CreateKeyRequest& request,
                                   std::source_location where) {
  auto key = kms().CreateKey(instance_id, request);
  if (!key.ok()) {
    RecordFailure(where, "creating key " + request.name, key.status());
    return "";
  }
  return key->id;
}

base::StatusOr<std::string> ClusterTest::InstanceOfKey(
    const std::string& key_id) {
  for (const kms::Instance& instance : kms().ListInstances()) {
    if (kms().GetKey(instance.id, key_id).ok()) return instance.id;
  }
  return base::NotFoundError(
      "no KMS instance has a key with id \"" + key_id + "\"",
      std::string(kms::kReasonKeyNotFound));
}

base::Status ClusterTest::DisableKey(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().Disable(instance, key_id);
}

base::Status ClusterTest::EnableKey(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().Enable(instance, key_id);
}

base::Status ClusterTest::RotateKey(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().Rotate(instance, key_id).status();
}

base::Status ClusterTest::DeleteKey(const std::string& key_id, bool force) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().Delete(instance, key_id, force).status();
}

base::Status ClusterTest::RestoreKey(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().Restore(instance, key_id).status();
}

base::Status ClusterTest::SetKeyForDeletion(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().SetKeyForDeletion(instance, key_id);
}

base::Status ClusterTest::UnsetKeyForDeletion(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  return kms().UnsetKeyForDeletion(instance, key_id);
}

base::Status ClusterTest::ExpireKey(const std::string& key_id) {
  ASSIGN_OR_RETURN(std::string instance, InstanceOfKey(key_id));
  ASSIGN_OR_RETURN(kms::Key key, kms().GetKey(instance, key_id));
  if (!key.expiration) {
    return base::FailedPreconditionError(
        "key " + key_id +
        " has no expirationDate; create it with CreateRootKey's expires_in");
  }
  base::Time deadline = *key.expiration + kms::kExpiryLag;
  base::Duration limit = std::max(deadline - clock_.Now(), base::Duration(0));
  return AdvanceUntil(
      [&] { return KeyState(key_id) == "Deactivated"; }, limit,
      "key " + key_id + " Deactivated after its expirationDate");
}

std::string ClusterTest::KeyState(const std::string& key_id) {
  auto instance = InstanceOfKey(key_id);
  if (!instance.ok()) return ErrorText(instance.status());
  auto key = kms().GetKey(*instance, key_id);
  if (!key.ok()) return ErrorText(key.status());
  return std::string(kms::KeyStateName(key->state));
}

// --- KMS faults ---

base::StatusOr<uint64_t> ClusterTest::InjectFault(const kms::FaultSpec& spec) {
  return kms().faults().Add(spec);
}

uint64_t ClusterTest::InjectKmsOutage(const std::string& key_id,
                                      std::source_location where) {
  kms::FaultSpec spec;
  spec.key_id = key_id;
  spec.kind = kms::FaultKind::kOutage;
  spec.outage = kms::OutageMode::kRefuse;
  auto id = InjectFault(spec);
  if (!id.ok()) {
    RecordFailure(where, "injecting a KMS outage", id.status());
    return 0;
  }
  return *id;
}

uint64_t ClusterTest::InjectKmsError(const std::string& operation,
                                     int http_status, const std::string& key_id,
                                     std::source_location where) {
  kms::FaultSpec spec;
  spec.operation = operation;
  spec.key_id = key_id;
  spec.kind = kms::FaultKind::kError;
  spec.http_status = http_status;
  auto id = InjectFault(spec);
  if (!id.ok()) {
    RecordFailure(where, "injecting a KMS error on " + operation, id.status());
    return 0;
  }
  return *id;
}

bool ClusterTest::ClearFault(uint64_t fault_id) {
  return kms().faults().Remove(fault_id);
}

void ClusterTest::ClearFaults() { kms().faults().Clear(); }

int64_t ClusterTest::KmsCalls(const std::string& operation) {
  std::map<std::string, kms::CallCount> counts = kms().CallCounts();
  auto found = counts.find(operation);
  return found == counts.end() ? 0 : found->second.ok + found->second.failed;
}

int64_t ClusterTest::FailedKmsCalls(const std::string& operation) {
  std::map<std::string, kms::CallCount> counts = kms().CallCounts();
  auto found = counts.find(operation);
  return found == counts.end() ? 0 : found->second.failed;
}

// --- Clusters ---

base::Status ClusterTest::CreateCluster(const std::string& name,
                                        const std::string& version,
                                        Infrastructure infrastructure) {
  ClusterSpec spec;
  spec.name = name;
  ASSIGN_OR_RETURN(spec.version, Version::Parse(version));
  spec.infrastructure = infrastructure;
  return CreateCluster(std::move(spec));
}

base::Status ClusterTest::CreateCluster(ClusterSpec spec) {
  if (!env_) return Lookup("").status();
  return env_->CreateCluster(std::move(spec), options_.owner).status();
}

base::Status ClusterTest::EnableKms(const std::string& cluster,
                                    const std::string& instance_id,
                                    const std::string& crk_id,
                                    bool public_endpoint) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  RETURN_IF_ERROR(found->EnableKms(instance_id, crk_id, public_endpoint));
  RETURN_IF_ERROR(AdvanceUntilReady(cluster));
  if (found->crk_id() != crk_id) {
    return base::FailedPreconditionError(
        "cluster " + cluster + " finished KMS enablement without root key " +
        crk_id + "; its events: " + ::testing::PrintToString(ClusterEvents()));
  }
  return base::OkStatus();
}

// --- The clock ---

void ClusterTest::Advance(base::Duration duration) { clock_.Advance(duration); }

base::Status ClusterTest::AdvanceUntil(const std::function<bool()>& done,
                                       base::Duration limit,
                                       const std::string& what) {
  base::Time deadline = clock_.Now() + limit;
  while (!done()) {
    if (clock_.Now() >= deadline) {
      return base::DeadlineExceededError(what + " did not happen within " +
                                         base::FormatDuration(limit) +
                                         " of virtual time");
    }
    // Timers due now fire on AdvanceTo(Now()), so the loop still moves.
    std::optional<base::Time> next = clock_.NextTimerAt();
    base::Time target =
        next && *next < deadline ? std::max(*next, clock_.Now()) : deadline;
    clock_.AdvanceTo(target);
  }
  return base::OkStatus();
}

base::Status ClusterTest::AdvanceUntilReady(const std::string& cluster,
                                            base::Duration limit) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  base::Status status = AdvanceUntil(
      [&] { return found->master_state() == MasterState::kReady; }, limit,
      "the master of cluster " + cluster + " becoming Ready");
  if (status.ok()) return status;
  return base::DeadlineExceededError(
      status.message() + "; Master Status: " + found->MasterStatusText());
}

base::Status ClusterTest::AdvanceUntilUnusable(const std::string& cluster,
                                               base::Duration limit) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  return AdvanceUntil(
      [&] {
        MasterState state = found->master_state();
        return state == MasterState::kKeyUnusable ||
               state == MasterState::kDataLost;
      },
      limit, "cluster " + cluster + " noticing its unusable root key");
}

// --- Cluster state ---

std::string ClusterTest::MasterStatus(const std::string& cluster) {
  auto found = Lookup(cluster);
  return found.ok() ? (*found)->MasterStatusText() : ErrorText(found.status());
}

std::string ClusterTest::Health(const std::string& cluster) {
  auto found = Lookup(cluster);
  if (!found.ok()) return ErrorText(found.status());
  return std::string(MasterHealthName((*found)->health()));
}

std::string ClusterTest::Kms(const std::string& cluster) {
  auto found = Lookup(cluster);
  if (!found.ok()) return ErrorText(found.status());
  return (*found)->kms_enabled() ? "enabled" : "disabled";
}

std::string ClusterTest::RootKey(const std::string& cluster) {
  auto found = Lookup(cluster);
  if (!found.ok()) return ErrorText(found.status());
  return (*found)->crk_id().value_or("");
}

std::string ClusterTest::ClusterConfig(const std::string& cluster) {
  auto found = Lookup(cluster);
  if (!found.ok()) return ErrorText(found.status());
  auto config = (*found)->Kubeconfig(options_.owner);
  return config.ok() ? *config : ErrorText(config.status());
}

std::vector<std::string> ClusterTest::ClusterEvents(
    const std::string& cluster) {
  std::string name = cluster;
  if (Cluster* found = cluster.empty() ? nullptr : FindCluster(cluster)) {
    name = found->spec().name;
  }
  std::lock_guard lock(events_mu_);
  std::vector<std::string> messages;
  for (const ClusterEvent& event : events_) {
    if (name.empty() || event.cluster == name) {
      messages.push_back(event.message);
    }
  }
  return messages;
}

// --- Secrets through the cluster's Kubernetes API ---

base::Status ClusterTest::CreateSecret(
    const std::string& cluster, const std::string& name,
    const std::map<std::string, std::string>& data, const std::string& ns) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  return found
      ->Create(apiserver::SecretsResource(), ns, SecretObject(name, ns, data))
      .status();
}

base::Status ClusterTest::UpdateSecret(
    const std::string& cluster, const std::string& name,
    const std::map<std::string, std::string>& data, const std::string& ns) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  ASSIGN_OR_RETURN(apiserver::Json secret,
                   found->Get(apiserver::SecretsResource(), ns, name));
  secret["data"] = SecretObject(name, ns, data)["data"];
  return found->Update(apiserver::SecretsResource(), ns, std::move(secret))
      .status();
}

base::Status ClusterTest::DeleteSecret(const std::string& cluster,
                                       const std::string& name,
                                       const std::string& ns) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  return found->Delete(apiserver::SecretsResource(), ns, name).status();
}

base::StatusOr<std::map<std::string, std::string>> ClusterTest::GetSecret(
    const std::string& cluster, const std::string& name,
    const std::string& ns) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  ASSIGN_OR_RETURN(apiserver::Json secret,
                   found->Get(apiserver::SecretsResource(), ns, name));
  return DecodeData(secret);
}

std::string ClusterTest::SecretValue(const std::string& cluster,
                                     const std::string& name,
                                     const std::string& field,
                                     const std::string& ns) {
  auto data = GetSecret(cluster, name, ns);
  if (!data.ok()) return ErrorText(data.status());
  auto value = data->find(field);
  if (value == data->end()) {
    return "error: Secret " + ns + "/" + name + " has no field \"" + field +
           "\"";
  }
  return value->second;
}

base::StatusOr<std::vector<std::string>> ClusterTest::ListSecrets(
    const std::string& cluster, const std::string& ns) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  ASSIGN_OR_RETURN(apiserver::Json list,
                   found->List(apiserver::SecretsResource(), ns));
  std::vector<std::string> names;
  for (const apiserver::Json& item : list.value("items", apiserver::Json())) {
    const apiserver::Json& metadata = item.at("metadata");
    names.push_back(metadata.value("namespace", "") + "/" +
                    metadata.value("name", ""));
  }
  return names;
}

base::StatusOr<int> ClusterTest::RewriteSecrets(const std::string& cluster) {
  ASSIGN_OR_RETURN(Cluster * found, Lookup(cluster));
  return found->RewriteAllSecrets();
}

// --- Stored bytes ---

StoredObject ClusterTest::StoredSecret(const std::string& cluster,
                                       const std::string& name,
                                       const std::string& ns) {
  StoredObject stored;
  auto found = Lookup(cluster);
  if (!found.ok()) {
    stored.status = found.status();
    return stored;
  }
  auto raw = (*found)->RawValue(apiserver::SecretsResource(), ns, name);
  if (!raw.ok()) {
    stored.status = raw.status();
    return stored;
  }
  stored.raw = std::move(*raw);
  if (!stored.raw.starts_with(kKmsV2Prefix)) return stored;

  // "k8s:enc:kms:v2:<provider>:" then the EncryptedObject.
  size_t name_end = stored.raw.find(':', kKmsV2Prefix.size());
  if (name_end == std::string::npos) {
    stored.status = base::DataLossError("stored value of " + ns + "/" + name +
                                        " has a KMS v2 prefix without a "
                                        "provider name");
    return stored;
  }
  stored.kms_encrypted = true;
  stored.provider =
      stored.raw.substr(kKmsV2Prefix.size(), name_end - kKmsV2Prefix.size());
  v2::EncryptedObject object;
  if (!object.ParseFromArray(
          stored.raw.data() + name_end + 1,
          static_cast<int>(stored.raw.size() - name_end - 1))) {
    stored.status = base::DataLossError(
        "stored value of " + ns + "/" + name +
        " is not an EncryptedObject after its KMS v2 prefix");
    return stored;
  }
  stored.kms_key_id = object.keyid();
  return stored;
}

std::vector<std::string> ClusterTest::FilesContaining(const std::string& text) {
  std::vector<std::string> needles = {text, base::Base64Encode(text)};
  std::vector<std::string> files;
  std::error_code error;
  for (auto it =
           std::filesystem::recursive_directory_iterator(data_dir_, error);
       !error && it != std::filesystem::recursive_directory_iterator();
       it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    std::string relative = it->path().lexically_relative(data_dir_).string();
    bool readable = true;
    if (FileContains(it->path(), needles, readable)) {
      files.push_back(relative);
    } else if (!readable) {
      files.push_back(relative + " (unreadable)");
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace sim::testing
