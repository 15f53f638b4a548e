// Private to kms-mock: the state behind KeyService, shared by kms.cc (the
// operations) and storage.cc (persistence in RocksDB).
#ifndef KMS_MOCK_KMS_INTERNAL_H_
#define KMS_MOCK_KMS_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "base/status.h"
#include "kms-mock/kms.h"

namespace kms::internal {

// A key with its secret parts, which leave kms-mock only as the payload of
// a standard key and in the data directory of a persistent service.
struct KeyRecord {
  Key meta;                            // meta.payload set for standard keys
  std::vector<std::string> materials;  // parallel to meta.versions
  // AES keys derived from materials and prepared for AES-GCM, filled on
  // first use; not persisted. Used only with ServiceState::mu held.
  std::vector<base::AesGcmKey> wrapping_keys;
  std::optional<KeyState> state_before_deletion;
  std::optional<base::Time> disabled_at;
  // The seeded instant within kExpiryLag after expiration at which an Active
  // key becomes Deactivated.
  std::optional<base::Time> deactivate_at;
  uint64_t sequence = 0;  // creation order across the service
  std::optional<base::Clock::TimerId> expiry_timer;  // not persisted
};

class KeyStore;  // storage.h

struct ServiceState {
  ServiceState(base::Clock& c, base::Random& r);
  ~ServiceState();

  // Constant after construction.
  base::Clock& clock;
  base::Random& random;

  FaultInjector faults;  // thread-safe on its own

  mutable std::mutex mu;
  std::map<std::string, Instance> instances;                  // guarded by mu
  std::vector<std::string> instance_order;                    // guarded by mu
  std::map<std::string, KeyRecord> keys;                      // guarded by mu
  std::map<std::string, std::vector<std::string>> key_order;  // by instance
  std::vector<Registration> registrations;                    // guarded by mu
  std::map<KeyService::SubscriptionId,
           std::shared_ptr<std::function<void(const KeyEvent&)>>>
      subscribers;                                     // guarded by mu
  KeyService::SubscriptionId next_subscription = 1;    // guarded by mu
  std::map<std::string, CallCount> calls;              // guarded by mu
  std::map<std::string, uint64_t> instance_sequences;  // guarded by mu
  uint64_t next_sequence = 1;                          // guarded by mu

  // Persistence; null for an in-memory service. Set once by Open.
  std::unique_ptr<KeyStore> store;
  // The first failed write; once set, every change fails with it.
  base::Status store_failure;  // guarded by mu
};

// Marks the thread of an HTTP request whose faults KeyProtectApi has
// evaluated already, so that the KeyService calls it makes do not count and
// fault the same request again.
class ScopedFaultsEvaluated {
 public:
  ScopedFaultsEvaluated() { ++depth_; }
  ~ScopedFaultsEvaluated() { --depth_; }
  ScopedFaultsEvaluated(const ScopedFaultsEvaluated&) = delete;
  ScopedFaultsEvaluated& operator=(const ScopedFaultsEvaluated&) = delete;

  static bool active() { return depth_ > 0; }

 private:
  static inline thread_local int depth_ = 0;
};

// The records one operation changed, written together when it finishes.
struct DirtySet {
  std::set<std::string> instances;
  std::set<std::string> keys;           // written, or deleted when purged
  std::set<std::string> registrations;  // by key id

  bool empty() const {
    return instances.empty() && keys.empty() && registrations.empty();
  }
};

}  // namespace kms::internal

#endif  // KMS_MOCK_KMS_INTERNAL_H_
