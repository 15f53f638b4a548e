// Versions, master updates, health, status text and kubeconfig of the
// cluster model.
#include <gtest/gtest.h>

#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::minutes;

class ClusterMasterTest : public SimEnv {
 protected:
  void UpdateAndWait(Cluster& cluster, const std::string& version) {
    base::Status started = cluster.UpdateMaster(V(version));
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_TRUE(AdvanceUntil(
        [&] { return cluster.master_state() == MasterState::kReady; },
        minutes(30)));
    ASSERT_EQ(cluster.version(), V(version));
  }
};

TEST(VersionFeatures, ByVersion) {
  Features v117 = FeaturesOf(V("1.17.17"));
  Features v1184 = FeaturesOf(V("1.18.4_1520"));
  Features v1188 = FeaturesOf(V("1.18.8_1525"));
  Features v119 = FeaturesOf(V("1.19.16_1540"));

  EXPECT_FALSE(v117.rewrites_existing_secrets);
  EXPECT_FALSE(v117.registers_root_key);
  EXPECT_TRUE(v1184.rewrites_existing_secrets);
  EXPECT_FALSE(v1184.registers_root_key);
  EXPECT_TRUE(v1188.registers_root_key);
  EXPECT_FALSE(v1188.reports_key_health);
  EXPECT_TRUE(v119.registers_root_key);
  EXPECT_TRUE(v119.reports_key_health);
}

TEST_F(ClusterMasterTest, UpdatePathChangesFeatures) {
  Cluster& cluster = MakeCluster("prod", "1.17.17");
  ASSERT_FALSE(cluster.features().registers_root_key);

  UpdateAndWait(cluster, "1.18.8_1525");
  EXPECT_TRUE(cluster.features().registers_root_key);
  EXPECT_FALSE(cluster.features().reports_key_health);

  UpdateAndWait(cluster, "1.19.16_1540");
  EXPECT_TRUE(cluster.features().reports_key_health);
  EXPECT_EQ(cluster.spec().version, V("1.17.17"));
  EXPECT_TRUE(HasEvent("master updated to 1.19.16_1540"));
}

TEST_F(ClusterMasterTest, UpdateShowsProgressAndUnavailableHealth) {
  Cluster& cluster = MakeCluster("prod", "1.18.8_1525");

  ASSERT_TRUE(cluster.UpdateMaster(V("1.19.16_1540")).ok());

  EXPECT_EQ(cluster.master_state(), MasterState::kUpdating);
  EXPECT_EQ(cluster.health(), MasterHealth::kUnavailable);
  EXPECT_EQ(cluster.MasterStatusText(),
            "Version update in progress to 1.19.16_1540.");
  EXPECT_EQ(cluster.version(), V("1.18.8_1525"));
  EXPECT_EQ(cluster.UpdateMaster(V("1.19.16_1540")).code(),
            base::Code::kFailedPrecondition);
}

TEST_F(ClusterMasterTest, UpdateRejectsOlderOrSkippedVersions) {
  Cluster& cluster = MakeCluster("prod", "1.18.8_1525");

  base::Status older = cluster.UpdateMaster(V("1.18.4_1520"));
  base::Status same = cluster.UpdateMaster(V("1.18.8_1525"));
  base::Status skipped = cluster.UpdateMaster(V("1.20.7_1543"));
  base::Status major = cluster.UpdateMaster(V("2.0.0"));

  EXPECT_EQ(older.code(), base::Code::kInvalidArgument);
  EXPECT_EQ(same.code(), base::Code::kInvalidArgument);
  EXPECT_EQ(skipped.code(), base::Code::kInvalidArgument);
  EXPECT_NE(skipped.message().find("update to 1.19 first"), std::string::npos)
      << skipped;
  EXPECT_EQ(major.code(), base::Code::kInvalidArgument);
  EXPECT_EQ(cluster.master_state(), MasterState::kReady);
}

TEST_F(ClusterMasterTest, UpdateRefusedWhileUnusable) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);
  ASSERT_TRUE(kms_->Disable(kp_, key).ok());
  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kKeyUnusable; },
      minutes(10)));

  base::Status update = cluster.UpdateMaster(V("1.20.7_1543"));

  EXPECT_EQ(update.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(update.message().find("enable the root key"), std::string::npos)
      << update;
}

