// The account model: users, IAM roles, API keys per region and
// service-to-service authorizations.
#include "sim/account.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace sim {
namespace {

base::Time T0() { return base::Time(std::chrono::hours(24 * 20000)); }

TEST(Account, OwnerHasEveryRole) {
  Account account("owner@example.com");

  Roles roles = account.ClusterRoles("owner@example.com", "any-cluster");

  EXPECT_EQ(roles.platform, PlatformRole::kAdministrator);
  EXPECT_EQ(roles.service, ServiceRole::kManager);
  EXPECT_EQ(account.KmsRoles("owner@example.com", "any").platform,
            PlatformRole::kAdministrator);
}

TEST(Account, UserWithoutPolicyHasNoRoles) {
  Account account("owner@example.com");
  ASSERT_TRUE(account.AddUser({"dev@example.com", "Dev"}).ok());

  Roles roles = account.ClusterRoles("dev@example.com", "c1");

  EXPECT_FALSE(roles.platform.has_value());
  EXPECT_FALSE(roles.service.has_value());
}

TEST(Account, PolicyOnOneClusterOnly) {
  Account account("owner@example.com");
  ASSERT_TRUE(account.AddUser({"dev@example.com", "Dev"}).ok());
  ASSERT_TRUE(account
                  .AssignClusterRoles("dev@example.com", "c1",
                                      {PlatformRole::kOperator, {}})
                  .ok());

  EXPECT_EQ(account.ClusterRoles("dev@example.com", "c1").platform,
            PlatformRole::kOperator);
  EXPECT_FALSE(account.ClusterRoles("dev@example.com", "c2").platform);
}

TEST(Account, HighestRoleWins) {
  Account account("owner@example.com");
  ASSERT_TRUE(account.AddUser({"dev@example.com", "Dev"}).ok());
  ASSERT_TRUE(
      account
          .AssignClusterRoles("dev@example.com", kAllResources,
                              {PlatformRole::kViewer, ServiceRole::kManager})
          .ok());
  ASSERT_TRUE(
      account
          .AssignClusterRoles("dev@example.com", "c1",
                              {PlatformRole::kEditor, ServiceRole::kReader})
          .ok());

  Roles roles = account.ClusterRoles("dev@example.com", "c1");

  EXPECT_EQ(roles.platform, PlatformRole::kEditor);
  EXPECT_EQ(roles.service, ServiceRole::kManager);
}

TEST(Account, AssignReplacesEarlierPolicy) {
  Account account("owner@example.com");
  ASSERT_TRUE(account.AddUser({"dev@example.com", "Dev"}).ok());
  ASSERT_TRUE(
      account
          .AssignKmsRoles("dev@example.com", "kp",
                          {PlatformRole::kAdministrator, ServiceRole::kManager})
          .ok());

  ASSERT_TRUE(account
                  .AssignKmsRoles("dev@example.com", "kp",
                                  {PlatformRole::kViewer, ServiceRole::kReader})
                  .ok());

  EXPECT_EQ(account.KmsRoles("dev@example.com", "kp").platform,
            PlatformRole::kViewer);
  EXPECT_EQ(account.ListPolicies().size(), 1u);
}

TEST(Account, RequireClusterRoleNamesMissingRole) {
  Account account("owner@example.com");
  ASSERT_TRUE(account.AddUser({"dev@example.com", "Dev"}).ok());
  ASSERT_TRUE(account
                  .AssignClusterRoles("dev@example.com", "c1",
                                      {PlatformRole::kOperator, {}})
                  .ok());

  base::Status denied =
      account.RequireClusterRole("dev@example.com", "c1", "prod",
                                 PlatformRole::kAdministrator, "enabling KMS");
  base::Status allowed = account.RequireClusterRole(
      "dev@example.com", "c1", "prod", PlatformRole::kViewer, "listing");

  EXPECT_EQ(denied.code(), base::Code::kPermissionDenied);
  EXPECT_EQ(denied.message(),
            "user dev@example.com has the Operator platform role on cluster "
            "prod, but enabling KMS needs the Administrator platform role; "
            "ask an account administrator to assign it");
  EXPECT_TRUE(allowed.ok());
}

TEST(Account, UnknownUsersAndBadEmailsAreRejected) {
  Account account("owner@example.com");

  EXPECT_EQ(account.AddUser({"not-an-email", ""}).code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(account.AddUser({"owner@example.com", ""}).code(),
            base::Code::kAlreadyExists);
  EXPECT_EQ(account
                .AssignClusterRoles("ghost@example.com", "c1",
                                    {PlatformRole::kViewer, {}})
                .code(),
            base::Code::kNotFound);
  EXPECT_EQ(account.ResetApiKey("us-south", "ghost@example.com", "k", T0())
                .status()
                .code(),
            base::Code::kNotFound);
}

TEST(Account, ApiKeyPerRegion) {
  Account account("owner@example.com");
  ASSERT_TRUE(account.AddUser({"ops@example.com", "Ops"}).ok());
  ASSERT_TRUE(
      account.ResetApiKey("us-south", "owner@example.com", "k1", T0()).ok());
  ASSERT_TRUE(account.ResetApiKey("eu-de", "ops@example.com", "k2", T0()).ok());

  ASSERT_TRUE(
      account.ResetApiKey("us-south", "ops@example.com", "k3", T0()).ok());

  EXPECT_EQ(account.GetApiKey("us-south")->owner, "ops@example.com");
  EXPECT_EQ(account.GetApiKey("us-south")->id, "k3");
  EXPECT_EQ(account.GetApiKey("eu-de")->id, "k2");
  EXPECT_FALSE(account.GetApiKey("jp-tok").has_value());
}

TEST(Account, ServiceAuthorizationAddedOnce) {
  Account account("owner@example.com");
  ServiceAuthorization authorization;
  authorization.target_resource = "kp-1";

  auto first = account.AddServiceAuthorization(authorization);
  auto second = account.AddServiceAuthorization(authorization);

  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  EXPECT_TRUE(account.HasKmsReaderAuthorization("kp-1"));
  EXPECT_FALSE(account.HasKmsReaderAuthorization("kp-2"));
}

TEST(Account, RoleNamesParseIgnoringCase) {
  EXPECT_EQ(ParsePlatformRole("administrator"), PlatformRole::kAdministrator);
  EXPECT_EQ(ParsePlatformRole("Viewer"), PlatformRole::kViewer);
  EXPECT_EQ(ParseServiceRole("WRITER"), ServiceRole::kWriter);
  EXPECT_FALSE(ParsePlatformRole("Owner").has_value());
  EXPECT_EQ(PlatformRoleName(PlatformRole::kEditor), "Editor");
  EXPECT_EQ(ServiceRoleName(ServiceRole::kManager), "Manager");
}

class AccountFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "account_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(AccountFileTest, ChangesSurviveReopen) {
  std::string path = dir_ + "/account.json";
  {
    auto account = Account::Open(path, "owner@example.com");
    ASSERT_TRUE(account.ok()) << account.status();
    ASSERT_TRUE((*account)->AddUser({"dev@example.com", "Dev"}).ok());
    ASSERT_TRUE(
        (*account)
            ->AssignClusterRoles("dev@example.com", "c1",
                                 {PlatformRole::kEditor, ServiceRole::kWriter})
            .ok());
    ASSERT_TRUE((*account)
                    ->ResetApiKey("us-south", "dev@example.com", "k1", T0())
                    .ok());
    ServiceAuthorization authorization;
    authorization.target_resource = "kp";
    authorization.created = T0();
    ASSERT_TRUE((*account)->AddServiceAuthorization(authorization).ok());
  }

  auto reopened = Account::Open(path, "someone-else@example.com");

  ASSERT_TRUE(reopened.ok()) << reopened.status();
  Account& account = **reopened;
  EXPECT_EQ(account.owner(), "owner@example.com");
  EXPECT_EQ(account.ListUsers().size(), 2u);
  EXPECT_EQ(account.ClusterRoles("dev@example.com", "c1").service,
            ServiceRole::kWriter);
  EXPECT_EQ(account.GetApiKey("us-south")->owner, "dev@example.com");
  EXPECT_EQ(account.GetApiKey("us-south")->created, T0());
  EXPECT_TRUE(account.HasKmsReaderAuthorization("kp"));
}

TEST_F(AccountFileTest, MalformedFileIsDataLoss) {
  std::string path = dir_ + "/account.json";
  std::ofstream(path) << "{\"owner\": 42}";

  auto account = Account::Open(path, "owner@example.com");

  EXPECT_EQ(account.status().code(), base::Code::kDataLoss);
}

}  // namespace
}  // namespace sim
