// How the cluster model notices root key changes: disable, enable, delete,
// restore and expiry, by version.
#include <gtest/gtest.h>

#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class ClusterDetectionTest : public SimEnv {
 protected:
  Cluster& EnabledCluster(const std::string& version) {
    Cluster& cluster = MakeCluster("prod", version);
    key_ = CreateRootKey(kp_, "crk");
    EnableAndWait(cluster, kp_, key_);
    EXPECT_TRUE(cluster
                    .Create(apiserver::SecretsResource(), "default",
                            SecretObject("db", "hunter2"))
                    .ok());
    return cluster;
  }

  bool Unusable(const Cluster& cluster) {
    return cluster.master_state() == MasterState::kKeyUnusable ||
           cluster.master_state() == MasterState::kDataLost;
  }

  std::string key_;
};

TEST_F(ClusterDetectionTest, DisabledKeyReportedWithinMinutesFrom119) {
  Cluster& cluster = EnabledCluster("1.19.16_1540");

  ASSERT_TRUE(kms_->Disable(kp_, key_).ok());

  ASSERT_TRUE(AdvanceUntil([&] { return Unusable(cluster); }, minutes(10)));
  EXPECT_EQ(cluster.health(), MasterHealth::kWarning);
  EXPECT_EQ(cluster.MasterStatusText(),
            "The root key " + key_ +
                " is disabled. The master cannot decrypt its data; enable "
                "the root key to restore it.");
  EXPECT_EQ(cluster.HealthMessage(), cluster.MasterStatusText());
  auto listed = cluster.List(apiserver::SecretsResource(), "");
  EXPECT_EQ(listed.status().message(),
            "Unable to connect to the server: dial tcp " +
                cluster.master_endpoint() + ": i/o timeout");
  auto config = cluster.Kubeconfig("owner@example.com");
  EXPECT_EQ(config.status().code(), base::Code::kUnavailable);
}

TEST_F(ClusterDetectionTest, EnabledKeyRestoresClusterFrom119) {
  Cluster& cluster = EnabledCluster("1.19.16_1540");
  ASSERT_TRUE(kms_->Disable(kp_, key_).ok());
  ASSERT_TRUE(AdvanceUntil([&] { return Unusable(cluster); }, minutes(10)));

  ASSERT_TRUE(kms_->Enable(kp_, key_).ok());

  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kReady; },
      minutes(10)));
  EXPECT_EQ(cluster.health(), MasterHealth::kNormal);
  EXPECT_EQ(ReadSecret(cluster, "db"), "hunter2");
  EXPECT_TRUE(cluster.Kubeconfig("owner@example.com").ok());
}

TEST_F(ClusterDetectionTest, DisabledKeyDetectedSlowlyBefore119) {
  Cluster& cluster = EnabledCluster("1.18.8_1525");

  ASSERT_TRUE(kms_->Disable(kp_, key_).ok());
  clock_.Advance(minutes(10));

  EXPECT_EQ(cluster.master_state(), MasterState::kReady);
  ASSERT_TRUE(AdvanceUntil([&] { return Unusable(cluster); }, hours(2)));
  // Before 1.19 the health reports nothing about the root key.
  EXPECT_EQ(cluster.health(), MasterHealth::kNormal);
  EXPECT_TRUE(cluster.MasterStatusText().starts_with("Ready ("));
  EXPECT_FALSE(cluster.Get(apiserver::SecretsResource(), "default", "db").ok());
  EXPECT_FALSE(cluster.Kubeconfig("owner@example.com").ok());
}

TEST_F(ClusterDetectionTest, MasterRefreshDetectsDisabledKeyAtOnce) {
  Cluster& cluster = EnabledCluster("1.17.17");
  ASSERT_TRUE(kms_->Disable(kp_, key_).ok());

  ASSERT_TRUE(cluster.RefreshMaster().ok());

  EXPECT_EQ(cluster.master_state(), MasterState::kKeyUnusable);
}

TEST_F(ClusterDetectionTest, DeleteRefusedWhileRegisteredFrom1188) {
  EnabledCluster("1.18.8_1525");

  auto deleted = kms_->Delete(kp_, key_);

  EXPECT_EQ(deleted.status().reason(), kms::kReasonProtectedResource);
}

