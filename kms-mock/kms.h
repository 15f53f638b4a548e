// KeyService: an in-process mock of a key management service, the model
// behind the Key Protect-compatible HTTP server.
//
// A KeyService holds KMS instances, each of type Key Protect or Hyper Protect
// Crypto Services, and their keys. Root keys (non-extractable) wrap and
// unwrap data encryption keys with AES-256-GCM under the material of a key
// version; rotation adds a version, and older versions still unwrap. Keys
// move between the states of Key Protect:
//
//   Active (1) --disable--> Suspended (2) --enable (30 s after)--> Active
//   Active --expirationDate passes--> Deactivated (3), within an hour after it
//   Active/Suspended/Deactivated --delete--> Destroyed (5)
//   Destroyed --restore (within 30 days)--> previous state
//   Destroyed --4 hours later--> purgeable
//
// Errors carry Key Protect reason codes in Status::reason() (for example
// KEY_ACTION_INVALID_STATE_ERR, KEY_DELETED_ERR, PROTECTED_RESOURCE_ERR,
// REQ_TOO_EARLY_ERR, UNPROCESSABLE_CIPHERTEXT_ERR), so that the HTTP server
// maps them one to one. Time comes only from the injected Clock and key
// material only from the injected Random.
//
// The service must not be destroyed while another thread advances the clock:
// the destructor cancels its expiry timers but cannot wait for one that is
// already running.
//
// Thread-safe. Subscribers are called after the state change is committed,
// without the service's lock held, on the thread that caused the change (for
// expiry: the thread advancing the clock); they may call back into the
// service.
#ifndef KMS_MOCK_KMS_H_
#define KMS_MOCK_KMS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "kms-mock/faults.h"

