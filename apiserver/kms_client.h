// KmsClient: how the API server reaches a KMS, shaped like the KMS v2 plugin
// API of Kubernetes (Encrypt, Decrypt, Status).
//
// Two implementations: KeyServiceKmsClient calls a kms::KeyService in
// process; the HTTP client for a Key Protect-compatible server is in
// apiserver/kms_http_client.h (library apiserver_http). Implementations are
// thread-safe.
#ifndef APISERVER_KMS_CLIENT_H_
#define APISERVER_KMS_CLIENT_H_

#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "kms-mock/kms.h"

namespace apiserver {

struct KmsEncryptResponse {
  std::string ciphertext;
  // Identifies the key (and version) that encrypted; a change of key_id
  // makes stored objects stale.
  std::string key_id;
  std::map<std::string, std::string> annotations;
};

struct KmsStatusResponse {
  bool healthy = false;
  std::string version = "v2";
  std::string key_id;
  std::string error;  // why it is unhealthy; empty when healthy
};

class KmsClient {
 public:
  virtual ~KmsClient() = default;
  virtual base::StatusOr<KmsEncryptResponse> Encrypt(
      const std::string& uid, const std::string& plaintext) = 0;
  virtual base::StatusOr<std::string> Decrypt(const std::string& uid,
                                              const std::string& ciphertext,
                                              const std::string& key_id) = 0;
  virtual KmsStatusResponse Status() = 0;
};

// Uses one root key of a kms::KeyService. key_id is "<key id>:<version id>",
// so a rotation inside the KMS changes it.
std::unique_ptr<KmsClient> NewKeyServiceKmsClient(kms::KeyService& service,
                                                  std::string instance_id,
                                                  std::string key_id);

}  // namespace apiserver

#endif  // APISERVER_KMS_CLIENT_H_
