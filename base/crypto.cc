#include "base/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <memory>

namespace base {
namespace {

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status CheckKeyAndNonce(std::string_view key, std::string_view nonce) {
  if (key.size() != kAes256KeySize) {
    return InvalidArgumentError("AES-256 key must be 32 bytes, got " +
                                std::to_string(key.size()));
  }
  if (nonce.size() != kGcmNonceSize) {
    return InvalidArgumentError("GCM nonce must be 12 bytes, got " +
                                std::to_string(nonce.size()));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::string> AesGcmSeal(std::string_view key, std::string_view nonce,
                                 std::string_view plaintext,
                                 std::string_view aad) {
  RETURN_IF_ERROR(CheckKeyAndNonce(key, nonce));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(plaintext.size() + kGcmTagSize, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key),
                         U(nonce)) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), dst, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), dst + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                          dst + plaintext.size()) != 1) {
    return InternalError("AES-GCM encryption failed in OpenSSL");
  }
  return out;
}

StatusOr<std::string> AesGcmOpen(std::string_view key, std::string_view nonce,
                                 std::string_view sealed,
                                 std::string_view aad) {
  RETURN_IF_ERROR(CheckKeyAndNonce(key, nonce));
  if (sealed.size() < kGcmTagSize) {
    return InvalidArgumentError("ciphertext is shorter than the GCM tag");
  }
  size_t body = sealed.size() - kGcmTagSize;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(body, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  std::string tag(sealed.substr(body));
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key),
                         U(nonce)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, U(sealed),
                        static_cast<int>(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize,
                          tag.data()) != 1) {
    return InternalError("AES-GCM decryption failed in OpenSSL");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) != 1) {
    return InvalidArgumentError("cipher: message authentication failed");
  }
  return out;
}

StatusOr<std::string> HkdfSha256(std::string_view secret, std::string_view salt,
                                 std::string_view info, size_t length) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(
      EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(
      kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr, EVP_KDF_CTX_free);
  if (!ctx) return InternalError("HKDF is not available in OpenSSL");

  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<char*>(secret.data()), secret.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();

  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                     length, params) != 1) {
    return InternalError("HKDF derivation failed in OpenSSL");
  }
  return out;
}

StatusOr<std::string> HkdfSha256Expand(std::string_view prk,
                                       std::string_view info, size_t length) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(
      EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(
      kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr, EVP_KDF_CTX_free);
  if (!ctx) return InternalError("HKDF is not available in OpenSSL");

  char digest[] = "SHA256";
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<char*>(prk.data()), prk.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                     length, params) != 1) {
    return InternalError("HKDF expansion failed in OpenSSL");
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          U(bytes), static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  auto is_b64 = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  };
  if (text.size() % 4 != 0) {
    return InvalidArgumentError("illegal base64 data: length " +
                                std::to_string(text.size()) +
                                " is not a multiple of 4");
  }
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) {
        return InvalidArgumentError("illegal base64 data at input byte " +
                                    std::to_string(i));
      }
      ++padding;
    } else if (!is_b64(c) || padding > 0) {
      return InvalidArgumentError("illegal base64 data at input byte " +
                                  std::to_string(i));
    }
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), U(text),
                          static_cast<int>(text.size()));
  if (n < 0) return InvalidArgumentError("illegal base64 data");
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(U(bytes), bytes.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace base
