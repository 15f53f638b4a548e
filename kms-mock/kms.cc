#include "kms-mock/kms.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>

#include "base/crypto.h"
#include "kms-mock/kms_internal.h"
#include "kms-mock/storage.h"

namespace kms {

using internal::KeyRecord;

namespace {

using base::Status;
using base::StatusOr;
using base::Time;

// Ciphertext layout, all of it authenticated:
//   kCiphertextFormat (1 byte) | version id (36 ASCII bytes) | nonce (12) |
//   AES-256-GCM ciphertext || tag.
// The version id selects the material; the GCM associated data binds the key
// id, the version id and the caller's AAD, so a ciphertext moved to another
// key or given other AAD does not open.
constexpr char kCiphertextFormat = 0x01;
constexpr size_t kVersionIdSize = 36;
constexpr size_t kCiphertextHeaderSize = 1 + kVersionIdSize;
constexpr size_t kDekSize = 32;

Status Error(base::Code code, std::string_view reason, std::string message) {
  return Status(code, std::move(message), std::string(reason));
}

Status KeyNotFound(const std::string& key_id) {
  return Error(base::Code::kNotFound, kReasonKeyNotFound,
               "key " + key_id + " not found");
}

Status KeyDeleted(const std::string& key_id) {
  return Error(base::Code::kNotFound, kReasonKeyDeleted,
               "key " + key_id + " has already been deleted");
}

Status InvalidState(const std::string& key_id, KeyState state,
                    std::string_view action) {
  return Error(base::Code::kFailedPrecondition, kReasonInvalidState,
               "key " + key_id + " is " + std::string(KeyStateName(state)) +
                   ": " + std::string(action) +
                   " is not allowed in that state");
}

Status Unprocessable(std::string message) {
  return Error(base::Code::kInvalidArgument, kReasonUnprocessableCiphertext,
               "the ciphertext is invalid or corrupted: " + std::move(message));
}

Status InvalidField(std::string message) {
  return Error(base::Code::kInvalidArgument, kReasonInvalidField,
               std::move(message));
}

bool IsValidMaterialSize(size_t size) {
  return size == 16 || size == 24 || size == 32;
}

// GCM associated data: every field prefixed with its 4-byte length, so that
// no two different (key, version, aad list) tuples encode the same bytes.
std::string AssociatedData(std::string_view key_id, std::string_view version_id,
                           const std::vector<std::string>& aad) {
  std::string out;
  auto append = [&out](std::string_view field) {
    uint32_t n = static_cast<uint32_t>(field.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((n >> shift) & 0xff));
    }
    out.append(field);
  };
  append("kms-mock wrap v1");
  append(key_id);
  append(version_id);
  for (const std::string& item : aad) append(item);
  return out;
}

// The AES-256 key for one version, derived so that imported material of 16
// or 24 bytes also yields a 32-byte key.
StatusOr<std::string> WrappingKey(const std::string& material,
                                  const std::string& version_id) {
  return base::HkdfSha256(material, "", "kms-mock wrapping key " + version_id,
                          base::kAes256KeySize);
}

}  // namespace

bool IsValidKeyId(std::string_view id) {
  constexpr size_t kMaxKeyIdSize = 90;
  if (id.empty() || id.size() > kMaxKeyIdSize) return false;
  return std::ranges::all_of(id, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool IsValidKeyName(std::string_view name, size_t min_characters) {
  size_t characters = 0;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
    // Count UTF-8 lead bytes, not continuation bytes.
    if ((c & 0xC0) != 0x80) ++characters;
  }
  return characters >= min_characters && characters <= 90;
}

std::string_view InstanceTypeName(InstanceType type) {
  switch (type) {
    case InstanceType::kKeyProtect:
      return "key-protect";
    case InstanceType::kHyperProtect:
      return "hpcs";
  }
  return "unknown";
}

std::optional<InstanceType> ParseInstanceType(std::string_view name) {
  if (name == "key-protect") return InstanceType::kKeyProtect;
  if (name == "hpcs") return InstanceType::kHyperProtect;
  return std::nullopt;
}

std::string_view KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kPreActivation:
      return "Pre-activation";
    case KeyState::kActive:
      return "Active";
    case KeyState::kSuspended:
      return "Suspended";
    case KeyState::kDeactivated:
      return "Deactivated";
    case KeyState::kDestroyed:
      return "Destroyed";
  }
  return "Unknown";
}

std::optional<KeyState> ParseKeyState(std::string_view name) {
  for (KeyState state :
       {KeyState::kPreActivation, KeyState::kActive, KeyState::kSuspended,
        KeyState::kDeactivated, KeyState::kDestroyed}) {
    if (KeyStateName(state) == name) return state;
  }
  return std::nullopt;
}

