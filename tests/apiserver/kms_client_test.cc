#include "apiserver/kms_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using KeyServiceKmsClient = ApiserverEnv;

TEST_F(KeyServiceKmsClient, StatusReportsKeyAndNewestVersion) {
  std::shared_ptr<KmsClient> client = NewClient();
  auto key = kms_.GetKey(instance_id_, key_id_);
  ASSERT_TRUE(key.ok());

  KmsStatusResponse status = client->Status();

  EXPECT_TRUE(status.healthy);
  EXPECT_EQ(status.version, "v2");
  EXPECT_EQ(status.key_id, key_id_ + ":" + key->versions.back().id);
  EXPECT_EQ(status.error, "");
}

TEST_F(KeyServiceKmsClient, RotationChangesKeyId) {
  std::shared_ptr<KmsClient> client = NewClient();
  const std::string before = client->Status().key_id;

  ASSERT_TRUE(kms_.Rotate(instance_id_, key_id_).ok());

  EXPECT_NE(client->Status().key_id, before);
  EXPECT_THAT(client->Status().key_id, StartsWith(key_id_ + ":"));
}

TEST_F(KeyServiceKmsClient, DisabledKeyIsUnhealthy) {
  std::shared_ptr<KmsClient> client = NewClient();
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());

  KmsStatusResponse status = client->Status();

  EXPECT_FALSE(status.healthy);
  EXPECT_THAT(status.error, HasSubstr("Suspended"));
}

TEST_F(KeyServiceKmsClient, EncryptThenDecryptReturnsPlaintext) {
  std::shared_ptr<KmsClient> client = NewClient();

  auto encrypted = client->Encrypt("uid-1", std::string(32, 'k'));
  ASSERT_TRUE(encrypted.ok()) << encrypted.status();
  auto decrypted =
      client->Decrypt("uid-2", encrypted->ciphertext, encrypted->key_id);

  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_EQ(*decrypted, std::string(32, 'k'));
  EXPECT_EQ(encrypted->key_id, client->Status().key_id);
  EXPECT_EQ(KmsCalls("wrap"), 1);
  EXPECT_EQ(KmsCalls("unwrap"), 1);
}

TEST_F(KeyServiceKmsClient, DecryptRejectsKeyIdOfOtherKey) {
  std::shared_ptr<KmsClient> client = NewClient();
  auto encrypted = client->Encrypt("uid-1", std::string(32, 'k'));
  ASSERT_TRUE(encrypted.ok());

  auto decrypted =
      client->Decrypt("uid-2", encrypted->ciphertext, "other-key:v1");

  EXPECT_FALSE(decrypted.ok());
  EXPECT_EQ(KmsCalls("unwrap"), 0);
}

}  // namespace
}  // namespace apiserver