TEST_F(ClusterMasterTest, ReenableAfterUpdateRegistersKey) {
  Cluster& cluster = MakeCluster("prod", "1.17.17");
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);
  ASSERT_FALSE(cluster.kms_key_registered());
  UpdateAndWait(cluster, "1.18.8_1525");
  EXPECT_FALSE(cluster.kms_key_registered());
  EXPECT_TRUE(kms_->ListRegistrations(kp_, key).empty());
  EXPECT_TRUE(HasEvent("enable KMS again with root key " + key));

  EnableAndWait(cluster, kp_, key);

  EXPECT_TRUE(cluster.kms_key_registered());
  ASSERT_EQ(kms_->ListRegistrations(kp_, key).size(), 1u);
  EXPECT_EQ(cluster.KmsProviders().size(), 1u);
  EXPECT_TRUE(cluster.KmsProviders()[0].follows_key_rotation);
  EXPECT_EQ(kms_->Delete(kp_, key).status().reason(),
            kms::kReasonProtectedResource);
}

TEST_F(ClusterMasterTest, ReenableKeepsDataWrittenBeforeUpdate) {
  Cluster& cluster = MakeCluster("prod", "1.17.17");
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("db", "before-update"))
                  .ok());
  ASSERT_TRUE(kms_->Rotate(kp_, key).ok());
  UpdateAndWait(cluster, "1.18.8_1525");

  EnableAndWait(cluster, kp_, key);

  EXPECT_EQ(ReadSecret(cluster, "db"), "before-update");
  std::string newest = kms_->GetKey(kp_, key)->versions.back().id;
  // The re-enabled provider follows the rotation and rewrote the Secret.
  EXPECT_NE(Raw(cluster, "db").find(key + ":" + newest), std::string::npos);
}

TEST_F(ClusterMasterTest, ServiceAuthorizationCreatedFrom1188) {
  Account account("owner@example.com");
  ASSERT_TRUE(
      account.ResetApiKey("us-south", "owner@example.com", "k1", clock_.Now())
          .ok());
  ClusterSpec spec;
  spec.name = "prod";
  spec.version = V("1.18.8_1525");
  Cluster& cluster = MakeCluster(spec, &account);

  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "crk"));

  ASSERT_EQ(account.ListServiceAuthorizations().size(), 1u);
  ServiceAuthorization created = account.ListServiceAuthorizations()[0];
  EXPECT_EQ(created.source_service, "containers-kubernetes");
  EXPECT_EQ(created.target_service, "kms");
  EXPECT_EQ(created.target_resource, kp_);
  EXPECT_EQ(created.role, ServiceRole::kReader);
  EXPECT_TRUE(HasEvent("created the Reader service-to-service authorization"));
}

TEST_F(ClusterMasterTest, ServiceAuthorizationNotCreatedBefore1188) {
  Account account("owner@example.com");
  ASSERT_TRUE(
      account.ResetApiKey("us-south", "owner@example.com", "k1", clock_.Now())
          .ok());
  ClusterSpec spec;
  spec.name = "prod";
  spec.version = V("1.18.4_1520");
  Cluster& cluster = MakeCluster(spec, &account);

  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "crk"));

  EXPECT_TRUE(account.ListServiceAuthorizations().empty());
}

TEST_F(ClusterMasterTest, ExistingServiceAuthorizationIsKept) {
  Account account("owner@example.com");
  ASSERT_TRUE(
      account.ResetApiKey("us-south", "owner@example.com", "k1", clock_.Now())
          .ok());
  ServiceAuthorization all;
  all.target_resource = kAllResources;
  ASSERT_TRUE(account.AddServiceAuthorization(all).ok());
  ClusterSpec spec;
  spec.name = "prod";
  spec.version = V("1.19.16_1540");
  Cluster& cluster = MakeCluster(spec, &account);

  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "crk"));

  ASSERT_EQ(account.ListServiceAuthorizations().size(), 1u);
  EXPECT_EQ(account.ListServiceAuthorizations()[0].target_resource, "*");
}

TEST_F(ClusterMasterTest, HealthNamesMatchTheService) {
  EXPECT_EQ(MasterHealthName(MasterHealth::kNormal), "normal");
  EXPECT_EQ(MasterHealthName(MasterHealth::kWarning), "warning");
  EXPECT_EQ(MasterHealthName(MasterHealth::kCritical), "critical");
  EXPECT_EQ(MasterHealthName(MasterHealth::kUnavailable), "unavailable");
}

TEST_F(ClusterMasterTest, ReadyStatusCountsTime) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");

  EXPECT_EQ(cluster.MasterStatusText(), "Ready (1 min ago)");
  clock_.Advance(minutes(42));
  EXPECT_EQ(cluster.MasterStatusText(), "Ready (42 min ago)");
  clock_.Advance(std::chrono::hours(3));
  EXPECT_EQ(cluster.MasterStatusText(), "Ready (3 hours ago)");
  clock_.Advance(std::chrono::hours(24 * 3));
  EXPECT_EQ(cluster.MasterStatusText(), "Ready (3 days ago)");
  EXPECT_EQ(cluster.HealthMessage(), "");
}

