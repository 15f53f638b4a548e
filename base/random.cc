#include "base/random.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <stdexcept>

namespace base {

uint64_t Random::Uniform(uint64_t bound) {
  // Rejection sampling keeps the result unbiased for any bound.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  while (true) {
    std::string raw = Bytes(8);
    uint64_t value = 0;
    for (unsigned char c : raw) value = (value << 8) | c;
    if (value < limit) return value % bound;
  }
}

std::string Random::Uuid() {
  std::string raw = Bytes(16);
  raw[6] = static_cast<char>((raw[6] & 0x0f) | 0x40);
  raw[8] = static_cast<char>((raw[8] & 0x3f) | 0x80);
  std::string out;
  char hex[3];
  for (size_t i = 0; i < raw.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    std::snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned char>(raw[i]));
    out += hex;
  }
  return out;
}

std::string SecureRandom::Bytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                          static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string SeededRandom::Bytes(size_t n) {
  std::string out;
  out.reserve(n + SHA256_DIGEST_LENGTH);
  std::lock_guard lock(mu_);
  while (out.size() < n) {
    unsigned char input[16];
    for (int i = 0; i < 8; ++i) {
      input[i] = static_cast<unsigned char>(seed_ >> (56 - 8 * i));
      input[8 + i] = static_cast<unsigned char>(counter_ >> (56 - 8 * i));
    }
    ++counter_;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(input, sizeof(input), digest);
    out.append(reinterpret_cast<char*>(digest), sizeof(digest));
  }
  out.resize(n);
  return out;
}

}  // namespace base
