// Workers of the cluster model: classic LUKS key Secrets and their
// rotation, VPC workers, and Data Shield availability.
#include <gtest/gtest.h>

#include "sim_env.h"

namespace sim {
namespace {

using std::chrono::minutes;

class ClusterWorkersTest : public SimEnv {
 protected:
  // Returns the LUKS key Secret of a worker, or null on error.
  apiserver::Json LuksSecret(Cluster& cluster, const Worker& worker) {
    auto secret = cluster.Get(apiserver::SecretsResource(), "kube-system",
                              worker.luks_secret);
    EXPECT_TRUE(secret.ok()) << secret.status();
    return secret.ok() ? *secret : apiserver::Json();
  }

  std::string LuksKey(Cluster& cluster, const Worker& worker) {
    apiserver::Json secret = LuksSecret(cluster, worker);
    if (secret.is_null()) return "";
    return secret["data"]["luks-key"].get<std::string>();
  }

  bool AllNormal(const Cluster& cluster) {
    for (const Worker& worker : cluster.Workers()) {
      if (worker.state != WorkerState::kNormal) return false;
    }
    return true;
  }
};

TEST_F(ClusterWorkersTest, ClassicWorkersHaveLuksSecrets) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 2);

  std::vector<Worker> workers = cluster.Workers();

  ASSERT_EQ(workers.size(), 2u);
  EXPECT_NE(workers[0].id, workers[1].id);
  EXPECT_EQ(workers[0].flavor, "b3c.4x16");
  EXPECT_EQ(workers[0].zone, "dal10");
  EXPECT_EQ(workers[0].state, WorkerState::kNormal);
  EXPECT_EQ(workers[0].version, V("1.19.16_1540"));
  for (const Worker& worker : workers) {
    apiserver::Json secret = LuksSecret(cluster, worker);
    EXPECT_EQ(secret["metadata"]["labels"]["ibm-cloud.kubernetes.io/worker-id"],
              worker.id);
    auto key =
        base::Base64Decode(secret["data"]["luks-key"].get<std::string>());
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->size(), 32u);
  }
  EXPECT_NE(LuksKey(cluster, workers[0]), LuksKey(cluster, workers[1]));
}

TEST_F(ClusterWorkersTest, VpcWorkersHaveNoLuksSecrets) {
  Cluster& cluster =
      MakeCluster("vpc", "1.19.16_1540", Infrastructure::kVpc, 3);

  auto secrets = cluster.List(apiserver::SecretsResource(), "kube-system");

  ASSERT_TRUE(secrets.ok()) << secrets.status();
  EXPECT_TRUE((*secrets)["items"].empty());
  ASSERT_EQ(cluster.Workers().size(), 3u);
  EXPECT_EQ(cluster.Workers()[0].flavor, "bx2.4x16");
  EXPECT_EQ(cluster.Workers()[0].zone, "us-south-1");
  EXPECT_TRUE(cluster.Workers()[0].luks_secret.empty());
}

TEST_F(ClusterWorkersTest, NoWorkersByDefault) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540");

  auto secrets = cluster.List(apiserver::SecretsResource(), "");

  ASSERT_TRUE(secrets.ok());
  EXPECT_TRUE((*secrets)["items"].empty());
  EXPECT_TRUE(cluster.Workers().empty());
}

TEST_F(ClusterWorkersTest, FlavorOfOtherInfrastructureIsRejected) {
  ClusterSpec spec;
  spec.name = "prod";
  spec.version = V("1.19.16_1540");
  spec.workers = 1;
  spec.flavor = "bx2.4x16";

  auto cluster = Cluster::Create(spec, Deps("prod"));

  EXPECT_EQ(cluster.status().code(), base::Code::kInvalidArgument);
  EXPECT_NE(cluster.status().message().find("not offered on classic"),
            std::string::npos)
      << cluster.status();
}

