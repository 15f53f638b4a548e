#include "apiserver/derived_key_cache.h"

#include <algorithm>

namespace apiserver {

DerivedKeyCache::DerivedKeyCache(base::Clock& clock, base::Duration ttl)
    : clock_(clock), ttl_(ttl), last_sweep_(clock.Now()) {}

std::optional<DerivedKey> DerivedKeyCache::Get(const std::string& etcd_key,
                                               std::string_view info) const {
  if (info.size() != kDerivedKeyInfoSize) return std::nullopt;
  const base::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(etcd_key);
  if (it == entries_.end()) return std::nullopt;
  const Entry& entry = it->second;
  if (now >= entry.expiry ||
      !std::equal(info.begin(), info.end(), entry.info.begin())) {
    return std::nullopt;
  }
  return entry.key;
}

void DerivedKeyCache::Set(const std::string& etcd_key, std::string_view info,
                          const DerivedKey& key) {
  if (info.size() != kDerivedKeyInfoSize) return;
  const base::Time now = clock_.Now();
  Entry entry;
  std::copy(info.begin(), info.end(), entry.info.begin());
  entry.key = key;
  entry.expiry = now + ttl_;

  std::lock_guard<std::mutex> lock(mu_);
  // One pass over every entry per TTL keeps the work per set constant on
  // average, and no entry outlives twice the TTL.
  if (now - last_sweep_ >= ttl_) {
    std::erase_if(entries_, [now](const auto& item) {
      return now >= item.second.expiry;
    });
    last_sweep_ = now;
  }
  entries_.insert_or_assign(etcd_key, entry);
}

void DerivedKeyCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

size_t DerivedKeyCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace apiserver
