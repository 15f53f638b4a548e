// base::AesGcmKey, the prepared AES-256-GCM key that KeyService keeps per
// key version, against the one-shot base::AesGcmSeal and base::AesGcmOpen.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/crypto.h"

namespace base {
namespace {

const std::string kKey(kAes256KeySize, 'k');
const std::string kNonce(kGcmNonceSize, 'n');

TEST(PreparedGcmKey, SealsTheSameBytesAsOneShot) {
  AesGcmKey key = *AesGcmKey::Create(kKey);

  StatusOr<std::string> prepared = key.Seal(kNonce, "dek bytes", "aad");
  StatusOr<std::string> one_shot = AesGcmSeal(kKey, kNonce, "dek bytes", "aad");

  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_TRUE(one_shot.ok()) << one_shot.status();
  EXPECT_EQ(*prepared, *one_shot);
}

TEST(PreparedGcmKey, AlternatesSealAndOpen) {
  AesGcmKey key = *AesGcmKey::Create(kKey);

  for (int i = 0; i < 4; ++i) {
    std::string nonce(kGcmNonceSize, static_cast<char>('a' + i));
    std::string plaintext = "secret " + std::to_string(i);
    std::string sealed = *key.Seal(nonce, plaintext, "aad");

    StatusOr<std::string> opened = key.Open(nonce, sealed, "aad");
    StatusOr<std::string> one_shot = AesGcmOpen(kKey, nonce, sealed, "aad");

    ASSERT_TRUE(opened.ok()) << i << ": " << opened.status();
    EXPECT_EQ(*opened, plaintext);
    ASSERT_TRUE(one_shot.ok()) << i << ": " << one_shot.status();
    EXPECT_EQ(*one_shot, plaintext);
  }
}

TEST(PreparedGcmKey, FailedOpenLeavesKeyUsable) {
  AesGcmKey key = *AesGcmKey::Create(kKey);
  std::string sealed = *key.Seal(kNonce, "secret", "aad");
  std::string tampered = sealed;
  tampered[0] = static_cast<char>(tampered[0] ^ 1);

  EXPECT_EQ(key.Open(kNonce, tampered, "aad").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(key.Open(kNonce, sealed, "other aad").status().code(),
            Code::kInvalidArgument);

  StatusOr<std::string> opened = key.Open(kNonce, sealed, "aad");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "secret");
}

TEST(PreparedGcmKey, OtherKeyDoesNotOpen) {
  AesGcmKey key = *AesGcmKey::Create(kKey);
  AesGcmKey other = *AesGcmKey::Create(std::string(kAes256KeySize, 'x'));
  std::string sealed = *key.Seal(kNonce, "secret", "");

  EXPECT_FALSE(other.Open(kNonce, sealed, "").ok());
  EXPECT_TRUE(key.Open(kNonce, sealed, "").ok());
}

TEST(PreparedGcmKey, RejectsBadKeyAndNonceSizes) {
  EXPECT_EQ(AesGcmKey::Create("short").status().code(), Code::kInvalidArgument);
  AesGcmKey key = *AesGcmKey::Create(kKey);

  EXPECT_EQ(key.Seal("short", "x", "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(key.Open("short", std::string(32, 'c'), "").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(key.Open(kNonce, "tiny", "").status().code(),
            Code::kInvalidArgument);
}

TEST(PreparedGcmKey, MovedKeyKeepsWorking) {
  std::vector<AesGcmKey> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(*AesGcmKey::Create(std::string(kAes256KeySize, 'a' + i)));
  }
  std::string sealed = *keys[0].Seal(kNonce, "secret", "");

  StatusOr<std::string> opened = keys[0].Open(kNonce, sealed, "");

  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "secret");
}

// The one-shot functions keep a context per thread, and each call sets its
// own key, so threads with different keys do not see each other's.
TEST(OneShotGcm, ThreadsWithDifferentKeysAgree) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      std::string key(kAes256KeySize, static_cast<char>('a' + t));
      for (int i = 0; i < 500; ++i) {
        std::string sealed = *AesGcmSeal(key, kNonce, "secret", "aad");
        StatusOr<std::string> opened = AesGcmOpen(key, kNonce, sealed, "aad");
        if (!opened.ok() || *opened != "secret") ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace base