std::string_view KeyEventTypeName(KeyEventType type) {
  switch (type) {
    case KeyEventType::kCreated:
      return "created";
    case KeyEventType::kDisabled:
      return "disabled";
    case KeyEventType::kEnabled:
      return "enabled";
    case KeyEventType::kDeleted:
      return "deleted";
    case KeyEventType::kRestored:
      return "restored";
    case KeyEventType::kRotated:
      return "rotated";
    case KeyEventType::kExpired:
      return "expired";
    case KeyEventType::kSetForDeletion:
      return "set_for_deletion";
    case KeyEventType::kUnsetForDeletion:
      return "unset_for_deletion";
    case KeyEventType::kPurged:
      return "purged";
  }
  return "unknown";
}

internal::ServiceState::ServiceState(base::Clock& c, base::Random& r)
    : clock(c), random(r), faults(c) {}

internal::ServiceState::~ServiceState() = default;

namespace {

// One public call: holds the service lock, collects the events the call
// causes and delivers them once the lock is released.
class Operation {
 public:
  Operation(internal::ServiceState& state, std::string name)
      : state_(state), name_(std::move(name)), lock_(state.mu) {}

  internal::ServiceState& state() { return state_; }
  Time now() const { return state_.clock.Now(); }

  // Applies the injected faults in scope of this call.
  Status CheckFaults(std::string_view instance_id, std::string_view key_id) {
    if (internal::ScopedFaultsEvaluated::active()) return base::OkStatus();
    return state_.faults.Check({name_, instance_id, key_id});
  }

  // Records an event; the key is written to storage when the call ends.
  void Emit(KeyEventType type, const KeyRecord& key) {
    events_.push_back(KeyEvent{type, key.meta.instance_id, key.meta.id, now()});
    dirty_.keys.insert(key.meta.id);
  }
  void MarkInstance(const std::string& id) { dirty_.instances.insert(id); }
  void MarkRegistrations(const std::string& key_id) {
    dirty_.registrations.insert(key_id);
  }

  // Writes what changed, counts the outcome, releases the lock and notifies
  // subscribers. A failed write replaces the result with its error.
  template <typename T>
  T Finish(T result) {
    base::Status written = Commit();
    if (!written.ok()) result = T(written);
    if (!name_.empty()) {
      CallCount& count = state_.calls[name_];
      (result.ok() ? count.ok : count.failed)++;
    }
    Deliver();
    return result;
  }

  // Writes the changed records in one batch. After one failed write every
  // later change fails too, because memory may then be ahead of the disk.
  base::Status Commit() {
    if (dirty_.empty() || state_.store == nullptr) return base::OkStatus();
    if (state_.store_failure.ok()) {
      state_.store_failure = state_.store->Write(state_, dirty_);
      if (!state_.store_failure.ok()) {
        spdlog::error(
            "kms: storage write failed, refusing further changes: "
            "{}",
            state_.store_failure.message());
      }
    }
    dirty_ = {};
    if (state_.store_failure.ok()) return base::OkStatus();
    return base::DataLossError("kms storage write failed earlier (" +
                               state_.store_failure.message() +
                               "); reopen the service");
  }

  void Deliver() {
    // Most calls change nothing: skip copying the subscriber list.
    if (events_.empty()) {
      lock_.unlock();
      return;
    }
    std::vector<std::shared_ptr<std::function<void(const KeyEvent&)>>>
        listeners;
    for (const auto& [id, listener] : state_.subscribers) {
      listeners.push_back(listener);
    }
    lock_.unlock();
    for (const KeyEvent& event : events_) {
      for (const auto& listener : listeners) (*listener)(event);
    }
    events_.clear();
  }

