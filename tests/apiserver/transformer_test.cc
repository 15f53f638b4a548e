#include "apiserver/transformer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>

#include "base/crypto.h"
#include "encrypted_object.pb.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kKey[] = "/registry/secrets/default/s1";
constexpr char kPlaintext[] =
    R"({"kind":"Secret","data":{"password":"aHVudGVyMg=="}})";

using KmsV2 = ApiserverEnv;

// Reads `stored` and returns its data, or the error message.
std::string Read(Transformer& transformer, const std::string& stored,
                 const std::string& key = kKey) {
  auto result = transformer.FromStorage(stored, key);
  return result.ok() ? result->data : result.status().message();
}

std::string Write(Transformer& transformer, const std::string& data,
                  const std::string& key = kKey) {
  auto result = transformer.ToStorage(data, key);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : "";
}

bool IsStale(Transformer& transformer, const std::string& stored) {
  auto result = transformer.FromStorage(stored, kKey);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() && result->stale;
}

TEST_F(KmsV2, RoundTripsData) {
  auto transformer = NewKmsTransformer();

  std::string stored = Write(*transformer, kPlaintext);

  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_FALSE(IsStale(*transformer, stored));
}

TEST_F(KmsV2, StoredValueHasPrefixAndNoPlaintext) {
  auto transformer = NewKmsTransformer("kp");

  std::string stored = Write(*transformer, kPlaintext);

  EXPECT_THAT(stored, StartsWith("k8s:enc:kms:v2:kp:"));
  EXPECT_EQ(transformer->prefix(), "k8s:enc:kms:v2:kp:");
  EXPECT_EQ(stored.find("aHVudGVyMg=="), std::string::npos);
  EXPECT_EQ(stored.find("Secret"), std::string::npos);
}

TEST_F(KmsV2, TwoWritesOfSameDataDiffer) {
  auto transformer = NewKmsTransformer();

  EXPECT_NE(Write(*transformer, kPlaintext), Write(*transformer, kPlaintext));
}

TEST_F(KmsV2, ValueCopiedToOtherKeyFailsToDecrypt) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);

  auto result =
      transformer->FromStorage(stored, "/registry/secrets/default/other");

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "cipher: message authentication failed");
}

TEST_F(KmsV2, FlippedByteFailsToDecrypt) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);
  // Past the prefix (18 bytes) and the field header (2 bytes), inside the
  // ciphertext of encryptedData.
  stored[18 + 2 + 60] ^= 0x01;

  EXPECT_EQ(Read(*transformer, stored),
            "cipher: message authentication failed");
}

// Decodes a stored value by hand the way kube-apiserver does: HKDF-SHA256
// expand (one HMAC block) over the unwrapped seed and the 32 info bytes,
// then AES-256-GCM with the 12 bytes after them as nonce.
TEST_F(KmsV2, StoredValueFollowsUpstreamLayout) {
  auto transformer = NewKmsTransformer("kp");
  std::string stored = Write(*transformer, kPlaintext);

  v2::EncryptedObject object;
  ASSERT_TRUE(object.ParseFromString(stored.substr(18)));
  EXPECT_EQ(object.encrypteddeksourcetype(),
            v2::HKDF_SHA256_XNONCE_AES_GCM_SEED);
  EXPECT_EQ(object.keyid(), transformer->current_key_id());
  ASSERT_EQ(object.encrypteddata().size(),
            32u + 12u + std::string(kPlaintext).size() + 16u);
  auto seed = kms_.Unwrap(instance_id_, key_id_, object.encrypteddeksource());
  ASSERT_TRUE(seed.ok()) << seed.status();
  ASSERT_EQ(seed->plaintext.size(), 32u);

  const std::string info = object.encrypteddata().substr(0, 32);
  const std::string block = info + '\x01';
  unsigned char key[32];
  unsigned int key_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), seed->plaintext.data(), 32,
                 reinterpret_cast<const unsigned char*>(block.data()),
                 block.size(), key, &key_size),
            nullptr);
  auto opened =
      base::AesGcmOpen(std::string(reinterpret_cast<char*>(key), key_size),
                       object.encrypteddata().substr(32, 12),
                       object.encrypteddata().substr(44), kKey);

  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kPlaintext);
}