namespace kms {

// Key Protect reason codes carried in Status::reason(). The code beside each
// is the base::Code the service returns with it; the HTTP server maps the
// reason to Key Protect's HTTP status.
inline constexpr std::string_view kReasonKeyNotFound =
    "KEY_NOT_FOUND_ERR";  // kNotFound, 404
inline constexpr std::string_view kReasonKeyDeleted =
    "KEY_DELETED_ERR";  // kNotFound, 410
inline constexpr std::string_view kReasonInvalidState =
    "KEY_ACTION_INVALID_STATE_ERR";  // kFailedPrecondition, 409
inline constexpr std::string_view kReasonProtectedResource =
    "PROTECTED_RESOURCE_ERR";  // kFailedPrecondition, 409
inline constexpr std::string_view kReasonTooEarly =
    "REQ_TOO_EARLY_ERR";  // kFailedPrecondition, 409
inline constexpr std::string_view kReasonAuthorizationsNotMet =
    "AUTHORIZATIONS_NOT_MET";  // kFailedPrecondition, 409
inline constexpr std::string_view kReasonNotDualAuth =
    "NOT_DUAL_AUTH_ERR";  // kFailedPrecondition, 409
inline constexpr std::string_view kReasonRestoreExpired =
    "KEY_RESTORE_EXPIRED";  // kFailedPrecondition, 400
inline constexpr std::string_view kReasonUnprocessableCiphertext =
    "UNPROCESSABLE_CIPHERTEXT_ERR";  // kInvalidArgument, 422
inline constexpr std::string_view kReasonRootKeyRequired =
    "KEY_ROOT_REQ_ERR";  // kInvalidArgument, 400
inline constexpr std::string_view kReasonPayloadRequired =
    "KEY_PAYLOAD_REQ_ERR";  // kInvalidArgument, 400
inline constexpr std::string_view kReasonInvalidField =
    "INVALID_FIELD_ERR";  // kInvalidArgument, 400
inline constexpr std::string_view kReasonInstanceNotFound =
    "INSTANCE_NOT_FOUND_ERR";  // kNotFound; not a Key Protect code

// Time rules of the Key Protect key lifecycle.
inline constexpr std::chrono::seconds kEnableGuard{30};   // after disable
inline constexpr std::chrono::seconds kRestoreGuard{30};  // after delete
inline constexpr std::chrono::hours kRestoreWindow{24 * 30};
inline constexpr std::chrono::hours kPurgeDelay{4};
inline constexpr std::chrono::hours kExpiryLag{1};  // max expiry detection
inline constexpr std::chrono::hours kDualAuthValidity{24 * 7};

// Whether `id` may name a key: 1 to 90 characters of A-Z, a-z, 0-9, '-'
// and '_', which fits both a UUID and a Key Protect alias.
bool IsValidKeyId(std::string_view id);

// Whether `name` may name a key: `min_characters` to 90 characters (UTF-8
// code points) with no control characters. Key Protect's API requires at
// least 2 and KeyService::CreateKey at least 1, so that tests may use
// one-letter names.
bool IsValidKeyName(std::string_view name, size_t min_characters = 2);

enum class InstanceType { kKeyProtect, kHyperProtect };

// "key-protect" or "hpcs".
std::string_view InstanceTypeName(InstanceType type);
std::optional<InstanceType> ParseInstanceType(std::string_view name);

enum class KeyState {
  kPreActivation = 0,
  kActive = 1,
  kSuspended = 2,
  kDeactivated = 3,
  kDestroyed = 5,
};

// "Pre-activation", "Active", "Suspended", "Deactivated" or "Destroyed".
std::string_view KeyStateName(KeyState state);
std::optional<KeyState> ParseKeyState(std::string_view name);

struct Instance {
  std::string id;  // a UUID
  std::string name;
  InstanceType type = InstanceType::kKeyProtect;
  std::string region = "us-south";
};

struct CreateKeyRequest {
  std::string name;
  std::string description;
  // false makes a root key (wraps, never leaves the service); true makes a
  // standard key, whose material is returned on creation and on get.
  bool extractable = false;
  std::optional<base::Time> expiration;
  // Imported material; 16, 24 or 32 bytes. Generated (32 bytes) when absent.
  std::optional<std::string> material;
  // A fixed key id for seed files; a random UUID when absent.
  std::optional<std::string> id;
  // Deletion needs a second authorization (SetKeyForDeletion) first.
  bool dual_auth_delete = false;
  // For seed files: versions after the first, oldest first, all created
  // at the same instant, each with this material (16, 24 or 32 bytes) or
  // generated material for nullopt. A key with imported material needs
  // material for each.
  std::vector<std::optional<std::string>> later_versions;
  // For seed files: creates the key Deactivated, as if its expiration had
  // passed; `expiration` may then lie in the past.
  bool deactivated = false;
};

struct KeyVersion {
  std::string id;  // a UUID
  base::Time creation_date;
};

// A snapshot of a key's metadata; never carries root key material.
struct Key {
  std::string id;
  std::string instance_id;
  std::string name;
  std::string description;
  bool extractable = false;
  bool imported = false;
  KeyState state = KeyState::kActive;
  base::Time creation_date;
  base::Time last_update_date;
  std::optional<base::Time> expiration;
  std::optional<base::Time> last_rotate_date;
  std::optional<base::Time> deletion_date;
  std::optional<base::Time> restore_expiration_date;  // deletion + 30 days
  std::optional<base::Time> purge_allowed_from;       // deletion + 4 hours
  bool dual_auth_delete = false;
  // Set by SetKeyForDeletion; valid for 7 days.
  std::optional<base::Time> dual_auth_authorized_until;
  std::vector<KeyVersion> versions;  // oldest first; never empty
  // Only for standard (extractable) keys: the current material.
  std::optional<std::string> payload;
};

// The part of a key that a KMS status check needs, without copying the rest.
struct KeyStateInfo {
  KeyState state = KeyState::kActive;
  std::string newest_version_id;
};

struct WrapResult {
  std::string ciphertext;  // opaque bytes; the HTTP API base64-encodes them
  std::string plaintext;   // the DEK; generated when none was supplied
  std::string key_version_id;
  // Rewrap only: the version that had wrapped the input ciphertext.
  std::string unwrapped_key_version_id;
};

struct UnwrapResult {
  std::string plaintext;
  std::string key_version_id;  // the version that wrapped the ciphertext
  // Set when that version is not the newest: the same DEK wrapped under the
  // newest version, which callers should store instead.
  std::optional<std::string> rewrapped_ciphertext;
  std::string rewrapped_key_version_id;
};

enum class KeyEventType {
  kCreated,
  kDisabled,
  kEnabled,
  kDeleted,
  kRestored,
  kRotated,
  kExpired,
  kSetForDeletion,
  kUnsetForDeletion,
  kPurged,
};

// "created", "disabled", "enabled", ...
std::string_view KeyEventTypeName(KeyEventType type);

struct KeyEvent {
  KeyEventType type;
  std::string instance_id;
  std::string key_id;
  base::Time time;
};

// A cluster (or any resource, by CRN) that uses a root key. While a
// registration with prevent_key_deletion exists, Delete without force fails
// with PROTECTED_RESOURCE_ERR.
struct Registration {
  std::string instance_id;
  std::string key_id;
  std::string resource_crn;
  std::string description;
  bool prevent_key_deletion = true;
  base::Time creation_date;
};

// Calls counted per operation name ("wrap", "unwrap", "rotate", ...) and
// outcome, for expectations on how often a cluster reached the KMS.
struct CallCount {
  int64_t ok = 0;
  int64_t failed = 0;
};

namespace internal {
struct ServiceState;  // defined in kms.cc
}  // namespace internal

class KeyService {
 public:
  // An in-memory service. The clock and random source must outlive it.
  KeyService(base::Clock& clock, base::Random& random);
  ~KeyService();

