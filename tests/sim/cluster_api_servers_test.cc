// Several API servers on one cluster, API server restarts, the KMS health
// they report and cluster checkpoints.
#include <gtest/gtest.h>

#include "apiserver/http_server.h"
#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::minutes;

class ClusterApiServersTest : public SimEnv {
 protected:
  // A 1.19 cluster with KMS enabled under a new root key.
  Cluster& EnabledCluster() {
    Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
    key_ = CreateRootKey(kp_, "crk");
    EnableAndWait(cluster, kp_, key_);
    return cluster;
  }

  base::Status CreateSecret(Cluster& cluster, const std::string& name,
                            int api_server) {
    return cluster
        .Create(apiserver::SecretsResource(), "default",
                SecretObject(name, name + "-value"), api_server)
        .status();
  }

  std::string ReadVia(Cluster& cluster, const std::string& name,
                      int api_server) {
    auto secret =
        cluster.Get(apiserver::SecretsResource(), "default", name, api_server);
    if (!secret.ok()) return "error: " + secret.status().message();
    return *base::Base64Decode((*secret)["data"]["value"].get<std::string>());
  }

  std::string key_;
};

TEST_F(ClusterApiServersTest, AddedServerSharesTheStore) {
  Cluster& cluster = EnabledCluster();

  base::StatusOr<int> added = cluster.AddApiServer();

  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 1);
  EXPECT_EQ(cluster.api_servers(), 2);
  ASSERT_TRUE(CreateSecret(cluster, "a", 0).ok());
  ASSERT_TRUE(CreateSecret(cluster, "b", 1).ok());
  EXPECT_EQ(ReadVia(cluster, "a", 1), "a-value");
  EXPECT_EQ(ReadVia(cluster, "b", 0), "b-value");
}

TEST_F(ClusterApiServersTest, UnknownServerIsNotFound) {
  Cluster& cluster = EnabledCluster();

  auto secret = cluster.Get(apiserver::SecretsResource(), "default", "x", 3);

  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), base::Code::kNotFound);
  EXPECT_NE(secret.status().message().find("API server 3 does not exist"),
            std::string::npos)
      << secret.status();
  EXPECT_EQ(cluster.RestartApiServer(-1).code(), base::Code::kNotFound);
}

TEST_F(ClusterApiServersTest, EachServerWrapsItsOwnDek) {
  Cluster& cluster = EnabledCluster();
  ASSERT_TRUE(cluster.AddApiServer().ok());
  ASSERT_TRUE(CreateSecret(cluster, "a", 0).ok());
  ASSERT_TRUE(CreateSecret(cluster, "b", 1).ok());

  ASSERT_TRUE(kms_->Disable(kp_, key_).ok());

  EXPECT_EQ(ReadVia(cluster, "a", 0), "a-value");
  EXPECT_EQ(ReadVia(cluster, "b", 1), "b-value");
  EXPECT_NE(ReadVia(cluster, "b", 0).find("unable to transform key"),
            std::string::npos);
  EXPECT_NE(ReadVia(cluster, "a", 1).find("unable to transform key"),
            std::string::npos);
}

TEST_F(ClusterApiServersTest, RestartDuringOutageNeverGetsHealthy) {
  Cluster& cluster = EnabledCluster();
  ASSERT_TRUE(CreateSecret(cluster, "a", 0).ok());
  kms::FaultSpec outage;
  outage.kind = kms::FaultKind::kOutage;
  auto fault = kms_->faults().Add(outage);
  ASSERT_TRUE(fault.ok());

  ASSERT_TRUE(cluster.RestartApiServer(0).ok());
  clock_.Advance(minutes(30));

  EXPECT_NE(ReadVia(cluster, "a", 0).find("got unexpected nil transformer"),
            std::string::npos);
  EXPECT_FALSE(cluster.KmsHealth(0).ok());
  kms_->faults().Remove(*fault);
  clock_.Advance(minutes(1));
  EXPECT_TRUE(cluster.KmsHealth(0).ok()) << cluster.KmsHealth(0);
  EXPECT_EQ(ReadVia(cluster, "a", 0), "a-value");
}

TEST_F(ClusterApiServersTest, HandlerReportsReadinessNotLiveness) {
  Cluster& cluster = EnabledCluster();
  auto handler = cluster.NewApiHandler(0);
  ASSERT_TRUE(handler.ok()) << handler.status();
  kms::FaultSpec outage;
  outage.kind = kms::FaultKind::kOutage;
  ASSERT_TRUE(kms_->faults().Add(outage).ok());

  clock_.Advance(minutes(2));

  EXPECT_EQ((*handler)->Handle({"GET", "/readyz", {}, ""}).status, 500);
  EXPECT_EQ(
      (*handler)->Handle({"GET", "/healthz/kms-providers", {}, ""}).status,
      500);
  EXPECT_EQ((*handler)->Handle({"GET", "/livez", {}, ""}).status, 200);
}

TEST_F(ClusterApiServersTest, ServersSurviveOpen) {
  auto created = Cluster::Create({.name = "prod", .version = V("1.19.16_1540")},
                                 Deps("prod"));
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<Cluster> cluster = std::move(*created);
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(*cluster, kp_, key);
  ASSERT_TRUE(cluster->AddApiServer().ok());
  ASSERT_TRUE(CreateSecret(*cluster, "a", 1).ok());

  cluster.reset();
  auto reopened = Cluster::Open(Deps("prod"));

  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->api_servers(), 2);
  EXPECT_EQ(ReadVia(**reopened, "a", 1), "a-value");
}

TEST_F(ClusterApiServersTest, CheckpointOpensAsCopy) {
  Cluster& cluster = EnabledCluster();
  ASSERT_TRUE(CreateSecret(cluster, "kept", 0).ok());
  std::string copy = dir_ + "/copy";

  ASSERT_TRUE(cluster.Checkpoint(copy).ok());
  ASSERT_TRUE(CreateSecret(cluster, "later", 0).ok());
  ClusterDeps deps = Deps("copy");
  deps.data_dir = copy;
  auto opened = Cluster::Open(deps);

  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(ReadSecret(**opened, "kept"), "kept-value");
  EXPECT_NE(ReadSecret(**opened, "later").find("not found"), std::string::npos);
  EXPECT_TRUE((*opened)->kms_enabled());
  EXPECT_EQ(cluster.Checkpoint(copy).code(), base::Code::kAlreadyExists);
}

}  // namespace
}  // namespace sim
