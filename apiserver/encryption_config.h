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
// name>:"), secretbox ("k8s:enc:secretbox:v1:<key name>:") and kms with
// apiVersion v2 ("k8s:enc:kms:v2:<provider name>:"). Every key of aescbc,
// aesgcm and secretbox becomes its own provider, in order. kms v1 is
// rejected because this build has no KMS v1 envelope.
#ifndef APISERVER_ENCRYPTION_CONFIG_H_
#define APISERVER_ENCRYPTION_CONFIG_H_

#include <chrono>
#include <cstdint>
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

// Reloads an EncryptionConfiguration file when its content changes, as
// kube-apiserver's --encryption-provider-config-automatic-reload does. Every
// minute of `clock` time it hashes the file (SHA-256). When the hash differs
// from the loaded one, it parses the file and checks that each new KMS v2
// provider is healthy. A valid file becomes the current configuration and
// is passed to `on_change`. An invalid, unreadable or unhealthy one is
// logged and counted as a failure, and the current configuration stays.
//
// Thread-safe. The clock and random source must outlive the reloader.
class EncryptionConfigReloader {
 public:
  using OnChange = std::function<void(std::shared_ptr<const EncryptionConfig>)>;

  struct Stats {
    int64_t successes = 0;   // reloads that replaced the configuration
    int64_t failures = 0;    // checks that found a changed file but failed
    std::string hash;        // hex SHA-256 of the current configuration's file
    std::string last_error;  // of the last failed check; empty after success
  };

  // Loads the file (failing as LoadEncryptionConfigFile does) without
  // calling `on_change`, then starts the timer.
  static base::StatusOr<std::unique_ptr<EncryptionConfigReloader>> Start(
      std::string path, KmsClientFactory kms_clients, base::Clock& clock,
      base::Random& random, OnChange on_change,
      base::Duration interval = std::chrono::minutes(1));

  ~EncryptionConfigReloader();  // stops the timer
  EncryptionConfigReloader(const EncryptionConfigReloader&) = delete;
  EncryptionConfigReloader& operator=(const EncryptionConfigReloader&) = delete;

  std::shared_ptr<const EncryptionConfig> current() const;
  // Checks the file now, as the timer does, and keeps the timer's schedule.
  // Returns OK when the file is unchanged or was reloaded, else why the
  // reload failed, such as `health check for new transformers failed:
  // kmsv2 Provider kp is not healthy, error: ...`.
  base::Status CheckNow();
  Stats stats() const;

 private:
  struct Core;
  explicit EncryptionConfigReloader(std::shared_ptr<Core> core);

  std::shared_ptr<Core> core_;
};

}  // namespace apiserver

#endif  // APISERVER_ENCRYPTION_CONFIG_H_
