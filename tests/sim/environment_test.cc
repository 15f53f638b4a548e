// Environment: an account's clusters and KMS in a data directory, restored
// by a later Open.
#include "sim/environment.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::minutes;

// The permission bits of a file or directory.
mode_t ModeOf(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

class EnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);
    std::string pattern = ::testing::TempDir() + "env_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Reopen();
  }

  void TearDown() override {
    env_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Closes and opens the environment as a new process would, on a clock
  // that starts where the old one stopped.
  void Reopen() {
    base::Time now = clock_ ? clock_->Now() : TestStart();
    env_.reset();
    clock_ = std::make_unique<base::SimulatedClock>(now);
    random_ = std::make_unique<base::SeededRandom>(++opens_);
    EnvironmentOptions options;
    options.data_dir = dir_;
    auto env = Environment::Open(*clock_, *random_, options);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
  }

  ClusterSpec Spec(const std::string& name,
                   const std::string& region = "us-south") {
    ClusterSpec spec;
    spec.name = name;
    spec.version = V("1.19.16_1540");
    spec.region = region;
    spec.workers = 1;
    return spec;
  }

  size_t ClusterDirs() {
    size_t count = 0;
    for (const auto& entry :
         std::filesystem::directory_iterator(dir_ + "/clusters")) {
      if (entry.is_directory()) ++count;
    }
    return count;
  }

  std::string dir_;
  uint64_t opens_ = 0;
  std::unique_ptr<base::SimulatedClock> clock_;
  std::unique_ptr<base::SeededRandom> random_;
  std::unique_ptr<Environment> env_;
};

TEST_F(EnvironmentTest, FirstClusterOfRegionSetsApiKey) {
  ASSERT_TRUE(env_->account().AddUser({"admin@example.com", "Admin"}).ok());
  ASSERT_TRUE(env_->account()
                  .AssignClusterRoles("admin@example.com", kAllResources,
                                      {PlatformRole::kAdministrator, {}})
                  .ok());

  ASSERT_TRUE(env_->CreateCluster(Spec("a"), "admin@example.com").ok());
  ASSERT_TRUE(env_->CreateCluster(Spec("b"), kDefaultOwner).ok());

  ASSERT_TRUE(env_->account().GetApiKey("us-south").has_value());
  EXPECT_EQ(env_->account().GetApiKey("us-south")->owner, "admin@example.com");
  EXPECT_FALSE(env_->account().GetApiKey("eu-de").has_value());
}

TEST_F(EnvironmentTest, CreateNeedsAdministratorOnAllClusters) {
  ASSERT_TRUE(env_->account().AddUser({"dev@example.com", "Dev"}).ok());
  ASSERT_TRUE(env_->account()
                  .AssignClusterRoles("dev@example.com", kAllResources,
                                      {PlatformRole::kEditor, {}})
                  .ok());

  auto created = env_->CreateCluster(Spec("a"), "dev@example.com");

  EXPECT_EQ(created.status().code(), base::Code::kPermissionDenied);
  EXPECT_TRUE(env_->Clusters().empty());
}

TEST_F(EnvironmentTest, DuplicateNameIsRejected) {
  ASSERT_TRUE(env_->CreateCluster(Spec("prod"), kDefaultOwner).ok());

  auto again = env_->CreateCluster(Spec("prod"), kDefaultOwner);

  EXPECT_EQ(again.status().code(), base::Code::kAlreadyExists);
  EXPECT_EQ(env_->Clusters().size(), 1u);
  EXPECT_EQ(ClusterDirs(), 1u);
}