 private:
  internal::ServiceState& state_;
  std::string name_;  // empty for internal work, which is not counted
  std::unique_lock<std::mutex> lock_;
  std::vector<KeyEvent> events_;
  internal::DirtySet dirty_;
};

void LogStateChange(const KeyRecord& key, std::string_view what) {
  spdlog::info("kms: key {} of instance {} {}, now {}", key.meta.id,
               key.meta.instance_id, what, KeyStateName(key.meta.state));
}

// Applies expiry: an Active key past its deactivation instant becomes
// Deactivated. Called on every access, so the state is right before the
// expiry timer has fired.
void RefreshExpiry(Operation& op, KeyRecord& key) {
  if (key.meta.state != KeyState::kActive || !key.deactivate_at ||
      op.now() < *key.deactivate_at) {
    return;
  }
  key.meta.state = KeyState::kDeactivated;
  key.meta.last_update_date = *key.deactivate_at;
  op.Emit(KeyEventType::kExpired, key);
  LogStateChange(key, "expired");
}

StatusOr<KeyRecord*> FindKey(Operation& op, const std::string& instance_id,
                             const std::string& key_id) {
  internal::ServiceState& s = op.state();
  if (!s.instances.contains(instance_id)) {
    return Error(base::Code::kNotFound, kReasonInstanceNotFound,
                 "instance " + instance_id + " not found");
  }
  auto it = s.keys.find(key_id);
  if (it == s.keys.end() || it->second.meta.instance_id != instance_id) {
    return KeyNotFound(key_id);
  }
  RefreshExpiry(op, it->second);
  return &it->second;
}

// Finds a key that is not Destroyed.
StatusOr<KeyRecord*> FindLiveKey(Operation& op, const std::string& instance_id,
                                 const std::string& key_id) {
  ASSIGN_OR_RETURN(KeyRecord * key, FindKey(op, instance_id, key_id));
  if (key->meta.state == KeyState::kDestroyed) return KeyDeleted(key_id);
  return key;
}

// Finds an Active root key, the only kind that wraps, unwraps and rotates.
StatusOr<KeyRecord*> FindActiveRootKey(Operation& op,
                                       const std::string& instance_id,
                                       const std::string& key_id,
                                       std::string_view action) {
  ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, instance_id, key_id));
  if (key->meta.extractable) {
    return Error(base::Code::kInvalidArgument, kReasonRootKeyRequired,
                 std::string(action) + " needs a root key; key " + key_id +
                     " is a standard key");
  }
  if (key->meta.state != KeyState::kActive) {
    return InvalidState(key_id, key->meta.state, action);
  }
  return key;
}

// Returns the AES key of version `index`, derived and prepared once and then
// kept in the record: HKDF and the AES key schedule cost more than the
// AES-GCM of a whole wrap.
StatusOr<base::AesGcmKey*> CachedWrappingKey(KeyRecord& key, size_t index) {
  while (key.wrapping_keys.size() <= index) {
    size_t next = key.wrapping_keys.size();
    ASSIGN_OR_RETURN(
        std::string derived,
        WrappingKey(key.materials[next], key.meta.versions[next].id));
    ASSIGN_OR_RETURN(base::AesGcmKey prepared,
                     base::AesGcmKey::Create(derived));
    key.wrapping_keys.push_back(std::move(prepared));
  }
  return &key.wrapping_keys[index];
}

StatusOr<WrapResult> SealDek(Operation& op, KeyRecord& key,
                             const std::string& dek,
                             const std::vector<std::string>& aad) {
  const KeyVersion& version = key.meta.versions.back();
  ASSIGN_OR_RETURN(base::AesGcmKey * wrapping_key,
                   CachedWrappingKey(key, key.meta.versions.size() - 1));
  std::string nonce = op.state().random.Bytes(base::kGcmNonceSize);
  ASSIGN_OR_RETURN(
      std::string sealed,
      wrapping_key->Seal(nonce, dek,
                         AssociatedData(key.meta.id, version.id, aad)));

  WrapResult result;
  result.ciphertext.push_back(kCiphertextFormat);
  result.ciphertext += version.id;
  result.ciphertext += nonce;
  result.ciphertext += sealed;
  result.plaintext = dek;
  result.key_version_id = version.id;
  return result;
}

// Opens a ciphertext made by SealDek under any version of `key`. Returns the
// DEK and the index of the version that sealed it.
StatusOr<std::pair<std::string, size_t>> OpenDek(
    KeyRecord& key, std::string_view ciphertext,
    const std::vector<std::string>& aad) {
  if (ciphertext.size() <
          kCiphertextHeaderSize + base::kGcmNonceSize + base::kGcmTagSize ||
      ciphertext[0] != kCiphertextFormat) {
    return Unprocessable("unknown format");
  }
  std::string_view version_id = ciphertext.substr(1, kVersionIdSize);
  size_t index = 0;
  while (index < key.meta.versions.size() &&
         key.meta.versions[index].id != version_id) {
    ++index;
  }
  if (index == key.meta.versions.size()) {
    return Unprocessable("not made by a version of key " + key.meta.id);
  }

  ASSIGN_OR_RETURN(base::AesGcmKey * wrapping_key,
                   CachedWrappingKey(key, index));
  std::string_view nonce =
      ciphertext.substr(kCiphertextHeaderSize, base::kGcmNonceSize);
  std::string_view sealed =
      ciphertext.substr(kCiphertextHeaderSize + base::kGcmNonceSize);
  StatusOr<std::string> dek = wrapping_key->Open(
      nonce, sealed, AssociatedData(key.meta.id, version_id, aad));
  if (!dek.ok()) {
    return Unprocessable("authentication failed (wrong AAD or altered bytes)");
  }
  return std::make_pair(std::move(dek).value(), index);
}