TEST_F(ClusterWorkersTest, WorkerCountIsLimited) {
  ClusterSpec spec;
  spec.name = "prod";
  spec.version = V("1.19.16_1540");
  spec.infrastructure = Infrastructure::kVpc;
  spec.workers = kMaxWorkers + 1;

  auto too_many = Cluster::Create(spec, Deps("too-many"));
  spec.workers = kMaxWorkers - 1;
  auto cluster = Cluster::Create(spec, Deps("prod"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto two_more = (*cluster)->AddWorkers("", 2);
  auto one_more = (*cluster)->AddWorkers("", 1);

  EXPECT_EQ(too_many.status().code(), base::Code::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("expected 0 to 100"),
            std::string::npos)
      << too_many.status();
  EXPECT_EQ(two_more.status().code(), base::Code::kInvalidArgument);
  EXPECT_NE(two_more.status().message().find("expected 1 to 1 more"),
            std::string::npos)
      << two_more.status();
  EXPECT_TRUE(one_more.ok()) << one_more.status();
  EXPECT_EQ((*cluster)->Workers().size(), static_cast<size_t>(kMaxWorkers));
}

TEST_F(ClusterWorkersTest, ReloadRotatesLuksKey) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 2);
  Worker worker = cluster.Workers()[0];
  Worker other = cluster.Workers()[1];
  std::string before = LuksKey(cluster, worker);
  std::string other_before = LuksKey(cluster, other);

  ASSERT_TRUE(cluster.ReloadWorker(worker.id).ok());

  EXPECT_NE(LuksKey(cluster, worker), before);
  EXPECT_EQ(LuksKey(cluster, other), other_before);
  EXPECT_EQ(cluster.GetWorker(worker.id)->state, WorkerState::kReloading);
  EXPECT_EQ(cluster.GetWorker(worker.id)->luks_key_generation, 2);
  EXPECT_EQ(LuksSecret(cluster,
                       worker)["metadata"]["annotations"]
                              ["ibm-cloud.kubernetes.io/luks-key-generation"],
            "2");
  ASSERT_TRUE(AdvanceUntil([&] { return AllNormal(cluster); }, minutes(15)));
}

TEST_F(ClusterWorkersTest, UpdateRotatesKeyAndTakesMasterVersion) {
  Cluster& cluster =
      MakeCluster("prod", "1.18.8_1525", Infrastructure::kClassic, 1);
  Worker worker = cluster.Workers()[0];
  ASSERT_TRUE(cluster.UpdateMaster(V("1.19.16_1540")).ok());
  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kReady; },
      minutes(30)));
  std::string before = LuksKey(cluster, worker);

  ASSERT_TRUE(cluster.UpdateWorker(worker.id).ok());
  EXPECT_EQ(cluster.GetWorker(worker.id)->state, WorkerState::kUpdating);
  ASSERT_TRUE(AdvanceUntil([&] { return AllNormal(cluster); }, minutes(20)));

  EXPECT_NE(LuksKey(cluster, worker), before);
  EXPECT_EQ(cluster.GetWorker(worker.id)->version, V("1.19.16_1540"));
}

TEST_F(ClusterWorkersTest, ReloadWhileReloadingFailsAndKeepsKey) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 1);
  Worker worker = cluster.Workers()[0];
  ASSERT_TRUE(cluster.ReloadWorker(worker.id).ok());
  std::string rotated = LuksKey(cluster, worker);

  base::Status again = cluster.ReloadWorker(worker.id);

  EXPECT_EQ(again.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(again.message().find("it is reloading"), std::string::npos)
      << again;
  EXPECT_EQ(LuksKey(cluster, worker), rotated);
}

TEST_F(ClusterWorkersTest, UnknownWorkerListsKnownIds) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 1);

  base::Status reloaded = cluster.ReloadWorker("kube-nope-w9");

  EXPECT_EQ(reloaded.code(), base::Code::kNotFound);
  EXPECT_NE(reloaded.message().find(cluster.Workers()[0].id), std::string::npos)
      << reloaded;
}

TEST_F(ClusterWorkersTest, LuksSecretsEncryptedOnceKmsEnabled) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 1);
  Worker worker = cluster.Workers()[0];
  ASSERT_EQ(Raw(cluster, worker.luks_secret, "kube-system").front(), '{');

  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "crk"));

  std::string raw = Raw(cluster, worker.luks_secret, "kube-system");
  EXPECT_TRUE(raw.starts_with("k8s:enc:kms:v2:")) << raw.substr(0, 40);
  EXPECT_EQ(raw.find(LuksKey(cluster, worker)), std::string::npos);
}

