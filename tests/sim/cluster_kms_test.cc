// KMS enablement of the cluster model: provider types and switches,
// prerequisites, busy states and rotation.
#include <gtest/gtest.h>

#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::minutes;

class ClusterKmsTest : public SimEnv {};

// --- Provider types and switches ---

TEST_F(ClusterKmsTest, EnablingOtherProviderTypeSwitches) {
  std::string hpcs = CreateInstance("hpcs", kms::InstanceType::kHyperProtect);
  std::string kp_key = CreateRootKey(kp_, "kp-crk");
  std::string hpcs_key = CreateRootKey(hpcs, "hpcs-crk");
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  EnableAndWait(cluster, kp_, kp_key);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("old", "under-key-protect"))
                  .ok());

  EnableAndWait(cluster, hpcs, hpcs_key);

  EXPECT_EQ(cluster.kms_provider_type(), kms::InstanceType::kHyperProtect);
  EXPECT_EQ(cluster.kms_instance_id(), hpcs);
  std::vector<KmsProviderInfo> providers = cluster.KmsProviders();
  ASSERT_EQ(providers.size(), 2u);
  EXPECT_EQ(providers[0].key_id, hpcs_key);
  EXPECT_TRUE(providers[0].current);
  EXPECT_EQ(providers[1].key_id, kp_key);
  EXPECT_EQ(providers[1].type, kms::InstanceType::kKeyProtect);
  EXPECT_FALSE(providers[1].current);
  EXPECT_TRUE(
      HasEvent("switched the KMS provider from Key Protect to Hyper "
               "Protect Crypto Services"));
}

TEST_F(ClusterKmsTest, PreviousProviderKeysStillDecrypt) {
  std::string hpcs = CreateInstance("hpcs", kms::InstanceType::kHyperProtect);
  std::string kp_key = CreateRootKey(kp_, "kp-crk");
  std::string hpcs_key = CreateRootKey(hpcs, "hpcs-crk");
  // 1.17 does not rewrite existing Secrets, so "old" stays under kp_key.
  Cluster& cluster = MakeCluster("legacy", "1.17.17");
  EnableAndWait(cluster, kp_, kp_key);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("old", "under-key-protect"))
                  .ok());

  EnableAndWait(cluster, hpcs, hpcs_key);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("new", "under-hpcs"))
                  .ok());

  EXPECT_EQ(ReadSecret(cluster, "old"), "under-key-protect");
  EXPECT_EQ(ReadSecret(cluster, "new"), "under-hpcs");
  EXPECT_TRUE(Raw(cluster, "old")
                  .starts_with("k8s:enc:kms:v2:ibm-kms-" + kp_key + ":"));
  EXPECT_TRUE(Raw(cluster, "new")
                  .starts_with("k8s:enc:kms:v2:ibm-kms-" + hpcs_key + ":"));
}

TEST_F(ClusterKmsTest, OnlyOneProviderIsCurrent) {
  std::string hpcs = CreateInstance("hpcs", kms::InstanceType::kHyperProtect);
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "a"));
  EnableAndWait(cluster, hpcs, CreateRootKey(hpcs, "b"));
  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "c"));

  int current = 0;
  for (const KmsProviderInfo& provider : cluster.KmsProviders()) {
    if (provider.current) ++current;
  }
  EXPECT_EQ(current, 1);
  EXPECT_EQ(cluster.KmsProviders().size(), 3u);
  EXPECT_EQ(cluster.kms_provider_type(), kms::InstanceType::kKeyProtect);
}

TEST_F(ClusterKmsTest, DisableKmsFailsOnceEnabled) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);

  base::Status disabled = cluster.DisableKms();

  EXPECT_EQ(disabled.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(disabled.message().find("cannot be disabled"), std::string::npos)
      << disabled;
  EXPECT_TRUE(cluster.kms_enabled());
  EXPECT_EQ(cluster.crk_id(), key);
}

TEST_F(ClusterKmsTest, DisableKmsFailsBeforeEnablement) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");

  base::Status disabled = cluster.DisableKms();

  EXPECT_EQ(disabled.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(disabled.message().find("not enabled"), std::string::npos)
      << disabled;
}

TEST_F(ClusterKmsTest, PublicEndpointIsRecorded) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string key = CreateRootKey(kp_, "crk");

  ASSERT_TRUE(cluster.EnableKms(kp_, key, /*public_endpoint=*/true).ok());
  ASSERT_TRUE(AdvanceUntil([&] { return cluster.kms_enabled(); }, minutes(15)));

  EXPECT_TRUE(cluster.kms_public_endpoint());
  EXPECT_TRUE(HasEvent("over the public endpoint"));
}

// --- Prerequisites ---

