// The secretbox provider: XSalsa20-Poly1305 from libsodium, which is the
// construction of Go's golang.org/x/crypto/nacl/secretbox that upstream
// uses, so values are byte-compatible.
#include <sodium.h>

#include <memory>
#include <string>
#include <utility>

#include "apiserver/static_key_transformer_internal.h"
#include "apiserver/transformer.h"

namespace apiserver {
namespace {

using internal::Bytes;

class SecretboxTransformer : public internal::StaticKeyTransformer {
 public:
  SecretboxTransformer(std::string prefix, std::string key,
                       base::Random& random)
      : StaticKeyTransformer(
            std::move(prefix), std::move(key), random,
            crypto_secretbox_MACBYTES + crypto_secretbox_NONCEBYTES) {}

 protected:
  // Secretbox has no associated data, so unlike aesgcm a value copied to
  // another etcd key still decrypts, as upstream.
  base::StatusOr<std::string> Seal(const std::string& data,
                                   const std::string& etcd_key) override {
    const std::string nonce = random().Bytes(crypto_secretbox_NONCEBYTES);
    std::string sealed(data.size() + crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_easy(reinterpret_cast<unsigned char*>(sealed.data()),
                              Bytes(data), data.size(), Bytes(nonce),
                              Bytes(key())) != 0) {
      return base::InternalError("secretbox encryption failed in libsodium");
    }
    return nonce + sealed;
  }

  // Fails a forged or corrupted value with upstream's message, odd as it is.
  base::StatusOr<std::string> Open(std::string_view data,
                                   const std::string& etcd_key) override {
    const std::string_view nonce = data.substr(0, crypto_secretbox_NONCEBYTES);
    data.remove_prefix(crypto_secretbox_NONCEBYTES);
    std::string plain(data.size() - crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_open_easy(
            reinterpret_cast<unsigned char*>(plain.data()), Bytes(data),
            data.size(), Bytes(nonce), Bytes(key())) != 0) {
      return base::InvalidArgumentError(
          "output array was not large enough for encryption");
    }
    return plain;
  }
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
