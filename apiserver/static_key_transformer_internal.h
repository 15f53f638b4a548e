// Private to the aescbc, aesgcm and secretbox providers: the stored-value
// layout that the three share, `prefix` followed by the provider's nonce
// or IV and its ciphertext, with upstream's errors for a value that does
// not fit it.
#ifndef APISERVER_STATIC_KEY_TRANSFORMER_INTERNAL_H_
#define APISERVER_STATIC_KEY_TRANSFORMER_INTERNAL_H_

#include <string>
#include <string_view>
#include <utility>

#include "apiserver/transformer.h"
#include "base/random.h"
#include "base/status.h"

namespace apiserver::internal {

inline const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

// A provider with one key from the EncryptionConfiguration. Subclasses
// encrypt and decrypt what follows the prefix.
class StaticKeyTransformer : public Transformer {
 public:
  // `min_sealed_size` is the smallest valid value after the prefix, such as
  // a nonce and an authentication tag.
  StaticKeyTransformer(std::string prefix, std::string key,
                       base::Random& random, size_t min_sealed_size)
      : prefix_(std::move(prefix)),
        key_(std::move(key)),
        random_(random),
        min_sealed_size_(min_sealed_size) {}

  base::StatusOr<std::string> ToStorage(const std::string& data,
                                        const std::string& etcd_key) final {
    ASSIGN_OR_RETURN(std::string sealed, Seal(data, etcd_key));
    return prefix_ + sealed;
  }

  // Fails with upstream's messages for a value without the prefix or too
  // short to decrypt, and otherwise with the subclass's.
  base::StatusOr<ReadResult> FromStorage(const std::string& stored,
                                         const std::string& etcd_key) final {
    if (!stored.starts_with(prefix_)) {
      return base::InvalidArgumentError("no matching prefix found");
    }
    std::string_view sealed(stored);
    sealed.remove_prefix(prefix_.size());
    if (sealed.size() < min_sealed_size_) {
      return base::InvalidArgumentError(
          "the stored data was shorter than the required size");
    }
    ASSIGN_OR_RETURN(std::string plain, Open(sealed, etcd_key));
    return ReadResult{std::move(plain), false};
  }

 protected:
  // Returns the nonce or IV followed by the ciphertext of `data`.
  virtual base::StatusOr<std::string> Seal(const std::string& data,
                                           const std::string& etcd_key) = 0;
  // Decrypts what Seal returned. REQUIRES: sealed.size() >= min_sealed_size.
  virtual base::StatusOr<std::string> Open(std::string_view sealed,
                                           const std::string& etcd_key) = 0;

  const std::string& key() const { return key_; }
  base::Random& random() { return random_; }

 private:
  const std::string prefix_;
  const std::string key_;
  base::Random& random_;
  const size_t min_sealed_size_;
};

}  // namespace apiserver::internal

#endif  // APISERVER_STATIC_KEY_TRANSFORMER_INTERNAL_H_