class KmsPrerequisitesTest : public SimEnv {
 protected:
  void SetUp() override {
    SimEnv::SetUp();
    ASSERT_TRUE(account_.AddUser({"admin@example.com", "Admin"}).ok());
    ASSERT_TRUE(account_.AddUser({"editor@example.com", "Editor"}).ok());
    ASSERT_TRUE(account_.AddUser({"keys@example.com", "Key owner"}).ok());
    ClusterSpec spec;
    spec.name = "prod";
    spec.version = V("1.19.16_1540");
    cluster_ = &MakeCluster(spec, &account_);
    ASSERT_TRUE(account_
                    .AssignClusterRoles("admin@example.com", cluster_->id(),
                                        {PlatformRole::kAdministrator, {}})
                    .ok());
    ASSERT_TRUE(account_
                    .AssignClusterRoles("editor@example.com", cluster_->id(),
                                        {PlatformRole::kEditor, {}})
                    .ok());
    ASSERT_TRUE(
        account_
            .AssignKmsRoles("keys@example.com", kp_,
                            {PlatformRole::kEditor, ServiceRole::kWriter})
            .ok());
    ASSERT_TRUE(account_
                    .ResetApiKey("us-south", "keys@example.com", "ApiKey-1",
                                 clock_.Now())
                    .ok());
    key_ = CreateRootKey(kp_, "crk");
  }

  // Checks that a failed enablement changed nothing.
  void ExpectUnchanged() {
    EXPECT_EQ(cluster_->master_state(), MasterState::kReady);
    EXPECT_FALSE(cluster_->kms_enabled());
    EXPECT_TRUE(cluster_->KmsProviders().empty());
  }

  Account account_{"owner@example.com"};
  Cluster* cluster_ = nullptr;
  std::string key_;
};

TEST_F(KmsPrerequisitesTest, AdministratorCanEnable) {
  base::Status started = cluster_->EnableKmsAs("admin@example.com", kp_, key_);

  EXPECT_TRUE(started.ok()) << started;
  EXPECT_EQ(cluster_->master_state(), MasterState::kKmsEnabling);
}