TEST_F(KmsV2, WrapsOneSeedForManyWrites) {
  auto transformer = NewKmsTransformer();

  for (int i = 0; i < 50; ++i) {
    Write(*transformer, kPlaintext,
          "/registry/secrets/default/s" + std::to_string(i));
  }
  clock_.Advance(minutes(5));
  Write(*transformer, kPlaintext);

  EXPECT_EQ(KmsCalls("wrap"), 1);
  EXPECT_EQ(transformer->stats().encrypt_calls, 1);
}

TEST_F(KmsV2, ReadsUseCacheUntilCleared) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);

  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(transformer->stats().dek_cache_hits, 1);
  EXPECT_EQ(transformer->stats().dek_cache_misses, 0);
  EXPECT_EQ(KmsCalls("unwrap"), 0);

  transformer->ClearCache();
  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(transformer->stats().dek_cache_misses, 1);
  EXPECT_EQ(transformer->stats().decrypt_calls, 1);
  EXPECT_EQ(KmsCalls("unwrap"), 1);

  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(transformer->stats().dek_cache_hits, 2);
  EXPECT_EQ(KmsCalls("unwrap"), 1);
}

TEST_F(KmsV2, NewTransformerReadsWithOneUnwrap) {
  std::string stored = Write(*NewKmsTransformer(), kPlaintext);
  auto restarted = NewKmsTransformer();

  EXPECT_EQ(Read(*restarted, stored), kPlaintext);
  EXPECT_EQ(Read(*restarted, stored), kPlaintext);

  EXPECT_EQ(KmsCalls("unwrap"), 1);
  EXPECT_EQ(restarted->stats().dek_cache_misses, 1);
  EXPECT_EQ(restarted->stats().dek_cache_hits, 1);
}

TEST_F(KmsV2, ReadAfterWriteUsesWritesDerivedKey) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);

  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(Read(*transformer, stored), kPlaintext);

  EXPECT_EQ(transformer->stats().derived_key_cache_hits, 2);
  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 0);
}

TEST_F(KmsV2, RestartedReaderDerivesKeyOnce) {
  std::string stored = Write(*NewKmsTransformer(), kPlaintext);
  auto restarted = NewKmsTransformer();

  EXPECT_EQ(Read(*restarted, stored), kPlaintext);
  EXPECT_EQ(Read(*restarted, stored), kPlaintext);
  EXPECT_EQ(Read(*restarted, stored), kPlaintext);

  EXPECT_EQ(restarted->stats().derived_key_cache_misses, 1);
  EXPECT_EQ(restarted->stats().derived_key_cache_hits, 2);
}

TEST_F(KmsV2, DerivedKeyExpiresAfterTenMinutes) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);

  clock_.Advance(minutes(10) - seconds(1));
  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 0);

  clock_.Advance(seconds(1));
  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 1);

  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 1);
  EXPECT_EQ(transformer->stats().derived_key_cache_hits, 2);
}

// The cache entry of an etcd key contains the key of its latest write. An
// older value of the same etcd key has other info bytes, so it misses.
TEST_F(KmsV2, OlderValueOfSameKeyMisses) {
  auto transformer = NewKmsTransformer();
  const std::string other_plaintext = R"({"kind":"Secret","data":{}})";
  std::string older = Write(*transformer, kPlaintext);
  std::string newer = Write(*transformer, other_plaintext);

  EXPECT_EQ(Read(*transformer, older), kPlaintext);
  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 1);
  EXPECT_EQ(Read(*transformer, newer), other_plaintext);
  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 2);
  EXPECT_EQ(transformer->stats().derived_key_cache_hits, 0);
}

TEST_F(KmsV2, ClearCacheDropsDerivedKeys) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);

  transformer->ClearCache();
  // The write brings the write seed back into the read cache.
  Write(*transformer, kPlaintext, "/registry/secrets/default/s2");
  EXPECT_EQ(Read(*transformer, stored), kPlaintext);

  EXPECT_EQ(transformer->stats().derived_key_cache_misses, 1);
  EXPECT_EQ(transformer->stats().derived_key_cache_hits, 0);
  EXPECT_EQ(KmsCalls("unwrap"), 0);
}

