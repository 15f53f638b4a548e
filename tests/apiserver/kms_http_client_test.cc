#include "apiserver/kms_http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "apiserver/transformer.h"
#include "kms-mock/api.h"
#include "kms-mock/server.h"
#include "tests/apiserver/test_env.h"

namespace apiserver {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "test-writer";

class KeyProtectHttpClientTest : public ApiserverEnv {
 protected:
  void SetUp() override {
    ApiserverEnv::SetUp();
    if (HasFatalFailure()) return;
    kms::TokenTable tokens;
    tokens[kToken] = kms::AccessGrant{kms::Role::kWriter, {}, ""};
    api_ = std::make_unique<kms::KeyProtectApi>(kms_, clock_, tokens);
    auto server = kms::Server::Start(*api_, {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  void TearDown() override {
    server_.reset();
    api_.reset();
    ApiserverEnv::TearDown();
  }

  KeyProtectEndpoint Endpoint() {
    KeyProtectEndpoint endpoint;
    endpoint.port = server_->port();
    endpoint.token = kToken;
    endpoint.instance_id = instance_id_;
    endpoint.key_id = key_id_;
    return endpoint;
  }

  std::unique_ptr<kms::KeyProtectApi> api_;
  std::unique_ptr<kms::Server> server_;
};

TEST_F(KeyProtectHttpClientTest, StatusMatchesInProcessClient) {
  auto http = NewKeyProtectHttpClient(Endpoint());

  KmsStatusResponse status = http->Status();

  EXPECT_TRUE(status.healthy) << status.error;
  EXPECT_EQ(status.key_id, NewClient()->Status().key_id);
}

TEST_F(KeyProtectHttpClientTest, WrapsAndUnwrapsOverHttp) {
  auto http = NewKeyProtectHttpClient(Endpoint());

  auto encrypted = http->Encrypt("uid", std::string(32, 's'));
  ASSERT_TRUE(encrypted.ok()) << encrypted.status();
  auto decrypted =
      http->Decrypt("uid", encrypted->ciphertext, encrypted->key_id);

  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_EQ(*decrypted, std::string(32, 's'));
  EXPECT_EQ(KmsCalls("wrap"), 1);
  EXPECT_EQ(KmsCalls("unwrap"), 1);
}

TEST_F(KeyProtectHttpClientTest, DisabledKeyKeepsReasonCode) {
  auto http = NewKeyProtectHttpClient(Endpoint());
  auto encrypted = http->Encrypt("uid", std::string(32, 's'));
  ASSERT_TRUE(encrypted.ok()) << encrypted.status();
  ASSERT_TRUE(kms_.Disable(instance_id_, key_id_).ok());

  auto decrypted =
      http->Decrypt("uid", encrypted->ciphertext, encrypted->key_id);
  KmsStatusResponse status = http->Status();

  ASSERT_FALSE(decrypted.ok());
  EXPECT_EQ(decrypted.status().reason(), "KEY_ACTION_INVALID_STATE_ERR");
  EXPECT_FALSE(status.healthy);
  EXPECT_THAT(status.error, HasSubstr("state 2"));
}

TEST_F(KeyProtectHttpClientTest, WrongTokenIsUnauthenticated) {
  KeyProtectEndpoint endpoint = Endpoint();
  endpoint.token = "wrong";
  auto http = NewKeyProtectHttpClient(endpoint);

  auto encrypted = http->Encrypt("uid", std::string(32, 's'));

  ASSERT_FALSE(encrypted.ok());
  EXPECT_EQ(encrypted.status().code(), base::Code::kUnauthenticated);
}

TEST_F(KeyProtectHttpClientTest, StoppedServerIsUnavailable) {
  auto http = NewKeyProtectHttpClient(Endpoint());
  server_->Stop();

  auto encrypted = http->Encrypt("uid", std::string(32, 's'));
  KmsStatusResponse status = http->Status();

  ASSERT_FALSE(encrypted.ok());
  EXPECT_EQ(encrypted.status().code(), base::Code::kUnavailable);
  EXPECT_THAT(encrypted.status().message(),
              StartsWith("failed to reach Key Protect at http://127.0.0.1:"));
  EXPECT_FALSE(status.healthy);
}

TEST_F(KeyProtectHttpClientTest, TransformerWorksOverHttp) {
  auto transformer = std::make_shared<KmsV2Transformer>(
      "kp", std::shared_ptr<KmsClient>(NewKeyProtectHttpClient(Endpoint())),
      clock_, random_);
  auto stored = transformer->ToStorage("data", "/registry/secrets/a/b");
  ASSERT_TRUE(stored.ok()) << stored.status();
  transformer->ClearCache();

  auto read = transformer->FromStorage(*stored, "/registry/secrets/a/b");

  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, "data");
  EXPECT_EQ(KmsCalls("unwrap"), 1);
}

}  // namespace
}  // namespace apiserver