  // Opens a service whose instances, keys (key material included),
  // versions, states and registrations live in a RocksDB database in
  // `data_dir`, created when missing. Every change is written in one synced
  // batch before its call returns. After a failed write, memory may be
  // ahead of the disk, so every later change fails with kDataLoss until the
  // service is reopened. Subscriptions, call counts and faults are not
  // stored. With `sync` false the batches are written without a sync, for
  // services whose data is thrown away, such as scenario replays.
  static base::StatusOr<std::unique_ptr<KeyService>> Open(
      base::Clock& clock, base::Random& random, const std::string& data_dir,
      bool sync = true);

  KeyService(const KeyService&) = delete;
  KeyService& operator=(const KeyService&) = delete;

  // Writes every instance, key (with its material) and registration to a
  // new database in `data_dir`, which Open then loads: a copy of the
  // service's state at this instant. Fails with kAlreadyExists when
  // `data_dir` exists, and with kUnavailable or kDataLoss when RocksDB
  // fails.
  base::Status SaveCopy(const std::string& data_dir) const;

  // Creates an instance; `id` is a random UUID when empty. Fails with
  // kAlreadyExists when the id is taken.
  base::StatusOr<Instance> CreateInstance(const std::string& name,
                                          InstanceType type,
                                          const std::string& id = "");
  std::vector<Instance> ListInstances() const;
  base::StatusOr<Instance> GetInstance(const std::string& instance_id) const;

  // Creates an Active key (Deactivated when request.deactivated). Fails
  // with kInvalidArgument for bad material or an expiration in the past,
  // KEY_PAYLOAD_REQ_ERR for a later version without material on a key with
  // imported material, kAlreadyExists for a fixed id in use and kNotFound
  // for an unknown instance.
  base::StatusOr<Key> CreateKey(const std::string& instance_id,
                                const CreateKeyRequest& request);
  // Returns Destroyed keys too (with their deletion dates); KEY_NOT_FOUND_ERR
  // for unknown or purged keys and for keys of another instance.
  base::StatusOr<Key> GetKey(const std::string& instance_id,
                             const std::string& key_id) const;
  // As GetKey, and counted and faulted as "get_key", but returns only the
  // state and the newest version, for callers that poll a key often.
  base::StatusOr<KeyStateInfo> GetKeyState(const std::string& instance_id,
                                           const std::string& key_id) const;
  // Keys of an instance in creation order, Destroyed ones included.
  base::StatusOr<std::vector<Key>> ListKeys(
      const std::string& instance_id) const;

