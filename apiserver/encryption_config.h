// EncryptionConfiguration: the kube-apiserver file (apiVersion
// apiserver.config.k8s.io/v1) that lists which providers encrypt which
// resources, loaded into TransformerChains.
//
// Example:
//
//   apiVersion: apiserver.config.k8s.io/v1
//   kind: EncryptionConfiguration
//   resources:
//     - resources: [secrets]
//       providers:
//         - kms:
//             apiVersion: v2
//             name: key-protect
//             endpoint: unix:///var/run/kp.sock
//         - identity: {}
//
// Supported providers and their stored prefixes: identity (none), aescbc
// ("k8s:enc:aescbc:v1:<key name>:"), aesgcm ("k8s:enc:aesgcm:v1:<key
// name>:") and kms with apiVersion v2 ("k8s:enc:kms:v2:<provider name>:").
// Every key of aescbc and aesgcm becomes its own provider, in order.
// secretbox and kms v1 are rejected because this build has no XSalsa20-
// Poly1305 (libsodium) and no KMS v1 envelope.
#ifndef APISERVER_ENCRYPTION_CONFIG_H_
#define APISERVER_ENCRYPTION_CONFIG_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "apiserver/kms_client.h"
#include "apiserver/transformer.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"

namespace apiserver {

// One kms provider entry of the file.
struct KmsProviderConfig {
  std::string name;
  std::string endpoint;
  std::string api_version;  // "v2"
  base::Duration timeout = std::chrono::seconds(3);
};

// Returns the client that a kms provider entry names; the loader fails with
// its error.
using KmsClientFactory =
    std::function<base::StatusOr<std::shared_ptr<KmsClient>>(
        const KmsProviderConfig&)>;

struct EncryptionConfig {
  // Chains by resource as written in the file: "secrets", "configmaps",
  // "*." (every core resource) or "*.*" (every resource).
  std::map<std::string, std::shared_ptr<Transformer>> transformers;
  // The KMS v2 providers by name, for health checks and statistics.
  std::map<std::string, std::shared_ptr<KmsV2Transformer>> kms_providers;

  // Returns the chain for a core resource such as "secrets": its own entry,
  // else "*.", else "*.*", else identity.
  std::shared_ptr<Transformer> ForResource(const std::string& resource) const;
};

// Parses and validates the YAML text. Fails with kInvalidArgument and
// upstream's field errors, for example `resources[0].providers[0].aescbc.
// keys[0].secret: Invalid value: "REDACTED": secret is not of the expected
// length, got 9, expected one of [16 24 32]`.
base::StatusOr<EncryptionConfig> ParseEncryptionConfig(
    const std::string& yaml, const KmsClientFactory& kms_clients,
    base::Clock& clock, base::Random& random);

// Reads the file at `path` and parses it; kNotFound when it cannot be read.
base::StatusOr<EncryptionConfig> LoadEncryptionConfigFile(
    const std::string& path, const KmsClientFactory& kms_clients,
    base::Clock& clock, base::Random& random);

}  // namespace apiserver

#endif  // APISERVER_ENCRYPTION_CONFIG_H_
