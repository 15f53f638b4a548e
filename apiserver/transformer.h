// Value transformers: how an object's bytes are encrypted at rest, as the
// EncryptionConfiguration providers of kube-apiserver do it.
//
// A TransformerChain holds providers in configuration order: the first one
// writes; a read tries every provider whose prefix matches the stored value,
// in order. Identity matches any value that has no known prefix.
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
#include <memory>
#include <string>
#include <vector>

#include "apiserver/kms_client.h"
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
struct KmsV2Stats {
  int64_t dek_cache_hits = 0;
  int64_t dek_cache_misses = 0;
  int64_t encrypt_calls = 0;
  int64_t decrypt_calls = 0;
};

class KmsV2Transformer : public Transformer {
 public:
  // `name` is the provider name in the stored prefix.
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
  // Drops every cached DEK seed, as a restart of the API server does.
  void ClearCache();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One provider of a chain: its stored prefix ("" for identity) and code.
struct Provider {
  std::string prefix;
  std::shared_ptr<Transformer> transformer;
};

class TransformerChain : public Transformer {
 public:
  explicit TransformerChain(std::vector<Provider> providers);

  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key) override;
  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key) override;

 private:
  const std::vector<Provider> providers_;
};

// The identity provider: stores the bytes as they are.
std::shared_ptr<Transformer> NewIdentityTransformer();

}  // namespace apiserver

#endif  // APISERVER_TRANSFORMER_H_