TEST_F(KmsV2, RotationMakesOldValuesStale) {
  auto transformer = NewKmsTransformer();
  const std::string old_key_id = transformer->current_key_id();
  std::string old_value = Write(*transformer, kPlaintext);

  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());
  clock_.Advance(minutes(1));
  std::string new_value = Write(*transformer, kPlaintext);

  EXPECT_NE(transformer->current_key_id(), old_key_id);
  EXPECT_EQ(KmsCalls("wrap"), 2);
  EXPECT_TRUE(IsStale(*transformer, old_value));
  EXPECT_FALSE(IsStale(*transformer, new_value));
  EXPECT_EQ(Read(*transformer, old_value), kPlaintext);
}

TEST_F(KmsV2, RotationIsSeenOnlyAtNextPoll) {
  auto transformer = NewKmsTransformer();
  const std::string old_key_id = transformer->current_key_id();

  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());
  clock_.Advance(seconds(59));
  EXPECT_EQ(transformer->current_key_id(), old_key_id);

  clock_.Advance(seconds(1));
  EXPECT_NE(transformer->current_key_id(), old_key_id);
}

TEST_F(KmsV2, DisabledKeyFailsReadsAfterCacheClear) {
  auto transformer = NewKmsTransformer();
  std::string stored = Write(*transformer, kPlaintext);
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());

  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
  transformer->ClearCache();
  auto result = transformer->FromStorage(stored, kKey);

  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              StartsWith("failed to decrypt DEK, error: "));
}

TEST_F(KmsV2, PollReportsDisabledKeyUnhealthy) {
  auto transformer = NewKmsTransformer("kp");
  EXPECT_TRUE(transformer->Health().ok());
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());

  clock_.Advance(minutes(1));

  EXPECT_FALSE(transformer->Health().ok());
  EXPECT_THAT(transformer->Health().message(),
              StartsWith("kmsv2 Provider kp is not healthy, error: got "
                         "unexpected healthz status: "));
  EXPECT_EQ(clock_.NextTimerAt(), clock_.Now() + seconds(10));
}

TEST_F(KmsV2, PollsEveryMinuteWhileHealthy) {
  auto transformer = NewKmsTransformer();

  EXPECT_EQ(clock_.NextTimerAt(), TestStart() + minutes(1));
  clock_.Advance(minutes(1));
  EXPECT_EQ(clock_.NextTimerAt(), TestStart() + minutes(2));
}

TEST_F(KmsV2, WritesFailThreeMinutesAfterLastHealthyStatus) {
  auto transformer = NewKmsTransformer();
  const std::string key_id = transformer->current_key_id();
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());

  clock_.Advance(minutes(3));
  EXPECT_TRUE(transformer->ToStorage(kPlaintext, kKey).ok());

  clock_.Advance(seconds(1));
  auto result = transformer->ToStorage(kPlaintext, kKey);

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(
      result.status().message(),
      "encryptedDEKSource with keyID hash \"sha256:" + base::Sha256Hex(key_id) +
          "\" expired at 2026-01-02T00:03:00Z (current time is "
          "2026-01-02T00:03:01Z)");
}

TEST_F(KmsV2, WritesResumeWhenKeyIsEnabledAgain) {
  auto transformer = NewKmsTransformer();
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  clock_.Advance(minutes(4));
  ASSERT_FALSE(transformer->ToStorage(kPlaintext, kKey).ok());

  ASSERT_TRUE(kms_.Enable(instance_id_, key_id_).ok());
  clock_.Advance(seconds(10));

  EXPECT_TRUE(transformer->Health().ok()) << transformer->Health();
  EXPECT_TRUE(transformer->ToStorage(kPlaintext, kKey).ok());
  EXPECT_EQ(KmsCalls("wrap"), 1);
}