TEST_F(ClusterDetectionTest, ForcedDeleteLosesDataForGood) {
  Cluster& cluster = EnabledCluster("1.19.16_1540");

  ASSERT_TRUE(kms_->Delete(kp_, key_, /*force=*/true).ok());
  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kDataLost; },
      minutes(10)));
  clock_.Advance(seconds(31));
  ASSERT_TRUE(kms_->Restore(kp_, key_).ok());
  clock_.Advance(hours(1));

  EXPECT_EQ(cluster.master_state(), MasterState::kDataLost);
  EXPECT_EQ(cluster.health(), MasterHealth::kCritical);
  EXPECT_EQ(Raw(cluster, "db").rfind("error: ", 0), 0u);
  EXPECT_EQ(cluster.EnableKms(kp_, CreateRootKey(kp_, "new")).code(),
            base::Code::kFailedPrecondition);
}

TEST_F(ClusterDetectionTest, DeleteAllowedAndLosesDataBefore1188) {
  Cluster& cluster = EnabledCluster("1.17.17");

  ASSERT_TRUE(kms_->Delete(kp_, key_).ok());

  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kDataLost; },
      hours(2)));
  EXPECT_EQ(cluster.health(), MasterHealth::kNormal);
}

// Expiry: the KMS deactivates the key within an hour of its expirationDate.
// The cluster becomes unusable about an hour after that, or at the next
// master refresh when that comes first.
class ExpiryTest : public ClusterDetectionTest {
 protected:
  void SetUp() override {
    ClusterDetectionTest::SetUp();
    kms_->Subscribe([this](const kms::KeyEvent& event) {
      if (event.type == kms::KeyEventType::kExpired) expired_at_ = event.time;
    });
  }

  Cluster& ClusterWithExpiringKey(const std::string& version,
                                  base::Duration expires_in) {
    Cluster& cluster = MakeCluster("prod", version);
    key_ = CreateRootKey(kp_, "crk", expires_in);
    EnableAndWait(cluster, kp_, key_);
    return cluster;
  }

  std::optional<base::Time> expired_at_;
};

TEST_F(ExpiryTest, KeyDeactivatedWithinAnHourOfExpiration) {
  base::Time expiration = clock_.Now() + hours(3);
  ClusterWithExpiringKey("1.17.17", hours(3));

  ASSERT_TRUE(AdvanceUntil([&] { return expired_at_.has_value(); }, hours(5)));

  EXPECT_GE(*expired_at_, expiration);
  EXPECT_LE(*expired_at_, expiration + hours(1));
  EXPECT_EQ(kms_->GetKey(kp_, key_)->state, kms::KeyState::kDeactivated);
}

TEST_F(ExpiryTest, ClusterUnusableAboutAnHourAfterDeactivation) {
  Cluster& cluster = ClusterWithExpiringKey("1.18.4_1520", hours(3));
  ASSERT_TRUE(AdvanceUntil([&] { return expired_at_.has_value(); }, hours(5)));

  ASSERT_TRUE(AdvanceUntil([&] { return Unusable(cluster); }, hours(2)));

  EXPECT_LE(clock_.Now() - *expired_at_, minutes(60));
  EXPECT_EQ(cluster.master_state(), MasterState::kKeyUnusable);
  EXPECT_FALSE(cluster.Get(apiserver::SecretsResource(), "default", "x").ok());
}

TEST_F(ExpiryTest, MasterRefreshAfterDeactivationMakesUnusable) {
  Cluster& cluster = ClusterWithExpiringKey("1.17.17", hours(3));
  ASSERT_TRUE(AdvanceUntil([&] { return expired_at_.has_value(); }, hours(5)));
  ASSERT_FALSE(Unusable(cluster));

  ASSERT_TRUE(cluster.RefreshMaster().ok());

  EXPECT_EQ(cluster.master_state(), MasterState::kKeyUnusable);
  EXPECT_EQ(cluster.MasterStatusText().substr(0, 6), "Ready ");
}

TEST_F(ExpiryTest, ExpiryReportedWithinMinutesFrom119) {
  Cluster& cluster = ClusterWithExpiringKey("1.19.16_1540", hours(3));
  ASSERT_TRUE(AdvanceUntil([&] { return expired_at_.has_value(); }, hours(5)));

  ASSERT_TRUE(AdvanceUntil([&] { return Unusable(cluster); }, minutes(5)));

  EXPECT_EQ(cluster.health(), MasterHealth::kWarning);
  EXPECT_NE(cluster.MasterStatusText().find("is expired"), std::string::npos);
}

}  // namespace
}  // namespace sim
