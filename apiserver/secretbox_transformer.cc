// The secretbox provider: XSalsa20-Poly1305 from libsodium, which is the
// construction of Go's golang.org/x/crypto/nacl/secretbox that upstream
// uses, so values are byte-compatible.
#include <sodium.h>

#include <memory>
#include <string>
#include <utility>

#include "apiserver/transformer.h"

namespace apiserver {
namespace {

const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

class SecretboxTransformer : public Transformer {
 public:
  SecretboxTransformer(std::string prefix, std::string key,
                       base::Random& random)
      : prefix_(std::move(prefix)), key_(std::move(key)), random_(random) {}

  // Secretbox has no associated data, so unlike aesgcm a value copied to
  // another etcd key still decrypts, as upstream.
  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key) override {
    const std::string nonce = random_.Bytes(crypto_secretbox_NONCEBYTES);
    std::string sealed(data.size() + crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_easy(reinterpret_cast<unsigned char*>(sealed.data()),
                              Bytes(data), data.size(), Bytes(nonce),
                              Bytes(key_)) != 0) {
      return base::InternalError("secretbox encryption failed in libsodium");
    }
    return prefix_ + nonce + sealed;
  }

  // Returns upstream's messages, including its odd one for a failed
  // authentication.
  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key) override {
    if (!stored.starts_with(prefix_)) {
      return base::InvalidArgumentError("no matching prefix found");
    }
    std::string_view data(stored);
    data.remove_prefix(prefix_.size());
    if (data.size() < crypto_secretbox_MACBYTES + crypto_secretbox_NONCEBYTES) {
      return base::InvalidArgumentError(
          "the stored data was shorter than the required size");
    }
    const std::string_view nonce = data.substr(0, crypto_secretbox_NONCEBYTES);
    data.remove_prefix(crypto_secretbox_NONCEBYTES);
    std::string plain(data.size() - crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_open_easy(
            reinterpret_cast<unsigned char*>(plain.data()), Bytes(data),
            data.size(), Bytes(nonce), Bytes(key_)) != 0) {
      return base::InvalidArgumentError(
          "output array was not large enough for encryption");
    }
    return ReadResult{std::move(plain), false};
  }

 private:
  const std::string prefix_;
  const std::string key_;
  base::Random& random_;
};

}  // namespace

base::StatusOr<std::shared_ptr<Transformer>> NewSecretboxTransformer(
    std::string prefix, std::string key, base::Random& random) {
  if (key.size() != crypto_secretbox_KEYBYTES) {
    return base::InvalidArgumentError(
        "secretbox key must be " + std::to_string(crypto_secretbox_KEYBYTES) +
        " bytes, got " + std::to_string(key.size()));
  }
  if (sodium_init() < 0) {
    return base::InternalError("libsodium failed to initialize");
  }
  return std::shared_ptr<Transformer>(std::make_shared<SecretboxTransformer>(
      std::move(prefix), std::move(key), random));
}

}  // namespace apiserver
