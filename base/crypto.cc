#include "base/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <memory>

namespace base {
namespace {

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status CheckKey(std::string_view key) {
  if (key.size() != kAes256KeySize) {
    return InvalidArgumentError("AES-256 key must be 32 bytes, got " +
                                std::to_string(key.size()));
  }
  return OkStatus();
}

Status CheckNonce(std::string_view nonce) {
  if (nonce.size() != kGcmNonceSize) {
    return InvalidArgumentError("GCM nonce must be 12 bytes, got " +
                                std::to_string(nonce.size()));
  }
  return OkStatus();
}

// AES-256-GCM from the default provider, fetched once for the process and
// never freed. EVP_aes_256_gcm() would make OpenSSL 3 look the cipher up
// in its method store again on every initialization.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher =
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// HKDF from the default provider, fetched once like the cipher.
EVP_KDF* Hkdf() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

// A context bound to AES-256-GCM with no key yet, or null when OpenSSL
// cannot provide one.
CipherCtx NewGcmContext() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx || Aes256Gcm() == nullptr ||
      EVP_CipherInit_ex2(ctx.get(), Aes256Gcm(), nullptr, nullptr, 1,
                         nullptr) != 1) {
    return CipherCtx(nullptr, EVP_CIPHER_CTX_free);
  }
  return ctx;
}

// The calling thread's context for the one-shot functions. Passing no
// cipher to EVP_CipherInit_ex2 later keeps OpenSSL's per-context state
// allocated, so a call only sets the key and the nonce.
EVP_CIPHER_CTX* ThreadGcmContext() {
  thread_local CipherCtx ctx = NewGcmContext();
  return ctx.get();
}

// Seals with `ctx`. A non-null `key` replaces the context's key first.
// REQUIRES: the nonce is 12 bytes.
StatusOr<std::string> Seal(EVP_CIPHER_CTX* ctx, const unsigned char* key,
                           std::string_view nonce, std::string_view plaintext,
                           std::string_view aad) {
  std::string out(plaintext.size() + kGcmTagSize, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  if (ctx == nullptr ||
      EVP_CipherInit_ex2(ctx, nullptr, key, U(nonce), 1, nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, U(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx, dst, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, dst + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                          dst + plaintext.size()) != 1) {
    return InternalError("AES-GCM encryption failed in OpenSSL");
  }
  return out;
}

// Opens with `ctx` as Seal does. REQUIRES: the nonce is 12 bytes.
StatusOr<std::string> Open(EVP_CIPHER_CTX* ctx, const unsigned char* key,
                           std::string_view nonce, std::string_view sealed,
                           std::string_view aad) {
  if (sealed.size() < kGcmTagSize) {
    return InvalidArgumentError("ciphertext is shorter than the GCM tag");
  }
  size_t body = sealed.size() - kGcmTagSize;
  std::string out(body, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  std::array<unsigned char, kGcmTagSize> tag;
  std::memcpy(tag.data(), sealed.data() + body, kGcmTagSize);
  if (ctx == nullptr ||
      EVP_CipherInit_ex2(ctx, nullptr, key, U(nonce), 0, nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, U(aad),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx, dst, &len, U(sealed), static_cast<int>(body)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag.data()) !=
          1) {
    return InternalError("AES-GCM decryption failed in OpenSSL");
  }
  if (EVP_DecryptFinal_ex(ctx, dst + len, &len) != 1) {
    return InvalidArgumentError("cipher: message authentication failed");
  }
  return out;
}

}  // namespace

StatusOr<std::string> AesGcmSeal(std::string_view key, std::string_view nonce,
                                 std::string_view plaintext,
                                 std::string_view aad) {
  RETURN_IF_ERROR(CheckKey(key));
  RETURN_IF_ERROR(CheckNonce(nonce));
  return Seal(ThreadGcmContext(), U(key), nonce, plaintext, aad);
}

StatusOr<std::string> AesGcmOpen(std::string_view key, std::string_view nonce,
                                 std::string_view sealed,
                                 std::string_view aad) {
  RETURN_IF_ERROR(CheckKey(key));
  RETURN_IF_ERROR(CheckNonce(nonce));
  return Open(ThreadGcmContext(), U(key), nonce, sealed, aad);
}

struct AesGcmKey::Context {
  CipherCtx ctx{nullptr, EVP_CIPHER_CTX_free};
};

AesGcmKey::AesGcmKey(std::unique_ptr<Context> context)
    : context_(std::move(context)) {}
AesGcmKey::AesGcmKey(AesGcmKey&&) noexcept = default;
AesGcmKey& AesGcmKey::operator=(AesGcmKey&&) noexcept = default;
AesGcmKey::~AesGcmKey() = default;

StatusOr<AesGcmKey> AesGcmKey::Create(std::string_view key) {
  RETURN_IF_ERROR(CheckKey(key));
  auto context = std::make_unique<Context>();
  context->ctx = NewGcmContext();
  if (!context->ctx || EVP_CipherInit_ex2(context->ctx.get(), nullptr, U(key),
                                          nullptr, 1, nullptr) != 1) {
    return InternalError("AES-GCM key setup failed in OpenSSL");
  }
  return AesGcmKey(std::move(context));
}

StatusOr<std::string> AesGcmKey::Seal(std::string_view nonce,
                                      std::string_view plaintext,
                                      std::string_view aad) {
  RETURN_IF_ERROR(CheckNonce(nonce));
  return base::Seal(context_->ctx.get(), nullptr, nonce, plaintext, aad);
}

StatusOr<std::string> AesGcmKey::Open(std::string_view nonce,
                                      std::string_view sealed,
                                      std::string_view aad) {
  RETURN_IF_ERROR(CheckNonce(nonce));
  return base::Open(context_->ctx.get(), nullptr, nonce, sealed, aad);
}

StatusOr<std::string> HkdfSha256(std::string_view secret, std::string_view salt,
                                 std::string_view info, size_t length) {
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(
      Hkdf() ? EVP_KDF_CTX_new(Hkdf()) : nullptr, EVP_KDF_CTX_free);
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
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(
      Hkdf() ? EVP_KDF_CTX_new(Hkdf()) : nullptr, EVP_KDF_CTX_free);
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
  // Plain comparisons rather than std::isalnum, which goes through the C
  // locale for every character of every unwrap request.
  auto is_b64 = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
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