void AddVersion(Operation& op, KeyRecord& key, std::string material) {
  KeyVersion version{op.state().random.Uuid(), op.now()};
  key.meta.versions.push_back(version);
  key.materials.push_back(std::move(material));
  if (key.meta.extractable) key.meta.payload = key.materials.back();
}

Key Snapshot(const KeyRecord& key) { return key.meta; }

bool HasProtectingRegistration(const internal::ServiceState& s,
                               const KeyRecord& key) {
  return std::ranges::any_of(s.registrations, [&](const Registration& r) {
    return r.key_id == key.meta.id && r.prevent_key_deletion;
  });
}

// Validates a create request; returns the material to use.
StatusOr<std::string> CheckCreateRequest(Operation& op,
                                         const CreateKeyRequest& request) {
  if (request.name.empty()) {
    return InvalidField("key name is missing");
  }
  if (!IsValidKeyName(request.name, /*min_characters=*/1)) {
    return InvalidField(
        "key name must be at most 90 characters without control "
        "characters, got " +
        std::to_string(request.name.size()) + " bytes");
  }
  if (request.expiration && *request.expiration <= op.now() &&
      !request.deactivated) {
    return InvalidField("expirationDate " +
                        base::FormatRfc3339(*request.expiration) +
                        " is not in the future");
  }
  if (request.id && !IsValidKeyId(*request.id)) {
    return InvalidField("key id \"" + *request.id +
                        "\" must be 1 to 90 characters of letters, digits, "
                        "'-' and '_'");
  }
  if (request.id && op.state().keys.contains(*request.id)) {
    return base::AlreadyExistsError("key id " + *request.id + " is taken");
  }
  if (request.material && !IsValidMaterialSize(request.material->size())) {
    return InvalidField("payload must be 16, 24 or 32 bytes, got " +
                        std::to_string(request.material->size()));
  }
  for (const std::optional<std::string>& later : request.later_versions) {
    if (!later && request.material) {
      return Error(base::Code::kInvalidArgument, kReasonPayloadRequired,
                   "a key with imported material needs material for every "
                   "later version");
    }
    if (later && !IsValidMaterialSize(later->size())) {
      return InvalidField("version payload must be 16, 24 or 32 bytes, got " +
                          std::to_string(later->size()));
    }
  }
  if (request.material) return *request.material;
  return op.state().random.Bytes(base::kAes256KeySize);
}

void ScheduleExpiry(internal::ServiceState& s, KeyRecord& key) {
  if (!key.deactivate_at) return;
  std::string key_id = key.meta.id;
  internal::ServiceState* state = &s;
  key.expiry_timer = s.clock.ScheduleAt(*key.deactivate_at, [state, key_id] {
    Operation op(*state, "");
    auto it = state->keys.find(key_id);
    if (it != state->keys.end()) {
      it->second.expiry_timer.reset();
      RefreshExpiry(op, it->second);
    }
    base::Status written = op.Commit();
    if (!written.ok()) {
      spdlog::error("kms: expiry of key {} not stored: {}", key_id,
                    written.message());
    }
    op.Deliver();
  });
}

}  // namespace

KeyService::KeyService(base::Clock& clock, base::Random& random)
    : state_(std::make_unique<internal::ServiceState>(clock, random)) {}

base::StatusOr<std::unique_ptr<KeyService>> KeyService::Open(
    base::Clock& clock, base::Random& random, const std::string& data_dir,
    bool sync) {
  ASSIGN_OR_RETURN(std::unique_ptr<internal::KeyStore> store,
                   internal::KeyStore::Open(data_dir, sync));
  auto service = std::make_unique<KeyService>(clock, random);
  internal::ServiceState& s = *service->state_;
  std::lock_guard lock(s.mu);
  RETURN_IF_ERROR(store->Load(s));
  for (auto& [id, key] : s.keys) ScheduleExpiry(s, key);
  s.store = std::move(store);
  spdlog::info("kms: opened {} with {} instances and {} keys", data_dir,
               s.instances.size(), s.keys.size());
  return service;
}

base::Status KeyService::SaveCopy(const std::string& data_dir) const {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec)) {
    return base::AlreadyExistsError("KMS copy directory " + data_dir +
                                    " exists; choose a new directory");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<internal::KeyStore> copy,
                   internal::KeyStore::Open(data_dir));
  std::lock_guard lock(state_->mu);
  internal::DirtySet everything;
  for (const auto& [id, instance] : state_->instances) {
    everything.instances.insert(id);
  }
  for (const auto& [id, key] : state_->keys) {
    everything.keys.insert(id);
    everything.registrations.insert(id);
  }
  return copy->Write(*state_, everything);
}

KeyService::~KeyService() {
  std::lock_guard lock(state_->mu);
  for (auto& [id, key] : state_->keys) {
    if (key.expiry_timer) state_->clock.Cancel(*key.expiry_timer);
  }
}