TEST_F(EnvironmentTest, FailedCreateLeavesNoDirectory) {
  ClusterSpec spec = Spec("prod");
  spec.flavor = "no-such-flavor";

  auto created = env_->CreateCluster(spec, kDefaultOwner);

  EXPECT_EQ(created.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(ClusterDirs(), 0u);
  Reopen();
  EXPECT_TRUE(env_->Clusters().empty());
}

TEST_F(EnvironmentTest, FindByNameOrId) {
  auto created = env_->CreateCluster(Spec("prod"), kDefaultOwner);
  ASSERT_TRUE(created.ok());

  EXPECT_EQ(*env_->FindCluster("prod"), *created);
  EXPECT_EQ(*env_->FindCluster((*created)->id()), *created);
  auto missing = env_->FindCluster("staging");
  EXPECT_EQ(missing.status().code(), base::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("clusters are prod"),
            std::string::npos)
      << missing.status();
}

TEST_F(EnvironmentTest, ReopenRestoresClustersKeysAndSecrets) {
  auto instance =
      env_->kms().CreateInstance("kp", kms::InstanceType::kKeyProtect);
  ASSERT_TRUE(instance.ok());
  kms::CreateKeyRequest request;
  request.name = "crk";
  auto key = env_->kms().CreateKey(instance->id, request);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(env_->CreateCluster(Spec("first"), kDefaultOwner).ok());
  auto second = env_->CreateCluster(Spec("second"), kDefaultOwner);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE((*second)->EnableKms(instance->id, key->id).ok());
  clock_->Advance(minutes(15));
  ASSERT_TRUE((*second)->kms_enabled());
  ASSERT_TRUE((*second)
                  ->Create(apiserver::SecretsResource(), "default",
                           SecretObject("db", "kept"))
                  .ok());

  Reopen();

  ASSERT_EQ(env_->Clusters().size(), 2u);
  EXPECT_EQ(env_->Clusters()[0]->spec().name, "first");
  Cluster* restored = *env_->FindCluster("second");
  EXPECT_TRUE(restored->kms_enabled());
  EXPECT_EQ(ReadSecret(*restored, "db"), "kept");
  EXPECT_EQ(env_->kms().GetKey(instance->id, key->id)->state,
            kms::KeyState::kActive);
  EXPECT_EQ(env_->kms().ListRegistrations(instance->id, key->id).size(), 1u);
}

TEST_F(EnvironmentTest, PendingEnablementFinishesAfterReopen) {
  auto instance =
      env_->kms().CreateInstance("kp", kms::InstanceType::kKeyProtect);
  kms::CreateKeyRequest request;
  request.name = "crk";
  auto key = env_->kms().CreateKey(instance->id, request);
  auto cluster = env_->CreateCluster(Spec("prod"), kDefaultOwner);
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE((*cluster)->EnableKms(instance->id, key->id).ok());

  Reopen();
  Cluster* restored = *env_->FindCluster("prod");
  EXPECT_EQ(restored->master_state(), MasterState::kKmsEnabling);
  clock_->Advance(minutes(15));

  EXPECT_TRUE(restored->kms_enabled());
  EXPECT_EQ(restored->master_state(), MasterState::kReady);
}

TEST_F(EnvironmentTest, AccountChangesSurviveReopen) {
  ASSERT_TRUE(env_->account().AddUser({"dev@example.com", "Dev"}).ok());

  Reopen();

  EXPECT_TRUE(env_->account().GetUser("dev@example.com").ok());
  EXPECT_EQ(env_->account().owner(), kDefaultOwner);
}

// The data directory contains KMS key material, cluster tokens and Secrets,
// so only its owner may read it, whatever the umask, even when an earlier
// version created the directory open to others.
TEST_F(EnvironmentTest, StateIsPrivateUnderAnyUmask) {
  std::filesystem::permissions(dir_, std::filesystem::perms(0755));
  mode_t previous = ::umask(022);
  Reopen();
  auto cluster = env_->CreateCluster(Spec("prod"), kDefaultOwner);
  std::string copy = dir_ + "-copy";
  base::Status checkpoint = env_->Checkpoint(copy);
  ::umask(previous);

  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint;
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/clusters"), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/account.json"), 0600u);
  EXPECT_EQ(ModeOf((*cluster)->data_dir()), 0700u);
  EXPECT_EQ(ModeOf((*cluster)->data_dir() + "/cluster.json"), 0600u);
  EXPECT_EQ(ModeOf(copy), 0700u);
  EXPECT_EQ(ModeOf(copy + "/account.json"), 0600u);
  std::filesystem::remove_all(copy);
}

TEST_F(EnvironmentTest, CheckpointOpensAsCopy) {
  auto instance =
      env_->kms().CreateInstance("kp", kms::InstanceType::kKeyProtect);
  ASSERT_TRUE(instance.ok());
  kms::CreateKeyRequest request;
  request.name = "crk";
  auto key = env_->kms().CreateKey(instance->id, request);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(env_->account().AddUser({"dev@example.com", "Dev"}).ok());
  auto cluster = env_->CreateCluster(Spec("prod"), kDefaultOwner);
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE((*cluster)->EnableKms(instance->id, key->id).ok());
  clock_->Advance(minutes(15));
  ASSERT_TRUE((*cluster)
                  ->Create(apiserver::SecretsResource(), "default",
                           SecretObject("db", "kept"))
                  .ok());
  std::string copy = dir_ + "-copy";

  ASSERT_TRUE(env_->Checkpoint(copy).ok());
  ASSERT_TRUE(env_->kms().Disable(instance->id, key->id).ok());
  EnvironmentOptions options;
  options.data_dir = copy;
  base::SimulatedClock copy_clock(clock_->Now());
  base::SeededRandom copy_random(99);
  auto opened = Environment::Open(copy_clock, copy_random, options);

  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE((*opened)->account().GetUser("dev@example.com").ok());
  EXPECT_EQ((*opened)->kms().GetKey(instance->id, key->id)->state,
            kms::KeyState::kActive);
  Cluster* restored = *(*opened)->FindCluster("prod");
  EXPECT_TRUE(restored->kms_enabled());
  EXPECT_EQ(ReadSecret(*restored, "db"), "kept");
  EXPECT_EQ(env_->Checkpoint(copy).code(), base::Code::kAlreadyExists);
  opened->reset();
  std::filesystem::remove_all(copy);
}

}  // namespace
}  // namespace sim
