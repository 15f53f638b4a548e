// The aescbc and aesgcm providers.
//
// NOTE: base/crypto.h offers only AES-256-GCM, but upstream's providers also
// take 16- and 24-byte keys and aescbc needs CBC, so this file calls OpenSSL
// EVP directly.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <utility>

#include "apiserver/static_key_transformer_internal.h"
#include "apiserver/transformer.h"
#include "base/crypto.h"

namespace apiserver {
namespace {

using internal::Bytes;
using internal::StaticKeyTransformer;

constexpr size_t kAesBlockSize = 16;

using CipherContext =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

unsigned char* MutableBytes(std::string& text) {
  return reinterpret_cast<unsigned char*>(text.data());
}

const EVP_CIPHER* CbcCipher(size_t key_size) {
  switch (key_size) {
    case 16:
      return EVP_aes_128_cbc();
    case 24:
      return EVP_aes_192_cbc();
    case 32:
      return EVP_aes_256_cbc();
    default:
      return nullptr;
  }
}

const EVP_CIPHER* GcmCipher(size_t key_size) {
  switch (key_size) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return nullptr;
  }
}

base::Status InvalidKeySize(size_t size) {
  return base::InvalidArgumentError("crypto/aes: invalid key size " +
                                    std::to_string(size));
}

// Runs AES-CBC without OpenSSL's padding; the callers pad and unpad.
base::StatusOr<std::string> CbcCrypt(const std::string& key,
                                     std::string_view iv,
                                     std::string_view input, bool encrypt) {
  CipherContext context(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string output(input.size(), '\0');
  int length = 0;
  if (!context ||
      EVP_CipherInit_ex(context.get(), CbcCipher(key.size()), nullptr,
                        Bytes(key), Bytes(iv), encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(context.get(), 0) != 1 ||
      EVP_CipherUpdate(context.get(), MutableBytes(output), &length,
                       Bytes(input), static_cast<int>(input.size())) != 1) {
    return base::InternalError("AES-CBC failed in OpenSSL");
  }
  return output;
}

class AesCbcTransformer : public StaticKeyTransformer {
 public:
  AesCbcTransformer(std::string prefix, std::string key, base::Random& random)
      : StaticKeyTransformer(std::move(prefix), std::move(key), random,
                             kAesBlockSize) {}

 protected:
  base::StatusOr<std::string> Seal(const std::string& data,
                                   const std::string& etcd_key) override {
    const size_t padding = kAesBlockSize - data.size() % kAesBlockSize;
    const std::string padded =
        data + std::string(padding, static_cast<char>(padding));
    const std::string iv = random().Bytes(kAesBlockSize);
    ASSIGN_OR_RETURN(std::string encrypted, CbcCrypt(key(), iv, padded, true));
    return iv + encrypted;
  }

  // Returns upstream's messages for each way a value can be malformed.
  base::StatusOr<std::string> Open(std::string_view data,
                                   const std::string& etcd_key) override {
    const std::string_view iv = data.substr(0, kAesBlockSize);
    data.remove_prefix(kAesBlockSize);
    if (data.size() % kAesBlockSize != 0) {
      return base::InvalidArgumentError(
          "the stored data is not a multiple of the block size");
    }
    ASSIGN_OR_RETURN(std::string plain, CbcCrypt(key(), iv, data, false));

    const size_t padding =
        plain.empty() ? 0 : static_cast<unsigned char>(plain.back());
    if (padding == 0 || padding > plain.size()) {
      return base::InvalidArgumentError(
          "invalid PKCS7 data (empty or not padded)");
    }
    for (size_t i = plain.size() - padding; i < plain.size(); ++i) {
      if (static_cast<unsigned char>(plain[i]) != padding) {
        return base::InvalidArgumentError("invalid padding on input");
      }
    }
    plain.resize(plain.size() - padding);
    return plain;
  }
};

class AesGcmTransformer : public StaticKeyTransformer {
 public:
  AesGcmTransformer(std::string prefix, std::string key, base::Random& random)
      : StaticKeyTransformer(std::move(prefix), std::move(key), random,
                             base::kGcmNonceSize + base::kGcmTagSize) {}

 protected:
  base::StatusOr<std::string> Seal(const std::string& data,
                                   const std::string& etcd_key) override {
    const std::string nonce = random().Bytes(base::kGcmNonceSize);
    CipherContext context(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    std::string sealed(data.size() + base::kGcmTagSize, '\0');
    int length = 0;
    if (!context ||
        EVP_EncryptInit_ex(context.get(), GcmCipher(key().size()), nullptr,
                           Bytes(key()), Bytes(nonce)) != 1 ||
        EVP_EncryptUpdate(context.get(), nullptr, &length, Bytes(etcd_key),
                          static_cast<int>(etcd_key.size())) != 1 ||
        EVP_EncryptUpdate(context.get(), MutableBytes(sealed), &length,
                          Bytes(data), static_cast<int>(data.size())) != 1 ||
        EVP_EncryptFinal_ex(context.get(), MutableBytes(sealed) + length,
                            &length) != 1 ||
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG,
                            base::kGcmTagSize,
                            MutableBytes(sealed) + data.size()) != 1) {
      return base::InternalError("AES-GCM encryption failed in OpenSSL");
    }
    return nonce + sealed;
  }

  base::StatusOr<std::string> Open(std::string_view data,
                                   const std::string& etcd_key) override {
    const std::string_view nonce = data.substr(0, base::kGcmNonceSize);
    const std::string_view body =
        data.substr(base::kGcmNonceSize,
                    data.size() - base::kGcmNonceSize - base::kGcmTagSize);
    std::string tag(data.substr(data.size() - base::kGcmTagSize));

    CipherContext context(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    std::string plain(body.size(), '\0');
    int length = 0;
    if (!context ||
        EVP_DecryptInit_ex(context.get(), GcmCipher(key().size()), nullptr,
                           Bytes(key()), Bytes(nonce)) != 1 ||
        EVP_DecryptUpdate(context.get(), nullptr, &length, Bytes(etcd_key),
                          static_cast<int>(etcd_key.size())) != 1 ||
        EVP_DecryptUpdate(context.get(), MutableBytes(plain), &length,
                          Bytes(body), static_cast<int>(body.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG,
                            base::kGcmTagSize, tag.data()) != 1) {
      return base::InternalError("AES-GCM decryption failed in OpenSSL");
    }
    if (EVP_DecryptFinal_ex(context.get(), MutableBytes(plain) + length,
                            &length) != 1) {
      return base::InvalidArgumentError(
          "cipher: message authentication failed");
    }
    return plain;
  }
};

}  // namespace

base::StatusOr<std::shared_ptr<Transformer>> NewAesCbcTransformer(
    std::string prefix, std::string key, base::Random& random) {
  if (CbcCipher(key.size()) == nullptr) return InvalidKeySize(key.size());
  return std::shared_ptr<Transformer>(std::make_shared<AesCbcTransformer>(
      std::move(prefix), std::move(key), random));
}

base::StatusOr<std::shared_ptr<Transformer>> NewAesGcmTransformer(
    std::string prefix, std::string key, base::Random& random) {
  if (GcmCipher(key.size()) == nullptr) return InvalidKeySize(key.size());
  return std::shared_ptr<Transformer>(std::make_shared<AesGcmTransformer>(
      std::move(prefix), std::move(key), random));
}

}  // namespace apiserver