base::StatusOr<Instance> KeyService::CreateInstance(const std::string& name,
                                                    InstanceType type,
                                                    const std::string& id) {
  Operation op(*state_, "create_instance");
  if (Status fault = op.CheckFaults(id, ""); !fault.ok()) {
    return op.Finish(StatusOr<Instance>(fault));
  }
  Instance instance;
  instance.id = id.empty() ? state_->random.Uuid() : id;
  instance.name = name;
  instance.type = type;
  if (state_->instances.contains(instance.id)) {
    return op.Finish(StatusOr<Instance>(
        base::AlreadyExistsError("instance " + instance.id + " exists")));
  }
  state_->instances[instance.id] = instance;
  state_->instance_order.push_back(instance.id);
  state_->instance_sequences[instance.id] = state_->next_sequence++;
  op.MarkInstance(instance.id);
  spdlog::info("kms: created {} instance {}", InstanceTypeName(type),
               instance.id);
  return op.Finish(StatusOr<Instance>(instance));
}

std::vector<Instance> KeyService::ListInstances() const {
  std::lock_guard lock(state_->mu);
  std::vector<Instance> out;
  for (const std::string& id : state_->instance_order) {
    out.push_back(state_->instances.at(id));
  }
  return out;
}

base::StatusOr<Instance> KeyService::GetInstance(
    const std::string& instance_id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->instances.find(instance_id);
  if (it == state_->instances.end()) {
    return Error(base::Code::kNotFound, kReasonInstanceNotFound,
                 "instance " + instance_id + " not found");
  }
  return it->second;
}

base::StatusOr<Key> KeyService::CreateKey(const std::string& instance_id,
                                          const CreateKeyRequest& request) {
  Operation op(*state_, "create_key");
  auto run = [&]() -> StatusOr<Key> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, request.id.value_or("")));
    if (!state_->instances.contains(instance_id)) {
      return Error(base::Code::kNotFound, kReasonInstanceNotFound,
                   "instance " + instance_id + " not found");
    }
    ASSIGN_OR_RETURN(std::string material, CheckCreateRequest(op, request));

    KeyRecord key;
    key.meta.id = request.id ? *request.id : state_->random.Uuid();
    key.meta.instance_id = instance_id;
    key.meta.name = request.name;
    key.meta.description = request.description;
    key.meta.extractable = request.extractable;
    key.meta.imported = request.material.has_value();
    key.meta.state = KeyState::kActive;
    key.meta.creation_date = op.now();
    key.meta.last_update_date = op.now();
    key.meta.expiration = request.expiration;
    key.meta.dual_auth_delete = request.dual_auth_delete;
    key.sequence = state_->next_sequence++;
    AddVersion(op, key, std::move(material));
    for (const std::optional<std::string>& later : request.later_versions) {
      AddVersion(op, key,
                 later ? *later : state_->random.Bytes(base::kAes256KeySize));
      key.meta.last_rotate_date = op.now();
    }
    if (request.deactivated) {
      key.meta.state = KeyState::kDeactivated;
    } else if (request.expiration) {
      auto lag = std::chrono::seconds(state_->random.Uniform(
          std::chrono::duration_cast<std::chrono::seconds>(kExpiryLag)
              .count()));
      key.deactivate_at = *request.expiration + lag;
    }

    auto [it, inserted] = state_->keys.emplace(key.meta.id, std::move(key));
    state_->key_order[instance_id].push_back(it->first);
    ScheduleExpiry(*state_, it->second);
    op.Emit(KeyEventType::kCreated, it->second);
    LogStateChange(it->second, "created");
    return Snapshot(it->second);
  };
  return op.Finish(run());
}

base::StatusOr<Key> KeyService::GetKey(const std::string& instance_id,
                                       const std::string& key_id) const {
  Operation op(*state_, "get_key");
  auto run = [&]() -> StatusOr<Key> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindKey(op, instance_id, key_id));
    return Snapshot(*key);
  };
  return op.Finish(run());
}

base::StatusOr<KeyStateInfo> KeyService::GetKeyState(
    const std::string& instance_id, const std::string& key_id) const {
  Operation op(*state_, "get_key");
  auto run = [&]() -> StatusOr<KeyStateInfo> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindKey(op, instance_id, key_id));
    return KeyStateInfo{key->meta.state, key->meta.versions.back().id};
  };
  return op.Finish(run());
}

base::StatusOr<std::vector<Key>> KeyService::ListKeys(
    const std::string& instance_id) const {
  Operation op(*state_, "list_keys");
  auto run = [&]() -> StatusOr<std::vector<Key>> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, ""));
    if (!state_->instances.contains(instance_id)) {
      return Error(base::Code::kNotFound, kReasonInstanceNotFound,
                   "instance " + instance_id + " not found");
    }
    std::vector<Key> out;
    for (const std::string& id : state_->key_order[instance_id]) {
      KeyRecord& key = state_->keys.at(id);
      RefreshExpiry(op, key);
      out.push_back(Snapshot(key));
    }
    return out;
  };
  return op.Finish(run());
}

