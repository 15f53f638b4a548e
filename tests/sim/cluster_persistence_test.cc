// Cluster::Open restores a cluster, pending timers included, from its data
// directory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

std::string StateFileText(const Cluster& cluster) {
  std::ifstream in(cluster.data_dir() + "/cluster.json");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The inode of cluster.json: each write replaces the file by a rename.
ino_t StateFileInode(const Cluster& cluster) {
  struct stat info {};
  EXPECT_EQ(::stat((cluster.data_dir() + "/cluster.json").c_str(), &info), 0);
  return info.st_ino;
}

class ClusterPersistenceTest : public SimEnv {
 protected:
  std::unique_ptr<Cluster> Reopen(std::unique_ptr<Cluster> cluster) {
    std::string name = cluster->spec().name;
    cluster.reset();
    auto reopened = Cluster::Open(Deps(name));
    EXPECT_TRUE(reopened.ok()) << reopened.status();
    return reopened.ok() ? std::move(*reopened) : nullptr;
  }

  std::unique_ptr<Cluster> Create(const std::string& name,
                                  const std::string& version, int workers) {
    ClusterSpec spec;
    spec.name = name;
    spec.version = V(version);
    spec.workers = workers;
    auto cluster = Cluster::Create(spec, Deps(name));
    EXPECT_TRUE(cluster.ok()) << cluster.status();
    return std::move(*cluster);
  }
};

TEST_F(ClusterPersistenceTest, OpenRestoresEnabledCluster) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 2);
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(*cluster, kp_, key);
  ASSERT_TRUE(cluster
                  ->Create(apiserver::SecretsResource(), "default",
                           SecretObject("db", "persisted"))
                  .ok());
  std::string id = cluster->id();
  std::string endpoint = cluster->master_endpoint();
  std::vector<Worker> workers = cluster->Workers();

  cluster = Reopen(std::move(cluster));

  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->id(), id);
  EXPECT_EQ(cluster->master_endpoint(), endpoint);
  EXPECT_EQ(cluster->spec().name, "prod");
  EXPECT_EQ(cluster->version(), V("1.19.16_1540"));
  EXPECT_TRUE(cluster->kms_enabled());
  EXPECT_EQ(cluster->crk_id(), key);
  EXPECT_TRUE(cluster->kms_key_registered());
  EXPECT_EQ(cluster->KmsProviders().size(), 1u);
  EXPECT_EQ(ReadSecret(*cluster, "db"), "persisted");
  ASSERT_EQ(cluster->Workers().size(), 2u);
  EXPECT_EQ(cluster->Workers()[1].id, workers[1].id);
  EXPECT_EQ(cluster->Workers()[1].private_ip, workers[1].private_ip);
}

TEST_F(ClusterPersistenceTest, PendingEnablementFinishesAfterOpen) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 0);
  std::string key = CreateRootKey(kp_, "crk");
  ASSERT_TRUE(cluster->EnableKms(kp_, key).ok());

  cluster = Reopen(std::move(cluster));

  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->master_state(), MasterState::kKmsEnabling);
  EXPECT_EQ(cluster->EnableKms(kp_, key).code(),
            base::Code::kFailedPrecondition);
  ASSERT_TRUE(
      AdvanceUntil([&] { return cluster->kms_enabled(); }, minutes(15)));
  EXPECT_EQ(cluster->crk_id(), key);
}

TEST_F(ClusterPersistenceTest, UnusableStateAndDetectionSurviveOpen) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 0);
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(*cluster, kp_, key);
  ASSERT_TRUE(kms_->Disable(kp_, key).ok());
  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster->master_state() == MasterState::kKeyUnusable; },
      minutes(10)));

  cluster = Reopen(std::move(cluster));
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->master_state(), MasterState::kKeyUnusable);
  EXPECT_EQ(cluster->health(), MasterHealth::kWarning);
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(kms_->Enable(kp_, key).ok());

  // The restored refresh loop notices the key again.
  EXPECT_TRUE(AdvanceUntil(
      [&] { return cluster->master_state() == MasterState::kReady; },
      minutes(10)));
}

