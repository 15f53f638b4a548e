#include "apiserver/kms_client.h"

#include <string_view>
#include <utility>

namespace apiserver {
namespace {

class KeyServiceKmsClient : public KmsClient {
 public:
  KeyServiceKmsClient(kms::KeyService& service, std::string instance_id,
                      std::string key_id)
      : service_(service),
        instance_id_(std::move(instance_id)),
        key_id_(std::move(key_id)) {}

  base::StatusOr<KmsEncryptResponse> Encrypt(
      const std::string& uid, const std::string& plaintext) override {
    ASSIGN_OR_RETURN(kms::WrapResult wrapped,
                     service_.Wrap(instance_id_, key_id_, plaintext));
    KmsEncryptResponse response;
    response.ciphertext = std::move(wrapped.ciphertext);
    response.key_id = VersionedKeyId(wrapped.key_version_id);
    return response;
  }

  base::StatusOr<std::string> Decrypt(const std::string& uid,
                                      const std::string& ciphertext,
                                      const std::string& key_id) override {
    // A key_id of another root key cannot unwrap here, so reject it with a
    // message that names both keys.
    if (!key_id.starts_with(key_id_ + ":")) {
      return base::InvalidArgumentError("key_id \"" + key_id +
                                        "\" does not belong to root key \"" +
                                        key_id_ + "\"");
    }
    ASSIGN_OR_RETURN(kms::UnwrapResult unwrapped,
                     service_.Unwrap(instance_id_, key_id_, ciphertext));
    return std::move(unwrapped.plaintext);
  }

  KmsStatusResponse Status() override {
    KmsStatusResponse response;
    base::StatusOr<kms::KeyStateInfo> key =
        service_.GetKeyState(instance_id_, key_id_);
    if (!key.ok()) {
      response.error = key.status().message();
      return response;
    }
    response.key_id = VersionedKeyId(key->newest_version_id);
    if (key->state != kms::KeyState::kActive) {
      response.error = "root key " + key_id_ + " is " +
                       std::string(kms::KeyStateName(key->state)) +
                       ", not Active";
      return response;
    }
    response.healthy = true;
    return response;
  }

 private:
  std::string VersionedKeyId(std::string_view version_id) const {
    return key_id_ + ":" + std::string(version_id);
  }

  kms::KeyService& service_;
  const std::string instance_id_;
  const std::string key_id_;
};

}  // namespace

std::unique_ptr<KmsClient> NewKeyServiceKmsClient(kms::KeyService& service,
                                                  std::string instance_id,
                                                  std::string key_id) {
  return std::make_unique<KeyServiceKmsClient>(service, std::move(instance_id),
                                               std::move(key_id));
}

}  // namespace apiserver
