// DerivedKeyCache: the AES-256-GCM keys that one KMS v2 DEK seed derived,
// kept for the reads that follow, as upstream Kubernetes does.
//
// Each KMS v2 value carries 32 random info bytes, and its key is
// HKDF-SHA256-Expand(seed, info). Upstream's extended-nonce transformer
// (k8s.io/apiserver/pkg/storage/value/encrypt/aes, aes_extended_nonce.go
// and cache.go) caches the derived key of each value by the value's etcd
// key, which is its associated data. A lookup hits only when the info
// bytes match too, and an entry lasts 10 minutes after it was set. A write
// sets the entry of its etcd key, so the reads of that value that follow
// hit, and an older value of the same etcd key misses.
//
// Entries hold the 32-byte key, not an expanded cipher context, so one
// entry costs about 200 bytes (an estimate for a 30-byte etcd key) and a
// read expands the AES key again. Upstream serves an expired entry until a
// later set removes it. Here an expired entry is a miss, and a set removes
// every expired entry once per TTL. NOTE: so the entries of a seed that
// gets no more reads or writes, such as one replaced by a rotation, stay
// in memory until its cache is cleared.
//
// Thread-safe.
#ifndef APISERVER_DERIVED_KEY_CACHE_H_
#define APISERVER_DERIVED_KEY_CACHE_H_

#include <array>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"

namespace apiserver {

// Upstream's cacheTTL of derived keys.
inline constexpr base::Duration kDerivedKeyTtl = std::chrono::minutes(10);
// The size of the info bytes that KMS v2 stores in front of each nonce.
inline constexpr size_t kDerivedKeyInfoSize = 32;

using DerivedKey = std::array<char, 32>;

class DerivedKeyCache {
 public:
  // The clock must outlive the cache.
  DerivedKeyCache(base::Clock& clock, base::Duration ttl);

  // Returns the key cached for `etcd_key` when it was derived from `info`
  // and has not expired; nullopt otherwise.
  std::optional<DerivedKey> Get(const std::string& etcd_key,
                                std::string_view info) const;
  // Caches `key`, derived from `info`, for `etcd_key` until the TTL passes,
  // replacing the entry that key had. Does nothing unless info has
  // kDerivedKeyInfoSize bytes.
  void Set(const std::string& etcd_key, std::string_view info,
           const DerivedKey& key);
  // Removes every entry.
  void Clear();
  // Entries held, expired ones included until a set removes them.
  size_t size() const;

 private:
  struct Entry {
    std::array<char, kDerivedKeyInfoSize> info;
    DerivedKey key;
    base::Time expiry;
  };

  // Constant after construction.
  base::Clock& clock_;
  const base::Duration ttl_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  base::Time last_sweep_;                           // guarded by mu_
};

}  // namespace apiserver

#endif  // APISERVER_DERIVED_KEY_CACHE_H_
