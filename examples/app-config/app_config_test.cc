// AppConfig against a simulated managed cluster: the settings Secret
// survives a root key rotation, reads fail while the root key is disabled,
// and writes fail once a KMS outage outlasts the cached data encryption key.
#include "app_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "sim/testing/cluster_test.h"

namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

class AppConfigTest : public sim::testing::ClusterTest {
 protected:
  // The application's SecretClient, served by the simulated cluster's API.
  class ClusterSecrets : public app::SecretClient {
   public:
    ClusterSecrets(AppConfigTest& test, std::string cluster)
        : test_(test), cluster_(std::move(cluster)) {}

    std::expected<app::Settings, std::string> Read(
        const std::string& ns, const std::string& name) override {
      auto data = test_.GetSecret(cluster_, name, ns);
      if (!data.ok()) return std::unexpected(data.status().message());
      return *data;
    }

    std::expected<void, std::string> Write(const std::string& ns,
                                           const std::string& name,
                                           const app::Settings& data) override {
      base::Status written = test_.UpdateSecret(cluster_, name, data, ns);
      if (written.code() == base::Code::kNotFound) {
        written = test_.CreateSecret(cluster_, name, data, ns);
      }
      if (!written.ok()) return std::unexpected(written.message());
      return {};
    }

   private:
    AppConfigTest& test_;
    const std::string cluster_;
  };

  void SetUp() override {
    ClusterTest::SetUp();
    kp_ = CreateInstance("kp-prod");
    crk_ = CreateRootKey(kp_, "crk-prod");
    SIM_ASSERT_OK(CreateCluster("prod", "1.19.16_1540"));
    SIM_ASSERT_OK(EnableKms("prod", kp_, crk_));
  }

  std::string kp_;
  std::string crk_;
  ClusterSecrets secrets_{*this, "prod"};
  app::AppConfig config_{secrets_, "default", "app-config"};
};

TEST_F(AppConfigTest, SettingsSurviveRootKeyRotation) {
  ASSERT_TRUE(config_.Save({{"db-password", "s3cret-pw"}, {"mode", "live"}}));
  std::string next_crk = CreateRootKey(kp_, "crk-prod-2");

  SIM_ASSERT_OK(EnableKms("prod", kp_, next_crk));

  app::AppConfig restarted(secrets_, "default", "app-config");
  ASSERT_TRUE(restarted.Reload()) << restarted.last_error();
  EXPECT_THAT(restarted.Get("db-password"), Optional(std::string("s3cret-pw")));
  EXPECT_THAT(restarted.Get("mode"), Optional(std::string("live")));
  sim::testing::StoredObject stored = StoredSecret("prod", "app-config");
  EXPECT_TRUE(stored.kms_encrypted);
  EXPECT_EQ(stored.provider, "ibm-kms-" + next_crk);
  EXPECT_THAT(FilesContaining("s3cret-pw"), IsEmpty());
}

TEST_F(AppConfigTest, ReloadFailsWhileRootKeyDisabled) {
  ASSERT_TRUE(config_.Save({{"mode", "live"}}));

  SIM_ASSERT_OK(DisableKey(crk_));
  SIM_ASSERT_OK(AdvanceUntilUnusable("prod"));

  EXPECT_FALSE(config_.Reload());
  EXPECT_TRUE(config_.degraded());
  EXPECT_THAT(config_.last_error(), HasSubstr("i/o timeout"));
  EXPECT_THAT(config_.Get("mode"), Optional(std::string("live")));
  EXPECT_EQ(Health("prod"), "warning");
}

TEST_F(AppConfigTest, ReloadRecoversWhenRootKeyEnabled) {
  ASSERT_TRUE(config_.Save({{"mode", "live"}}));
  SIM_ASSERT_OK(DisableKey(crk_));
  SIM_ASSERT_OK(AdvanceUntilUnusable("prod"));
  ASSERT_FALSE(config_.Reload());

  SIM_ASSERT_OK(EnableKey(crk_));
  SIM_ASSERT_OK(AdvanceUntilReady("prod"));

  EXPECT_TRUE(config_.Reload()) << config_.last_error();
  EXPECT_FALSE(config_.degraded());
  EXPECT_THAT(config_.Get("mode"), Optional(std::string("live")));
}

TEST_F(AppConfigTest, SaveFailsOnceKmsOutageOutlastsCachedKey) {
  ASSERT_TRUE(config_.Save({{"mode", "live"}}));
  uint64_t outage = InjectKmsOutage(crk_);

  // The API server writes on its cached key for 3 minutes.
  Advance(minutes(1));
  EXPECT_TRUE(config_.Save({{"mode", "maintenance"}}));
  Advance(minutes(3));
  auto saved = config_.Save({{"mode", "live"}});

  ASSERT_FALSE(saved);
  EXPECT_THAT(saved.error(), HasSubstr("expired"));
  EXPECT_TRUE(config_.Reload()) << config_.last_error();
  EXPECT_THAT(config_.Get("mode"), Optional(std::string("maintenance")));
  ASSERT_TRUE(ClearFault(outage));
  Advance(seconds(30));
  EXPECT_TRUE(config_.Save({{"mode", "live"}}));
}

}  // namespace
