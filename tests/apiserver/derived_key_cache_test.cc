#include "apiserver/derived_key_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "base/clock.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using std::chrono::minutes;
using std::chrono::nanoseconds;

constexpr char kEtcdKey[] = "/registry/secrets/default/s1";

const std::string kInfo(kDerivedKeyInfoSize, 'a');
const std::string kOtherInfo(kDerivedKeyInfoSize, 'b');

DerivedKey KeyOf(char fill) {
  DerivedKey key;
  key.fill(fill);
  return key;
}

class DerivedKeyCacheTest : public ::testing::Test {
 protected:
  base::SimulatedClock clock_{TestStart()};
  DerivedKeyCache cache_{clock_, kDerivedKeyTtl};
};

TEST_F(DerivedKeyCacheTest, HitReturnsCachedKey) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  std::optional<DerivedKey> key = cache_.Get(kEtcdKey, kInfo);

  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(*key, KeyOf('k'));
}

TEST_F(DerivedKeyCacheTest, OtherInfoNeverHits) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  EXPECT_FALSE(cache_.Get(kEtcdKey, kOtherInfo).has_value());
  EXPECT_FALSE(cache_.Get(kEtcdKey, kInfo.substr(1)).has_value());
  EXPECT_FALSE(cache_.Get(kEtcdKey, "").has_value());
}

TEST_F(DerivedKeyCacheTest, OtherEtcdKeyNeverHits) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  EXPECT_FALSE(cache_.Get("/registry/secrets/default/s2", kInfo).has_value());
  EXPECT_FALSE(cache_.Get("", kInfo).has_value());
}

TEST_F(DerivedKeyCacheTest, EntryExpiresAfterTtlOnClock) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  clock_.Advance(kDerivedKeyTtl - nanoseconds(1));
  EXPECT_TRUE(cache_.Get(kEtcdKey, kInfo).has_value());

  clock_.Advance(nanoseconds(1));
  EXPECT_FALSE(cache_.Get(kEtcdKey, kInfo).has_value());
}

TEST_F(DerivedKeyCacheTest, SetReplacesEntryOfSameEtcdKey) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  cache_.Set(kEtcdKey, kOtherInfo, KeyOf('m'));

  EXPECT_FALSE(cache_.Get(kEtcdKey, kInfo).has_value());
  ASSERT_TRUE(cache_.Get(kEtcdKey, kOtherInfo).has_value());
  EXPECT_EQ(*cache_.Get(kEtcdKey, kOtherInfo), KeyOf('m'));
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(DerivedKeyCacheTest, SetRenewsExpiry) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));
  clock_.Advance(minutes(9));

  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));
  clock_.Advance(minutes(9));

  EXPECT_TRUE(cache_.Get(kEtcdKey, kInfo).has_value());
}

TEST_F(DerivedKeyCacheTest, SetAfterTtlRemovesExpiredEntries) {
  for (int i = 0; i < 100; ++i) {
    cache_.Set("/registry/secrets/default/old-" + std::to_string(i), kInfo,
               KeyOf('k'));
  }
  clock_.Advance(kDerivedKeyTtl);

  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(DerivedKeyCacheTest, SetWithinTtlKeepsOtherEntries) {
  cache_.Set("/registry/secrets/default/s2", kInfo, KeyOf('k'));
  clock_.Advance(minutes(5));

  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  EXPECT_EQ(cache_.size(), 2u);
}

TEST_F(DerivedKeyCacheTest, InfoOfWrongSizeIsNotCached) {
  cache_.Set(kEtcdKey, "short", KeyOf('k'));

  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(DerivedKeyCacheTest, ClearRemovesEveryEntry) {
  cache_.Set(kEtcdKey, kInfo, KeyOf('k'));

  cache_.Clear();

  EXPECT_FALSE(cache_.Get(kEtcdKey, kInfo).has_value());
  EXPECT_EQ(cache_.size(), 0u);
}

}  // namespace
}  // namespace apiserver