TEST_F(ClusterMasterTest, KubeconfigNamesEndpointAndToken) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");

  auto config = cluster.Kubeconfig("dev@example.com");

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_NE(config->find("server: https://" + cluster.master_endpoint()),
            std::string::npos);
  EXPECT_NE(config->find("token: " + cluster.api_token()), std::string::npos);
  EXPECT_NE(config->find("current-context: prod/" + cluster.id()),
            std::string::npos);
  EXPECT_NE(config->find("name: dev@example.com/prod"), std::string::npos);
}

TEST_F(ClusterMasterTest, EndpointCanBeGiven) {
  ClusterDeps deps = Deps("local");
  deps.master_endpoint = "127.0.0.1:6443";
  ClusterSpec spec;
  spec.name = "local";
  spec.version = V("1.19.16_1540");

  auto cluster = Cluster::Create(spec, deps);

  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ((*cluster)->master_endpoint(), "127.0.0.1:6443");
}

TEST_F(ClusterMasterTest, InvalidNameIsRejected) {
  ClusterSpec spec;
  spec.name = "9 lives";
  spec.version = V("1.19.16_1540");

  auto cluster = Cluster::Create(spec, Deps("bad"));

  EXPECT_EQ(cluster.status().code(), base::Code::kInvalidArgument);
}

TEST_F(ClusterMasterTest, UnsupportedVersionIsRejected) {
  for (const char* version : {"9.9.9", "1.16.15_1555", "1.22.4", "2.19"}) {
    ClusterSpec spec;
    spec.name = "prod";
    spec.version = V(version);

    auto cluster = Cluster::Create(spec, Deps("prod"));

    EXPECT_EQ(cluster.status().code(), base::Code::kInvalidArgument) << version;
    EXPECT_NE(cluster.status().message().find(
                  "offers Kubernetes 1.17, 1.18, 1.19, 1.20 and 1.21"),
              std::string::npos)
        << cluster.status();
  }
}

TEST_F(ClusterMasterTest, UnknownRegionOrZoneIsRejected) {
  ClusterSpec mars;
  mars.name = "prod";
  mars.version = V("1.19.16_1540");
  mars.region = "mars-1";
  ClusterSpec zone = mars;
  zone.region = "us-south";
  zone.zone = "dal10\nx";

  auto in_mars = Cluster::Create(mars, Deps("mars"));
  auto bad_zone = Cluster::Create(zone, Deps("zone"));

  EXPECT_EQ(in_mars.status().code(), base::Code::kInvalidArgument);
  EXPECT_NE(in_mars.status().message().find(
                "unknown region \"mars-1\": the simulated service offers "
                "au-syd, eu-de, eu-gb, jp-tok, us-east, us-south"),
            std::string::npos)
      << in_mars.status();
  EXPECT_EQ(bad_zone.status().code(), base::Code::kInvalidArgument);
  EXPECT_NE(bad_zone.status().message().find("invalid zone \"dal10\\x0Ax\""),
            std::string::npos)
      << bad_zone.status();
}

TEST_F(ClusterMasterTest, UpdateToUnsupportedVersionIsRejected) {
  Cluster& cluster = MakeCluster("prod", "1.21.14_1560");

  base::Status update = cluster.UpdateMaster(V("1.22.4"));

  EXPECT_EQ(update.code(), base::Code::kInvalidArgument);
  EXPECT_EQ(cluster.master_state(), MasterState::kReady);
}

TEST_F(ClusterMasterTest, RefreshClearsDekCache) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "crk"));
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("db", "data"))
                  .ok());
  int64_t unwraps_before = kms_->CallCounts()["unwrap"].ok;

  ASSERT_TRUE(cluster.RefreshMaster().ok());
  EXPECT_EQ(ReadSecret(cluster, "db"), "data");

  EXPECT_EQ(kms_->CallCounts()["unwrap"].ok, unwraps_before + 1);
  EXPECT_TRUE(HasEvent("master refreshed"));
}

TEST_F(ClusterMasterTest, RefreshRefusedDuringEnablement) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  ASSERT_TRUE(cluster.EnableKms(kp_, CreateRootKey(kp_, "crk")).ok());

  EXPECT_EQ(cluster.RefreshMaster().code(), base::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace sim