base::StatusOr<WrapResult> KeyService::Wrap(
    const std::string& instance_id, const std::string& key_id,
    std::optional<std::string> plaintext, const std::vector<std::string>& aad) {
  Operation op(*state_, "wrap");
  auto run = [&]() -> StatusOr<WrapResult> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key,
                     FindActiveRootKey(op, instance_id, key_id, "wrap"));
    if (plaintext && !IsValidMaterialSize(plaintext->size())) {
      return InvalidField("plaintext must be 16, 24 or 32 bytes, got " +
                          std::to_string(plaintext->size()));
    }
    std::string dek = plaintext ? *plaintext : state_->random.Bytes(kDekSize);
    return SealDek(op, *key, dek, aad);
  };
  return op.Finish(run());
}

base::StatusOr<UnwrapResult> KeyService::Unwrap(
    const std::string& instance_id, const std::string& key_id,
    const std::string& ciphertext, const std::vector<std::string>& aad) {
  Operation op(*state_, "unwrap");
  auto run = [&]() -> StatusOr<UnwrapResult> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key,
                     FindActiveRootKey(op, instance_id, key_id, "unwrap"));
    ASSIGN_OR_RETURN(auto opened, OpenDek(*key, ciphertext, aad));

    UnwrapResult result;
    result.plaintext = std::move(opened.first);
    result.key_version_id = key->meta.versions[opened.second].id;
    result.rewrapped_key_version_id = key->meta.versions.back().id;
    if (opened.second + 1 < key->meta.versions.size()) {
      ASSIGN_OR_RETURN(WrapResult rewrapped,
                       SealDek(op, *key, result.plaintext, aad));
      result.rewrapped_ciphertext = std::move(rewrapped.ciphertext);
    }
    return result;
  };
  return op.Finish(run());
}

base::StatusOr<WrapResult> KeyService::Rewrap(
    const std::string& instance_id, const std::string& key_id,
    const std::string& ciphertext, const std::vector<std::string>& aad) {
  Operation op(*state_, "rewrap");
  auto run = [&]() -> StatusOr<WrapResult> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key,
                     FindActiveRootKey(op, instance_id, key_id, "rewrap"));
    ASSIGN_OR_RETURN(auto opened, OpenDek(*key, ciphertext, aad));
    ASSIGN_OR_RETURN(WrapResult result, SealDek(op, *key, opened.first, aad));
    result.unwrapped_key_version_id = key->meta.versions[opened.second].id;
    return result;
  };
  return op.Finish(run());
}

base::StatusOr<Key> KeyService::Rotate(const std::string& instance_id,
                                       const std::string& key_id,
                                       std::optional<std::string> material) {
  Operation op(*state_, "rotate");
  auto run = [&]() -> StatusOr<Key> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key,
                     FindActiveRootKey(op, instance_id, key_id, "rotate"));
    if (key->meta.imported && !material) {
      return Error(base::Code::kInvalidArgument, kReasonPayloadRequired,
                   "key " + key_id +
                       " was created with imported material: rotate needs a "
                       "payload");
    }
    if (material && !IsValidMaterialSize(material->size())) {
      return InvalidField("payload must be 16, 24 or 32 bytes, got " +
                          std::to_string(material->size()));
    }

    AddVersion(
        op, *key,
        material ? *material : state_->random.Bytes(base::kAes256KeySize));
    key->meta.last_rotate_date = op.now();
    key->meta.last_update_date = op.now();
    op.Emit(KeyEventType::kRotated, *key);
    LogStateChange(*key, "rotated to version " + key->meta.versions.back().id);
    return Snapshot(*key);
  };
  return op.Finish(run());
}

base::Status KeyService::Disable(const std::string& instance_id,
                                 const std::string& key_id) {
  Operation op(*state_, "disable");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, instance_id, key_id));
    if (key->meta.state != KeyState::kActive) {
      return InvalidState(key_id, key->meta.state, "disable");
    }
    key->meta.state = KeyState::kSuspended;
    key->meta.last_update_date = op.now();
    key->disabled_at = op.now();
    op.Emit(KeyEventType::kDisabled, *key);
    LogStateChange(*key, "disabled");
    return base::OkStatus();
  };
  return op.Finish(run());
}

