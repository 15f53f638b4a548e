// Kubernetes RBAC from IAM service roles on a cluster.
#include "sim/kube_access.h"

#include <gtest/gtest.h>

namespace sim {
namespace {

class KubeAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(account_.AddUser({"reader@example.com", ""}).ok());
    ASSERT_TRUE(account_.AddUser({"writer@example.com", ""}).ok());
    ASSERT_TRUE(account_.AddUser({"admin@example.com", ""}).ok());
    ASSERT_TRUE(account_.AddUser({"none@example.com", ""}).ok());
    ASSERT_TRUE(account_
                    .AssignClusterRoles(
                        "reader@example.com", "c1",
                        {PlatformRole::kAdministrator, ServiceRole::kReader})
                    .ok());
    ASSERT_TRUE(account_
                    .AssignClusterRoles("writer@example.com", kAllResources,
                                        {{}, ServiceRole::kWriter})
                    .ok());
    ASSERT_TRUE(account_
                    .AssignClusterRoles("admin@example.com", "c1",
                                        {{}, ServiceRole::kManager})
                    .ok());
  }

  base::Status Check(const std::string& user, std::string_view verb,
                     const apiserver::Resource& resource,
                     const std::string& ns = "default",
                     const std::string& name = "") {
    return AuthorizeKubernetes(account_, "c1", user, verb, resource, ns, name);
  }

  Account account_{"owner@example.com"};
};

TEST_F(KubeAccessTest, ReaderCannotReadSecrets) {
  base::Status denied = Check("reader@example.com", "get",
                              apiserver::SecretsResource(), "default", "db");

  EXPECT_EQ(denied.code(), base::Code::kPermissionDenied);
  EXPECT_EQ(denied.reason(), "Forbidden");
  EXPECT_EQ(denied.message(),
            "secrets \"db\" is forbidden: User \"IAM#reader@example.com\" "
            "cannot get resource \"secrets\" in API group \"\" in the "
            "namespace \"default\"");
  EXPECT_TRUE(
      Check("reader@example.com", "list", apiserver::ConfigMapsResource())
          .ok());
  EXPECT_FALSE(
      Check("reader@example.com", "create", apiserver::ConfigMapsResource())
          .ok());
}

TEST_F(KubeAccessTest, WriterWritesSecretsNotNamespaces) {
  EXPECT_TRUE(
      Check("writer@example.com", "update", apiserver::SecretsResource()).ok());
  EXPECT_TRUE(
      Check("writer@example.com", "list", apiserver::NamespacesResource(), "")
          .ok());

  base::Status denied = Check("writer@example.com", "create",
                              apiserver::NamespacesResource(), "");

  EXPECT_EQ(denied.message(),
            "namespaces is forbidden: User \"IAM#writer@example.com\" cannot "
            "create resource \"namespaces\" in API group \"\" at the cluster "
            "scope");
}

TEST_F(KubeAccessTest, ManagerAndOwnerDoEverything) {
  EXPECT_TRUE(
      Check("admin@example.com", "delete", apiserver::NamespacesResource(), "")
          .ok());
  EXPECT_TRUE(
      Check("owner@example.com", "create", apiserver::NamespacesResource(), "")
          .ok());
}

TEST_F(KubeAccessTest, PlatformRoleAloneGrantsNothing) {
  EXPECT_EQ(
      Check("none@example.com", "get", apiserver::SecretsResource()).code(),
      base::Code::kPermissionDenied);
  EXPECT_FALSE(AuthorizeKubernetes(account_, "c2", "admin@example.com", "get",
                                   apiserver::SecretsResource(), "default",
                                   "db")
                   .ok());
}

TEST_F(KubeAccessTest, NonMemberIsUnauthorized) {
  base::Status denied =
      Check("eve@example.com", "get", apiserver::SecretsResource());

  EXPECT_EQ(denied.code(), base::Code::kUnauthenticated);
  EXPECT_EQ(denied.reason(), "Unauthorized");
}

}  // namespace
}  // namespace sim