  // Wraps `plaintext` (16, 24 or 32 bytes; a 32-byte DEK is generated when
  // nullopt) under the newest version. `aad` is bound into the ciphertext and
  // must be given again to unwrap. Fails with KEY_ACTION_INVALID_STATE_ERR
  // unless the key is Active, KEY_ROOT_REQ_ERR for a standard key,
  // KEY_DELETED_ERR (kNotFound, HTTP 410) when it is Destroyed and
  // INVALID_FIELD_ERR for a plaintext of another size.
  // NOTE: the accepted plaintext sizes are this mock's choice (AES key
  // sizes); Key Protect's own limit was not checked.
  base::StatusOr<WrapResult> Wrap(const std::string& instance_id,
                                  const std::string& key_id,
                                  std::optional<std::string> plaintext,
                                  const std::vector<std::string>& aad = {});
  // Unwraps a ciphertext made by Wrap under any version of the key. Fails
  // with UNPROCESSABLE_CIPHERTEXT_ERR when the ciphertext or AAD do not
  // verify, and with the state errors of Wrap.
  base::StatusOr<UnwrapResult> Unwrap(const std::string& instance_id,
                                      const std::string& key_id,
                                      const std::string& ciphertext,
                                      const std::vector<std::string>& aad = {});
  // Unwraps and wraps again under the newest version.
  base::StatusOr<WrapResult> Rewrap(const std::string& instance_id,
                                    const std::string& key_id,
                                    const std::string& ciphertext,
                                    const std::vector<std::string>& aad = {});

  // Adds a version with new (or imported) material. Active root keys only;
  // a key created with imported material needs new material
  // (KEY_PAYLOAD_REQ_ERR otherwise).
  base::StatusOr<Key> Rotate(const std::string& instance_id,
                             const std::string& key_id,
                             std::optional<std::string> material = {});
  // Active -> Suspended.
  base::Status Disable(const std::string& instance_id,
                       const std::string& key_id);
  // Suspended -> Active; REQ_TOO_EARLY_ERR within 30 s of the disable.
  base::Status Enable(const std::string& instance_id,
                      const std::string& key_id);
  // First authorization of a dual-authorization delete, valid for 7 days.
  // Active keys only (KEY_ACTION_INVALID_STATE_ERR otherwise, as in Key
  // Protect); NOT_DUAL_AUTH_ERR for a key created without dual_auth_delete.
  base::Status SetKeyForDeletion(const std::string& instance_id,
                                 const std::string& key_id);
  base::Status UnsetKeyForDeletion(const std::string& instance_id,
                                   const std::string& key_id);
  // Moves the key to Destroyed. Without `force`, fails with
  // PROTECTED_RESOURCE_ERR while a registration prevents deletion. With
  // `force`, removes the key's registrations, as Key Protect does. A
  // dual-authorization key fails with AUTHORIZATIONS_NOT_MET unless it was
  // set for deletion within the last 7 days.
  base::StatusOr<Key> Delete(const std::string& instance_id,
                             const std::string& key_id, bool force = false);
  // Destroyed -> the state before deletion, within 30 days of it
  // (KEY_RESTORE_EXPIRED after); REQ_TOO_EARLY_ERR within 30 s of it.
  base::StatusOr<Key> Restore(const std::string& instance_id,
                              const std::string& key_id);
  // Removes a Destroyed key and its registrations for good, from 4 hours
  // after its deletion (REQ_TOO_EARLY_ERR before).
  base::Status Purge(const std::string& instance_id, const std::string& key_id);

  // Registers `resource_crn` as a user of the key; replaces an existing
  // registration of the same CRN.
  base::Status Register(const Registration& registration);
  base::Status Unregister(const std::string& instance_id,
                          const std::string& key_id,
                          const std::string& resource_crn);
  // Registrations of one key, or of every key of the instance when key_id is
  // empty.
  std::vector<Registration> ListRegistrations(const std::string& instance_id,
                                              const std::string& key_id) const;

  using SubscriptionId = uint64_t;
  SubscriptionId Subscribe(std::function<void(const KeyEvent&)> listener);
  void Unsubscribe(SubscriptionId id);

  // Calls by operation name since construction: "create_instance",
  // "create_key", "get_key", "list_keys", "wrap", "unwrap", "rewrap",
  // "rotate", "disable", "enable", "set_key_for_deletion",
  // "unset_key_for_deletion", "delete", "restore", "purge", "register" and
  // "unregister". Expiry, listing instances and registrations are not
  // counted.
  std::map<std::string, CallCount> CallCounts() const;

  // The faults every counted call above consults first, by its CallCounts
  // name, instance id and key id (empty for calls on no key). A call failed
  // by a fault changes nothing and counts as failed.
  FaultInjector& faults();

  // The clock the service was created with.
  base::Clock& clock() const;

 private:
  std::unique_ptr<internal::ServiceState> state_;
};

}  // namespace kms

#endif  // KMS_MOCK_KMS_H_