TEST_F(ClusterWorkersTest, LuksSecretEncryptedOnReloadOn117) {
  Cluster& cluster =
      MakeCluster("legacy", "1.17.17", Infrastructure::kClassic, 1);
  Worker worker = cluster.Workers()[0];
  EnableAndWait(cluster, kp_, CreateRootKey(kp_, "crk"));
  // 1.17 leaves existing Secrets as they were until they are rewritten.
  ASSERT_EQ(Raw(cluster, worker.luks_secret, "kube-system").front(), '{');

  ASSERT_TRUE(cluster.ReloadWorker(worker.id).ok());

  EXPECT_TRUE(Raw(cluster, worker.luks_secret, "kube-system")
                  .starts_with("k8s:enc:kms:v2:"));
}

TEST_F(ClusterWorkersTest, ReloadRefusedWhileMasterUnusable) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 1);
  Worker worker = cluster.Workers()[0];
  std::string key = CreateRootKey(kp_, "crk");
  EnableAndWait(cluster, kp_, key);
  std::string before = LuksKey(cluster, worker);
  ASSERT_TRUE(kms_->Disable(kp_, key).ok());
  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kKeyUnusable; },
      minutes(10)));

  base::Status reloaded = cluster.ReloadWorker(worker.id);

  EXPECT_EQ(reloaded.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(reloaded.message().find("is disabled"), std::string::npos)
      << reloaded;
  EXPECT_EQ(cluster.GetWorker(worker.id)->state, WorkerState::kNormal);
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(kms_->Enable(kp_, key).ok());
  ASSERT_TRUE(AdvanceUntil(
      [&] { return cluster.master_state() == MasterState::kReady; },
      minutes(10)));
  EXPECT_EQ(LuksKey(cluster, worker), before);
}

TEST_F(ClusterWorkersTest, AddWorkersOfAnotherFlavor) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 1);

  auto added = cluster.AddWorkers("mb2c.4x32", 2);

  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->size(), 2u);
  EXPECT_EQ((*added)[0].flavor, "mb2c.4x32");
  EXPECT_EQ(cluster.Workers().size(), 3u);
  EXPECT_EQ(cluster.AddWorkers("b3c.4x16", 0).status().code(),
            base::Code::kInvalidArgument);
}

// --- Data Shield ---

TEST_F(ClusterWorkersTest, DataShieldRefusedOnVpc) {
  Cluster& cluster =
      MakeCluster("vpc", "1.19.16_1540", Infrastructure::kVpc, 1);

  base::Status enabled = cluster.EnableDataShield();

  EXPECT_EQ(enabled.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(enabled.message().find("not available on VPC"), std::string::npos)
      << enabled;
  EXPECT_FALSE(cluster.data_shield_enabled());
}

TEST_F(ClusterWorkersTest, DataShieldRefusedWithoutSgxFlavor) {
  Cluster& cluster =
      MakeCluster("prod", "1.19.16_1540", Infrastructure::kClassic, 2);

  base::Status enabled = cluster.EnableDataShield();

  EXPECT_EQ(enabled.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(enabled.message().find("mb2c.4x32, ms2c.4x32.1.9tb.ssd"),
            std::string::npos)
      << enabled;
  EXPECT_NE(enabled.message().find("has only b3c.4x16"), std::string::npos)
      << enabled;
}

TEST_F(ClusterWorkersTest, DataShieldRefusedOnNonSgxBareMetal) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540",
                                 Infrastructure::kClassic, 1, "mb4c.20x64");

  EXPECT_EQ(cluster.EnableDataShield().code(), base::Code::kFailedPrecondition);
}

TEST_F(ClusterWorkersTest, DataShieldOnSgxBareMetal) {
  Cluster& cluster = MakeCluster("prod", "1.19.16_1540",
                                 Infrastructure::kClassic, 1, "mb2c.4x32");

  base::Status enabled = cluster.EnableDataShield();

  EXPECT_TRUE(enabled.ok()) << enabled;
  EXPECT_TRUE(cluster.data_shield_enabled());
}

TEST(Flavors, SgxOnlyOnClassicBareMetal) {
  for (const Flavor& flavor : Flavors()) {
    if (!flavor.sgx) continue;
    EXPECT_TRUE(flavor.bare_metal) << flavor.name;
    EXPECT_EQ(flavor.infrastructure, Infrastructure::kClassic) << flavor.name;
  }
  EXPECT_TRUE(FindFlavor("mb2c.4x32", Infrastructure::kClassic)->sgx);
  EXPECT_FALSE(FindFlavor("mb2c.4x32", Infrastructure::kVpc).ok());
}

}  // namespace
}  // namespace sim
