// Value transformers: how an object's bytes are encrypted at rest, as the
// EncryptionConfiguration providers of kube-apiserver do it.
//
// A TransformerChain holds providers in configuration order: the first one
// writes; a read tries every provider whose prefix matches the stored value,
// in order. Identity matches any value that has no known prefix.
//
// Every transformer takes and returns complete stored values: ToStorage
// output starts with the transformer's own prefix ("k8s:enc:kms:v2:<name>:"),
// and FromStorage expects it. Provider::prefix is only what a chain matches
// on reads, so a transformer works the same inside a chain and alone.
//
// The KMS v2 provider follows upstream Kubernetes: one 32-byte DEK seed per
// KMS key_id, wrapped once through the KmsClient; each write derives its own
// AES-256-GCM key with HKDF-SHA256 over the seed and 32 random info bytes,
// uses a random 12-byte nonce and the etcd key as associated data, and stores
// "k8s:enc:kms:v2:<name>:" followed by an EncryptedObject in protobuf.
//
// Transformers are thread-safe.
#ifndef APISERVER_TRANSFORMER_H_
#define APISERVER_TRANSFORMER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/kms_client.h"
#include "apiserver/metrics.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"

namespace apiserver {

struct ReadResult {
  std::string data;
  // True when the value should be rewritten: it was read by a provider other
  // than the first, or under a KMS key_id other than the current one.
  bool stale = false;
};

class Transformer {
 public:
  virtual ~Transformer() = default;
  // Encrypts `data` for storage under etcd key `etcd_key` (the AAD).
  virtual base::StatusOr<std::string> ToStorage(
      const std::string& data, const std::string& etcd_key) = 0;
  // Decrypts a stored value. Fails with the cause text that the API server
  // wraps into `unable to transform key "<etcd key>": <cause>`.
  virtual base::StatusOr<ReadResult> FromStorage(
      const std::string& stored, const std::string& etcd_key) = 0;
};

// Counters of a KMS v2 provider, for metrics and scenario expectations.
// encrypt_calls counts DEK seeds wrapped; decrypt_calls counts unwraps on
// cache misses; status_calls counts status probes. All three count failed
// calls too.
struct KmsV2Stats {
  int64_t dek_cache_hits = 0;
  int64_t dek_cache_misses = 0;
  int64_t encrypt_calls = 0;
  int64_t decrypt_calls = 0;
  int64_t status_calls = 0;
  // Reads of HKDF_SHA256_XNONCE_AES_GCM_SEED values whose AES-GCM key came
  // from the derived-key cache, and reads that derived it with HKDF.
  int64_t derived_key_cache_hits = 0;
  int64_t derived_key_cache_misses = 0;
  // Latency in seconds of every KMS call, by upstream's gRPC method name
  // ("/v2.KeyManagementService/Encrypt", ".../Decrypt", ".../Status") and
  // result as a gRPC status code name ("OK", "Unavailable", ...). An
  // unhealthy status response counts as "Unavailable".
  std::map<std::pair<std::string, std::string>, Histogram> operations;
};

// The KMS v2 provider. It learns the current key_id from KmsClient::Status:
// once in the constructor, then on a clock timer every minute, and every 10 s
// while the KMS is unhealthy. A key_id change makes it wrap a new DEK seed.
// Writes use the current seed until 3 minutes after the last healthy status
// (or successful wrap) and then fail with `encryptedDEKSource with keyID hash
// "sha256:..." expired at <time> (current time is <time>)`. Until the first
// healthy status both reads and writes fail with `got unexpected nil
// transformer`, as upstream. Reads that miss the seed cache call
// KmsClient::Decrypt; the cache never expires. As upstream, each seed also
// caches the AES-GCM key derived for each etcd key, by a write or a read,
// for 10 minutes on the clock (see derived_key_cache.h).
class KmsV2Transformer : public Transformer {
 public:
  // `name` is the provider name in the stored prefix. The client must be
  // thread-safe; the clock and random source must outlive the transformer.
  KmsV2Transformer(std::string name, std::shared_ptr<KmsClient> client,
                   base::Clock& clock, base::Random& random);
  ~KmsV2Transformer() override;

  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key) override;
  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key) override;

  const std::string& name() const;
  std::string prefix() const;  // "k8s:enc:kms:v2:<name>:"
  KmsV2Stats stats() const;
  // Drops every cached DEK seed used for reads and every derived key, as a
  // restart of the API server does, so the next read of each seed calls
  // KmsClient::Decrypt. The seed used for writes stays; a new transformer
  // models a full restart.
  void ClearCache();

  // Runs the status probe now (the timer keeps its schedule) and returns
  // its result, as Health() does afterwards.
  base::Status ProbeNow();
  // The result of the last status probe: OK when the KMS was healthy and the
  // DEK seed is current, else kUnavailable with upstream's healthz text
  // `kmsv2 Provider <name> is not healthy, error: <cause>`.
  base::Status Health() const;
  // The key_id that writes use; empty before the first healthy status.
  std::string current_key_id() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One provider of a chain: its stored prefix ("" for identity) and code.
struct Provider {
  std::string prefix;
  std::shared_ptr<Transformer> transformer;
};

// A read that no provider decrypts fails with the provider's error (several
// as "[e1, e2]"), or with "no matching prefix found" when no prefix matched.
class TransformerChain : public Transformer {
 public:
  // REQUIRES: !providers.empty().
  explicit TransformerChain(std::vector<Provider> providers);

  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key) override;
  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key) override;

 private:
  const std::vector<Provider> providers_;
};

// The aescbc and aesgcm providers of upstream with one key each: AES-CBC
// with a random 16-byte IV and PKCS#7 padding, or AES-GCM with a random
// 12-byte nonce and the etcd key as associated data. The stored value is
// `prefix` ("k8s:enc:aescbc:v1:<key name>:" or "k8s:enc:aesgcm:v1:<key
// name>:") followed by the IV or nonce and the ciphertext. Keys are 16, 24
// or 32 bytes; other sizes fail with kInvalidArgument.
base::StatusOr<std::shared_ptr<Transformer>> NewAesCbcTransformer(
    std::string prefix, std::string key, base::Random& random);
base::StatusOr<std::shared_ptr<Transformer>> NewAesGcmTransformer(
    std::string prefix, std::string key, base::Random& random);

// The secretbox provider of upstream with one 32-byte key: XSalsa20-Poly1305
// with a random 24-byte nonce and no associated data. The stored value is
// `prefix` ("k8s:enc:secretbox:v1:<key name>:") followed by the nonce, the
// Poly1305 tag and the ciphertext. Other key sizes fail with
// kInvalidArgument.
base::StatusOr<std::shared_ptr<Transformer>> NewSecretboxTransformer(
    std::string prefix, std::string key, base::Random& random);

// The identity provider: stores the bytes as they are, and rejects values
// that start with "k8s:enc:" on reads.
std::shared_ptr<Transformer> NewIdentityTransformer();

}  // namespace apiserver

#endif  // APISERVER_TRANSFORMER_H_