TEST_F(KmsPrerequisitesTest, EditorIsRejectedNamingTheRole) {
  base::Status started = cluster_->EnableKmsAs("editor@example.com", kp_, key_);

  EXPECT_EQ(started.code(), base::Code::kPermissionDenied);
  EXPECT_NE(started.message().find("has the Editor platform role"),
            std::string::npos)
      << started;
  EXPECT_NE(started.message().find("needs the Administrator platform role"),
            std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, UnknownUserIsRejected) {
  base::Status started =
      cluster_->EnableKmsAs("stranger@example.com", kp_, key_);

  EXPECT_EQ(started.code(), base::Code::kNotFound);
  EXPECT_NE(started.message().find("not a member of the account"),
            std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, AllClustersPolicyGrantsAdministrator) {
  ASSERT_TRUE(account_
                  .AssignClusterRoles("editor@example.com", kAllResources,
                                      {PlatformRole::kAdministrator, {}})
                  .ok());

  EXPECT_TRUE(cluster_->EnableKmsAs("editor@example.com", kp_, key_).ok());
}

TEST_F(KmsPrerequisitesTest, UnknownInstanceIsNotFound) {
  base::Status started =
      cluster_->EnableKmsAs("admin@example.com", "no-such-instance", key_);

  EXPECT_EQ(started.code(), base::Code::kNotFound);
  EXPECT_NE(
      started.message().find("KMS instance \"no-such-instance\" not found"),
      std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, UnknownKeyIsNotFound) {
  base::Status started =
      cluster_->EnableKmsAs("admin@example.com", kp_, "no-such-key");

  EXPECT_EQ(started.code(), base::Code::kNotFound);
  EXPECT_NE(started.message().find("root key \"no-such-key\" not found"),
            std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, KeyOfAnotherInstanceNamesThatInstance) {
  std::string other = CreateInstance("kp-dev", kms::InstanceType::kKeyProtect);
  std::string foreign = CreateRootKey(other, "dev-crk");

  base::Status started =
      cluster_->EnableKmsAs("admin@example.com", kp_, foreign);

  EXPECT_EQ(started.code(), base::Code::kNotFound);
  EXPECT_NE(started.message().find("belongs to KMS instance kp-dev"),
            std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, StandardKeyIsRejected) {
  std::string standard = CreateStandardKey(kp_, "standard");

  base::Status started =
      cluster_->EnableKmsAs("admin@example.com", kp_, standard);

  EXPECT_EQ(started.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(started.message().find("standard key"), std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, DisabledKeyIsRejected) {
  ASSERT_TRUE(kms_->Disable(kp_, key_).ok());

  base::Status started = cluster_->EnableKmsAs("admin@example.com", kp_, key_);

  EXPECT_EQ(started.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(started.message().find("is Suspended"), std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, MissingApiKeyIsRejected) {
  ClusterSpec spec;
  spec.name = "eu";
  spec.version = V("1.19.16_1540");
  spec.region = "eu-de";
  Cluster& eu = MakeCluster(spec, &account_);

  base::Status started = eu.EnableKmsAs("owner@example.com", kp_, key_);

  EXPECT_EQ(started.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(started.message().find("no API key is set for region eu-de"),
            std::string::npos)
      << started;
  EXPECT_NE(started.message().find("api-key reset --region eu-de"),
            std::string::npos)
      << started;
  EXPECT_FALSE(eu.kms_enabled());
}

TEST_F(KmsPrerequisitesTest, ApiKeyOwnerWithoutWriterIsRejected) {
  ASSERT_TRUE(account_
                  .AssignKmsRoles("keys@example.com", kp_,
                                  {PlatformRole::kEditor, ServiceRole::kReader})
                  .ok());

  base::Status started = cluster_->EnableKmsAs("admin@example.com", kp_, key_);

  EXPECT_EQ(started.code(), base::Code::kPermissionDenied);
  EXPECT_NE(started.message().find("belongs to keys@example.com"),
            std::string::npos)
      << started;
  EXPECT_NE(started.message().find("the Reader service role"),
            std::string::npos)
      << started;
  EXPECT_NE(started.message().find("Editor platform and Writer service roles"),
            std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, ApiKeyOwnerWithoutEditorIsRejected) {
  ASSERT_TRUE(
      account_
          .AssignKmsRoles("keys@example.com", kp_,
                          {PlatformRole::kViewer, ServiceRole::kManager})
          .ok());

  base::Status started = cluster_->EnableKmsAs("admin@example.com", kp_, key_);

  EXPECT_EQ(started.code(), base::Code::kPermissionDenied);
  EXPECT_NE(started.message().find("the Viewer platform role"),
            std::string::npos)
      << started;
  ExpectUnchanged();
}

TEST_F(KmsPrerequisitesTest, ApiKeyRolesOnAnotherInstanceDoNotCount) {
  std::string other = CreateInstance("kp-dev", kms::InstanceType::kKeyProtect);
  std::string other_key = CreateRootKey(other, "dev-crk");

  base::Status started =
      cluster_->EnableKmsAs("admin@example.com", other, other_key);

  EXPECT_EQ(started.code(), base::Code::kPermissionDenied);
  EXPECT_NE(started.message().find("no platform role and no service role"),
            std::string::npos)
      << started;
}

// --- Busy states ---

TEST_F(ClusterKmsTest, EnablementShowsProgressThenReady) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string key = CreateRootKey(kp_, "crk");

  ASSERT_TRUE(cluster.EnableKms(kp_, key).ok());

  EXPECT_EQ(cluster.MasterStatusText(),
            "Key management service feature enablement in progress.");
  EXPECT_EQ(cluster.health(), MasterHealth::kUnavailable);
  EXPECT_FALSE(cluster.kms_enabled());
  ASSERT_TRUE(AdvanceUntil([&] { return cluster.kms_enabled(); }, minutes(15)));
  EXPECT_EQ(cluster.MasterStatusText(), "Ready (1 min ago)");
  EXPECT_EQ(cluster.health(), MasterHealth::kNormal);
}

TEST_F(ClusterKmsTest, SecondEnableWhileRunningIsBusy) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string first = CreateRootKey(kp_, "first");
  std::string second = CreateRootKey(kp_, "second");
  ASSERT_TRUE(cluster.EnableKms(kp_, first).ok());

  base::Status again = cluster.EnableKms(kp_, second);

  EXPECT_EQ(again.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(again.message().find("busy with another key management service"),
            std::string::npos)
      << again;
  ASSERT_TRUE(AdvanceUntil([&] { return cluster.kms_enabled(); }, minutes(15)));
  EXPECT_EQ(cluster.crk_id(), first);
  // The rejected key was never used, so it can be enabled later.
  EXPECT_TRUE(cluster.EnableKms(kp_, second).ok());
}

TEST_F(ClusterKmsTest, MasterUpdateRefusedDuringEnablement) {
  Cluster& cluster = MakeCluster("prod", "1.18.8_1525");
  ASSERT_TRUE(cluster.EnableKms(kp_, CreateRootKey(kp_, "crk")).ok());

  base::Status update = cluster.UpdateMaster(V("1.19.16_1540"));

  EXPECT_EQ(update.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(update.message().find("enablement is in progress"),
            std::string::npos)
      << update;
  EXPECT_EQ(cluster.version(), V("1.18.8_1525"));
}

TEST_F(ClusterKmsTest, EnableRefusedDuringMasterUpdate) {
  Cluster& cluster = MakeCluster("prod", "1.18.8_1525");
  ASSERT_TRUE(cluster.UpdateMaster(V("1.19.16_1540")).ok());

  base::Status started = cluster.EnableKms(kp_, CreateRootKey(kp_, "crk"));

  EXPECT_EQ(started.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(started.message().find("busy with a master update"),
            std::string::npos)
      << started;
}

TEST_F(ClusterKmsTest, KeyDisabledDuringEnablementFailsIt) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string key = CreateRootKey(kp_, "crk");
  ASSERT_TRUE(cluster.EnableKms(kp_, key).ok());
  ASSERT_TRUE(kms_->Disable(kp_, key).ok());

  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kReady; },
      minutes(15)));

  EXPECT_FALSE(cluster.kms_enabled());
  EXPECT_TRUE(HasEvent("failed: the root key is Suspended"));
  // The key never protected data, so it may be enabled once Active again.
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(kms_->Enable(kp_, key).ok());
  EXPECT_TRUE(cluster.EnableKms(kp_, key).ok());
}

// --- Rotation ---

TEST_F(ClusterKmsTest, RotationKeepsPreviousKeyForReads) {
  Cluster& cluster = MakeCluster("legacy", "1.17.17");
  std::string first = CreateRootKey(kp_, "first");
  std::string second = CreateRootKey(kp_, "second");
  EnableAndWait(cluster, kp_, first);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("db", "under-first"))
                  .ok());

  EnableAndWait(cluster, kp_, second);

  EXPECT_EQ(cluster.KmsProviders().size(), 2u);
  EXPECT_EQ(ReadSecret(cluster, "db"), "under-first");
  EXPECT_TRUE(Raw(cluster, "db").find(first) != std::string::npos);
}

TEST_F(ClusterKmsTest, PreviousRootKeyCannotBeReused) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");
  std::string first = CreateRootKey(kp_, "first");
  std::string second = CreateRootKey(kp_, "second");
  EnableAndWait(cluster, kp_, first);
  EnableAndWait(cluster, kp_, second);

  base::Status reused = cluster.EnableKms(kp_, first);

  EXPECT_EQ(reused.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(reused.message().find("cannot be reused"), std::string::npos)
      << reused;
  EXPECT_EQ(cluster.master_state(), MasterState::kReady);
  EXPECT_EQ(cluster.crk_id(), second);
}

TEST_F(ClusterKmsTest, RotationInsideKmsIsFollowedFrom1188) {
  Cluster& cluster = MakeCluster("prod", "1.18.8_1525");
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("db", "v1-data"))
                  .ok());
  std::string v1 = kms_->GetKey(kp_, key)->versions.front().id;
  ASSERT_NE(Raw(cluster, "db").find(key + ":" + v1), std::string::npos);

  auto rotated = kms_->Rotate(kp_, key);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  std::string v2 = rotated->versions.back().id;
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("api", "v2-data"))
                  .ok());

  EXPECT_TRUE(cluster.KmsProviders()[0].follows_key_rotation);
  EXPECT_NE(Raw(cluster, "api").find(key + ":" + v2), std::string::npos);
  EXPECT_TRUE(HasEvent("was rotated in the KMS"));
  // The old object is stale: a no-op update rewrites it once.
  auto db = cluster.Get(apiserver::SecretsResource(), "default", "db");
  ASSERT_TRUE(db.ok());
  auto first = cluster.Update(apiserver::SecretsResource(), "default", *db);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->written);
  EXPECT_NE(Raw(cluster, "db").find(key + ":" + v2), std::string::npos);
  auto second =
      cluster.Update(apiserver::SecretsResource(), "default", first->object);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->written);
}

TEST_F(ClusterKmsTest, RotationInsideKmsIgnoredBefore1188) {
  Cluster& cluster = MakeCluster("old", "1.18.4_1520");
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("db", "data"))
                  .ok());
  std::string v1 = kms_->GetKey(kp_, key)->versions.front().id;

  ASSERT_TRUE(kms_->Rotate(kp_, key).ok());
  // Let the provider's status probe run a few times.
  clock_.Advance(minutes(5));
  ASSERT_TRUE(cluster
                  .Create(apiserver::SecretsResource(), "default",
                          SecretObject("api", "after-rotation"))
                  .ok());

  EXPECT_FALSE(cluster.KmsProviders()[0].follows_key_rotation);
  EXPECT_FALSE(cluster.kms_key_registered());
  EXPECT_NE(Raw(cluster, "api").find(key + ":" + v1), std::string::npos);
  auto db = cluster.Get(apiserver::SecretsResource(), "default", "db");
  ASSERT_TRUE(db.ok());
  auto updated = cluster.Update(apiserver::SecretsResource(), "default", *db);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->written);
  EXPECT_EQ(ReadSecret(cluster, "api"), "after-rotation");
}

}  // namespace
}  // namespace sim