TEST_F(KmsV2, NeverHealthyFailsWithNilTransformer) {
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  auto transformer = NewKmsTransformer();

  auto written = transformer->ToStorage(kPlaintext, kKey);

  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().message(), "got unexpected nil transformer");
  EXPECT_EQ(transformer->current_key_id(), "");
  EXPECT_EQ(KmsCalls("wrap"), 0);
}

TEST_F(KmsV2, ReadsFailWithNilTransformerUntilHealthy) {
  std::string stored = Write(*NewKmsTransformer(), kPlaintext);
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());
  auto transformer = NewKmsTransformer();

  EXPECT_EQ(Read(*transformer, stored), "got unexpected nil transformer");

  clock_.Advance(seconds(31));
  ASSERT_TRUE(kms_.Enable(instance_id_, key_id_).ok());
  clock_.Advance(seconds(10));
  EXPECT_EQ(Read(*transformer, stored), kPlaintext);
}

TEST_F(KmsV2, GarbageAfterPrefixFailsToParse) {
  auto transformer = NewKmsTransformer("kp");

  EXPECT_EQ(Read(*transformer, "k8s:enc:kms:v2:kp:\xff\xff\xff"),
            "proto: cannot parse invalid wire-format data");
}

TEST(TransformerChain, FirstProviderWrites) {
  auto identity = NewIdentityTransformer();
  TransformerChain chain({{"", identity}});

  EXPECT_EQ(Write(chain, kPlaintext), kPlaintext);
  EXPECT_EQ(Read(chain, kPlaintext), kPlaintext);
  EXPECT_FALSE(IsStale(chain, kPlaintext));
}

using Chain = ApiserverEnv;

TEST_F(Chain, ReadByLaterProviderIsStale) {
  auto kms = NewKmsTransformer("kp");
  Provider kms_provider{kms->prefix(), kms};
  Provider identity{"", NewIdentityTransformer()};
  TransformerChain kms_first({kms_provider, identity});
  TransformerChain identity_first({identity, kms_provider});

  std::string encrypted = Write(kms_first, kPlaintext);
  std::string plain = Write(identity_first, kPlaintext);

  EXPECT_THAT(encrypted, StartsWith("k8s:enc:kms:v2:kp:"));
  EXPECT_EQ(plain, kPlaintext);
  EXPECT_FALSE(IsStale(kms_first, encrypted));
  EXPECT_TRUE(IsStale(kms_first, plain));
  EXPECT_FALSE(IsStale(identity_first, plain));
  EXPECT_TRUE(IsStale(identity_first, encrypted));
  EXPECT_EQ(Read(identity_first, encrypted), kPlaintext);
}

TEST_F(Chain, IdentityAloneRejectsEncryptedValue) {
  auto kms = NewKmsTransformer("kp");
  std::string encrypted = Write(*kms, kPlaintext);
  TransformerChain chain({{"", NewIdentityTransformer()}});

  EXPECT_EQ(Read(chain, encrypted), "no matching prefix found");
  EXPECT_EQ(Read(*NewIdentityTransformer(), encrypted),
            "identity transformer tried to read encrypted data");
}

TEST_F(Chain, ProvidersWithSamePrefixAreTriedInOrder) {
  auto old_kms = NewKmsTransformer("kp");
  std::string old_value = Write(*old_kms, kPlaintext);
  // A second key behind a provider of the same name: its reads of the old
  // value fail, so the chain falls through to the old provider.
  kms::CreateKeyRequest request;
  request.name = "other";
  auto other_key = kms_.CreateKey(instance_id_, request);
  ASSERT_TRUE(other_key.ok());
  auto new_kms = std::make_shared<KmsV2Transformer>(
      "kp", NewKeyServiceKmsClient(kms_, instance_id_, other_key->id), clock_,
      random_);
  TransformerChain chain(
      {{new_kms->prefix(), new_kms}, {old_kms->prefix(), old_kms}});
  old_kms->ClearCache();

  auto result = chain.FromStorage(old_value, kKey);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data, kPlaintext);
  EXPECT_TRUE(result->stale);
}

}  // namespace
}  // namespace apiserver
