// Random: the injected source of randomness (keys, nonces, ids, jitter).
//
// Replays use SeededRandom so that the same seed yields the same keys,
// ciphertexts and event log byte for byte; servers use SecureRandom.
// Both are thread-safe.
#ifndef BASE_RANDOM_H_
#define BASE_RANDOM_H_

#include <cstdint>
#include <mutex>
#include <string>

namespace base {

class Random {
 public:
  virtual ~Random() = default;
  // Returns `n` random bytes.
  virtual std::string Bytes(size_t n) = 0;

  // Returns a uniformly distributed integer in [0, bound). REQUIRES: bound>0.
  uint64_t Uniform(uint64_t bound);
  // Returns a random RFC 4122 version-4 UUID in lower-case text form.
  std::string Uuid();
};

// OpenSSL's RAND_bytes.
class SecureRandom : public Random {
 public:
  std::string Bytes(size_t n) override;
};

// A deterministic stream: SHA-256 over (seed, counter) blocks.
class SeededRandom : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : seed_(seed) {}
  std::string Bytes(size_t n) override;

 private:
  const uint64_t seed_;
  std::mutex mu_;
  uint64_t counter_ = 0;  // guarded by mu_
};

}  // namespace base

#endif  // BASE_RANDOM_H_
