// Symmetric primitives on OpenSSL 3: AES-256-GCM, HKDF-SHA256, base64.
//
// Byte strings are std::string. The free functions are thread-safe. The cipher
// and the KDF are fetched from OpenSSL once per process. AesGcmSeal and
// AesGcmOpen reuse one cipher context per thread, so the expanded key of a
// thread's last call stays in that context until the thread's next call or
// its exit. AesGcmKey keeps its key until it is destroyed.
#ifndef BASE_CRYPTO_H_
#define BASE_CRYPTO_H_

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace base {

inline constexpr size_t kAes256KeySize = 32;
inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;

// Encrypts `plaintext` with AES-256-GCM and returns ciphertext || tag.
// REQUIRES: key.size() == 32, nonce.size() == 12.
StatusOr<std::string> AesGcmSeal(std::string_view key, std::string_view nonce,
                                 std::string_view plaintext,
                                 std::string_view aad);

// Verifies and decrypts ciphertext || tag. Fails with kInvalidArgument when
// the tag does not verify: a wrong key, a wrong AAD or any flipped bit.
StatusOr<std::string> AesGcmOpen(std::string_view key, std::string_view nonce,
                                 std::string_view sealed, std::string_view aad);

// An AES-256-GCM key prepared once for many seals and opens: OpenSSL
// expands the key when the object is created instead of on every call.
// Produces the same bytes as AesGcmSeal and AesGcmOpen with that key. Holds
// the key until destroyed, when OpenSSL clears it. Not thread-safe: one
// thread at a time may use an object.
class AesGcmKey {
 public:
  // Fails with kInvalidArgument unless key.size() == 32.
  static StatusOr<AesGcmKey> Create(std::string_view key);

  AesGcmKey(AesGcmKey&&) noexcept;
  AesGcmKey& operator=(AesGcmKey&&) noexcept;
  ~AesGcmKey();

  // As AesGcmSeal and AesGcmOpen with this key; each fails with
  // kInvalidArgument unless nonce.size() == 12.
  StatusOr<std::string> Seal(std::string_view nonce, std::string_view plaintext,
                             std::string_view aad);
  StatusOr<std::string> Open(std::string_view nonce, std::string_view sealed,
                             std::string_view aad);

 private:
  struct Context;  // the OpenSSL cipher context, in crypto.cc

  explicit AesGcmKey(std::unique_ptr<Context> context);

  std::unique_ptr<Context> context_;
};

// RFC 5869 HKDF with SHA-256; `salt` may be empty. REQUIRES: length <= 8160.
StatusOr<std::string> HkdfSha256(std::string_view secret, std::string_view salt,
                                 std::string_view info, size_t length);

// The expand step of RFC 5869 HKDF alone (section 2.3) with SHA-256: `prk`
// is used as the pseudorandom key as it is, with no extract step. Kubernetes'
// KMS v2 provider derives each write's key this way from its DEK seed.
// REQUIRES: prk.size() >= 32, length <= 8160.
StatusOr<std::string> HkdfSha256Expand(std::string_view prk,
                                       std::string_view info, size_t length);

// Standard base64 with padding (RFC 4648 section 4).
std::string Base64Encode(std::string_view bytes);
// Strict standard base64; fails with kInvalidArgument on any other input.
StatusOr<std::string> Base64Decode(std::string_view text);

// Lower-case hex of a SHA-256 digest.
std::string Sha256Hex(std::string_view bytes);

}  // namespace base

#endif  // BASE_CRYPTO_H_