base::Status KeyService::Enable(const std::string& instance_id,
                                const std::string& key_id) {
  Operation op(*state_, "enable");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, instance_id, key_id));
    if (key->meta.state != KeyState::kSuspended) {
      return InvalidState(key_id, key->meta.state, "enable");
    }
    if (key->disabled_at && op.now() < *key->disabled_at + kEnableGuard) {
      return Error(base::Code::kFailedPrecondition, kReasonTooEarly,
                   "key " + key_id +
                       " was disabled less than 30 seconds ago; retry later");
    }
    key->meta.state = KeyState::kActive;
    key->meta.last_update_date = op.now();
    op.Emit(KeyEventType::kEnabled, *key);
    LogStateChange(*key, "enabled");
    // An expiration that passed while the key was Suspended applies now.
    RefreshExpiry(op, *key);
    return base::OkStatus();
  };
  return op.Finish(run());
}

base::Status KeyService::SetKeyForDeletion(const std::string& instance_id,
                                           const std::string& key_id) {
  Operation op(*state_, "set_key_for_deletion");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, instance_id, key_id));
    if (key->meta.state != KeyState::kActive) {
      return InvalidState(key_id, key->meta.state, "setKeyForDeletion");
    }
    if (!key->meta.dual_auth_delete) {
      return Error(base::Code::kFailedPrecondition, kReasonNotDualAuth,
                   "key " + key_id +
                       " is not dual auth enabled and cannot be set for "
                       "deletion");
    }
    key->meta.dual_auth_authorized_until = op.now() + kDualAuthValidity;
    key->meta.last_update_date = op.now();
    op.Emit(KeyEventType::kSetForDeletion, *key);
    LogStateChange(*key, "set for deletion");
    return base::OkStatus();
  };
  return op.Finish(run());
}

base::Status KeyService::UnsetKeyForDeletion(const std::string& instance_id,
                                             const std::string& key_id) {
  Operation op(*state_, "unset_key_for_deletion");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, instance_id, key_id));
    if (key->meta.state != KeyState::kActive) {
      return InvalidState(key_id, key->meta.state, "unsetKeyForDeletion");
    }
    if (!key->meta.dual_auth_delete) {
      return Error(base::Code::kFailedPrecondition, kReasonNotDualAuth,
                   "key " + key_id +
                       " is not dual auth enabled and cannot be unset for "
                       "deletion");
    }
    key->meta.dual_auth_authorized_until.reset();
    key->meta.last_update_date = op.now();
    op.Emit(KeyEventType::kUnsetForDeletion, *key);
    LogStateChange(*key, "unset for deletion");
    return base::OkStatus();
  };
  return op.Finish(run());
}

base::StatusOr<Key> KeyService::Delete(const std::string& instance_id,
                                       const std::string& key_id, bool force) {
  Operation op(*state_, "delete");
  auto run = [&]() -> StatusOr<Key> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, instance_id, key_id));
    if (!force && HasProtectingRegistration(*state_, *key)) {
      return Error(base::Code::kFailedPrecondition, kReasonProtectedResource,
                   "key " + key_id +
                       " is protecting one or more cloud resources; "
                       "unregister them or delete with force");
    }
    const auto& until = key->meta.dual_auth_authorized_until;
    if (key->meta.dual_auth_delete && !(until && op.now() < *until)) {
      return Error(base::Code::kFailedPrecondition, kReasonAuthorizationsNotMet,
                   "key " + key_id +
                       " needs a second authorization: set it for deletion "
                       "first");
    }

    key->state_before_deletion = key->meta.state;
    key->meta.state = KeyState::kDestroyed;
    key->meta.last_update_date = op.now();
    key->meta.deletion_date = op.now();
    key->meta.restore_expiration_date = op.now() + kRestoreWindow;
    key->meta.purge_allowed_from = op.now() + kPurgeDelay;
    key->meta.dual_auth_authorized_until.reset();
    if (force) {
      // As in Key Protect, a forced delete removes the key's registrations.
      std::erase_if(state_->registrations,
                    [&](const Registration& r) { return r.key_id == key_id; });
      op.MarkRegistrations(key_id);
    }
    op.Emit(KeyEventType::kDeleted, *key);
    LogStateChange(*key, force ? "deleted with force" : "deleted");
    return Snapshot(*key);
  };
  return op.Finish(run());
}