TEST_F(ClusterPersistenceTest, PendingWorkerReloadFinishesAfterOpen) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 1);
  std::string worker = cluster->Workers()[0].id;
  ASSERT_TRUE(cluster->ReloadWorker(worker).ok());

  cluster = Reopen(std::move(cluster));

  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->GetWorker(worker)->state, WorkerState::kReloading);
  EXPECT_EQ(cluster->GetWorker(worker)->luks_key_generation, 2);
  EXPECT_TRUE(AdvanceUntil(
      [&] { return cluster->GetWorker(worker)->state == WorkerState::kNormal; },
      minutes(15)));
}

TEST_F(ClusterPersistenceTest, UsedRootKeysSurviveOpen) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 0);
  std::string first = CreateRootKey(kp_, "first");
  EnableAndWait(*cluster, kp_, first);
  EnableAndWait(*cluster, kp_, CreateRootKey(kp_, "second"));

  cluster = Reopen(std::move(cluster));

  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->KmsProviders().size(), 2u);
  base::Status reused = cluster->EnableKms(kp_, first);
  EXPECT_NE(reused.message().find("cannot be reused"), std::string::npos)
      << reused;
}

TEST_F(ClusterPersistenceTest, OwnAccountSurvivesOpen) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 0);
  EnableAndWait(*cluster, kp_, CreateRootKey(kp_, "crk"));

  cluster = Reopen(std::move(cluster));

  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->account().owner(), kDefaultOwner);
  EXPECT_TRUE(cluster->account().GetApiKey("us-south").has_value());
  EXPECT_TRUE(cluster->account().HasKmsReaderAuthorization(kp_));
}

// A day fires 288 root key checks and 1,440 KMS status polls, and none of
// them writes the state file before Flush.
TEST_F(ClusterPersistenceTest, TimersWriteStateOnFlush) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 0);
  EnableAndWait(*cluster, kp_, CreateRootKey(kp_, "crk"));
  ASSERT_TRUE(cluster->Flush().ok());
  std::string before = StateFileText(*cluster);
  ino_t inode = StateFileInode(*cluster);

  clock_.Advance(hours(24));

  EXPECT_EQ(StateFileInode(*cluster), inode);
  EXPECT_EQ(StateFileText(*cluster), before);
  ASSERT_TRUE(cluster->Flush().ok());
  EXPECT_NE(StateFileInode(*cluster), inode);
  EXPECT_NE(StateFileText(*cluster), before);
}

TEST_F(ClusterPersistenceTest, FlushWithoutChangeKeepsFile) {
  std::unique_ptr<Cluster> cluster = Create("prod", "1.19.16_1540", 0);
  ASSERT_TRUE(cluster->Flush().ok());
  ino_t inode = StateFileInode(*cluster);

  clock_.Advance(hours(24));  // no KMS, so no timer
  ASSERT_TRUE(cluster->Flush().ok());

  EXPECT_EQ(StateFileInode(*cluster), inode);
}

TEST_F(ClusterPersistenceTest, OpenWithoutClusterIsNotFound) {
  auto cluster = Cluster::Open(Deps("missing"));

  EXPECT_EQ(cluster.status().code(), base::Code::kNotFound);
}

TEST_F(ClusterPersistenceTest, OpenMalformedStateIsDataLoss) {
  std::filesystem::create_directories(dir_ + "/clusters/broken");
  std::ofstream(dir_ + "/clusters/broken/cluster.json") << "{\"format\": 1}";

  auto cluster = Cluster::Open(Deps("broken"));

  EXPECT_EQ(cluster.status().code(), base::Code::kDataLoss);
}

}  // namespace
}  // namespace sim