base::StatusOr<Key> KeyService::Restore(const std::string& instance_id,
                                        const std::string& key_id) {
  Operation op(*state_, "restore");
  auto run = [&]() -> StatusOr<Key> {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindKey(op, instance_id, key_id));
    if (key->meta.state != KeyState::kDestroyed) {
      return InvalidState(key_id, key->meta.state, "restore");
    }
    Time deleted = *key->meta.deletion_date;
    if (op.now() < deleted + kRestoreGuard) {
      return Error(base::Code::kFailedPrecondition, kReasonTooEarly,
                   "key " + key_id +
                       " was deleted less than 30 seconds ago; retry later");
    }
    if (op.now() >= *key->meta.restore_expiration_date) {
      return Error(base::Code::kFailedPrecondition, kReasonRestoreExpired,
                   "key " + key_id + " was deleted more than 30 days ago (" +
                       base::FormatRfc3339(deleted) +
                       ") and can no longer be restored");
    }

    key->meta.state = key->state_before_deletion.value_or(KeyState::kActive);
    key->state_before_deletion.reset();
    key->meta.last_update_date = op.now();
    key->meta.deletion_date.reset();
    key->meta.restore_expiration_date.reset();
    key->meta.purge_allowed_from.reset();
    op.Emit(KeyEventType::kRestored, *key);
    LogStateChange(*key, "restored");
    RefreshExpiry(op, *key);
    return Snapshot(*key);
  };
  return op.Finish(run());
}

base::Status KeyService::Purge(const std::string& instance_id,
                               const std::string& key_id) {
  Operation op(*state_, "purge");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindKey(op, instance_id, key_id));
    if (key->meta.state != KeyState::kDestroyed) {
      return InvalidState(key_id, key->meta.state, "purge");
    }
    if (op.now() < *key->meta.purge_allowed_from) {
      return Error(base::Code::kFailedPrecondition, kReasonTooEarly,
                   "key " + key_id + " can be purged from " +
                       base::FormatRfc3339(*key->meta.purge_allowed_from) +
                       ", 4 hours after its deletion");
    }

    op.Emit(KeyEventType::kPurged, *key);
    spdlog::info("kms: key {} of instance {} purged", key_id, instance_id);
    if (key->expiry_timer) state_->clock.Cancel(*key->expiry_timer);
    std::erase_if(state_->registrations,
                  [&](const Registration& r) { return r.key_id == key_id; });
    op.MarkRegistrations(key_id);
    std::erase(state_->key_order[instance_id], key_id);
    state_->keys.erase(key_id);
    return base::OkStatus();
  };
  return op.Finish(run());
}

base::Status KeyService::Register(const Registration& registration) {
  Operation op(*state_, "register");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(
        op.CheckFaults(registration.instance_id, registration.key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindLiveKey(op, registration.instance_id,
                                                  registration.key_id));
    if (key->meta.extractable) {
      return Error(base::Code::kInvalidArgument, kReasonRootKeyRequired,
                   "only root keys can be registered; key " +
                       registration.key_id + " is a standard key");
    }
    if (registration.resource_crn.empty()) {
      return InvalidField("registration resource CRN is missing");
    }
    std::erase_if(state_->registrations, [&](const Registration& r) {
      return r.key_id == registration.key_id &&
             r.resource_crn == registration.resource_crn;
    });
    Registration stored = registration;
    stored.creation_date = op.now();
    state_->registrations.push_back(std::move(stored));
    op.MarkRegistrations(registration.key_id);
    return base::OkStatus();
  };
  return op.Finish(run());
}

base::Status KeyService::Unregister(const std::string& instance_id,
                                    const std::string& key_id,
                                    const std::string& resource_crn) {
  Operation op(*state_, "unregister");
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(op.CheckFaults(instance_id, key_id));
    ASSIGN_OR_RETURN(KeyRecord * key, FindKey(op, instance_id, key_id));
    size_t removed = std::erase_if(state_->registrations, [&](const auto& r) {
      return r.key_id == key->meta.id && r.resource_crn == resource_crn;
    });
    if (removed == 0) {
      return base::NotFoundError("no registration of " + resource_crn +
                                 " on key " + key_id);
    }
    op.MarkRegistrations(key_id);
    return base::OkStatus();
  };
  return op.Finish(run());
}

std::vector<Registration> KeyService::ListRegistrations(
    const std::string& instance_id, const std::string& key_id) const {
  std::lock_guard lock(state_->mu);
  std::vector<Registration> out;
  for (const Registration& r : state_->registrations) {
    if (r.instance_id == instance_id &&
        (key_id.empty() || r.key_id == key_id)) {
      out.push_back(r);
    }
  }
  return out;
}

KeyService::SubscriptionId KeyService::Subscribe(
    std::function<void(const KeyEvent&)> listener) {
  std::lock_guard lock(state_->mu);
  SubscriptionId id = state_->next_subscription++;
  state_->subscribers[id] =
      std::make_shared<std::function<void(const KeyEvent&)>>(
          std::move(listener));
  return id;
}

void KeyService::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(state_->mu);
  state_->subscribers.erase(id);
}

FaultInjector& KeyService::faults() { return state_->faults; }

base::Clock& KeyService::clock() const { return state_->clock; }

std::map<std::string, CallCount> KeyService::CallCounts() const {
  std::lock_guard lock(state_->mu);
  return state_->calls;
}

}  // namespace kms
