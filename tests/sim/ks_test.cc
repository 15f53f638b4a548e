// The `ks` commands, run in process on a state directory, one StateDirHost
// per command as separate processes would.
#include "sim/ks.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sim/ks_state.h"

namespace sim {
namespace {

using nlohmann::json;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class KsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::err);
    std::string pattern = ::testing::TempDir() + "ks_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    state_ = dir_ + "/state";
    ASSERT_EQ(Ks({"init"}).code, 0);
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result Ks(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state", state_});
    return Run(args);
  }

  static Result Run(const std::vector<std::string>& args) {
    StateDirHost host;
    std::ostringstream out, err;
    Result result;
    result.code = RunKs(host, args, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  json Json(std::vector<std::string> args) {
    args.push_back("--output");
    args.push_back("json");
    Result result = Ks(args);
    EXPECT_EQ(result.code, 0) << result.err;
    json parsed = json::parse(result.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << result.out;
    return parsed;
  }

  // Creates a classic cluster, a Key Protect instance and a root key.
  void SetUpCluster(const std::string& version = "1.19.16_1540") {
    ASSERT_EQ(Ks({"cluster", "create", "classic", "--name", "prod", "--version",
                  version, "--workers", "2"})
                  .code,
              0);
    instance_ = Json({"kms", "instance", "create", "--name", "kp-prod"})["id"];
    crk_ = Json({"kms", "key", "create", "--instance-id", instance_, "--name",
                 "crk1"})["id"];
  }

  std::string NewRootKey(const std::string& instance, const std::string& name) {
    return Json({"kms", "key", "create", "--instance-id", instance, "--name",
                 name})["id"];
  }

  Result Enable(const std::string& crk, const std::string& instance = "") {
    return Ks({"kms", "enable", "-c", "prod", "--instance-id",
               instance.empty() ? instance_ : instance, "--crk", crk});
  }

  void EnableAndWait(const std::string& crk) {
    Result enabled = Enable(crk);
    ASSERT_EQ(enabled.code, 0) << enabled.err;
    ASSERT_EQ(Ks({"clock", "advance", "15m"}).code, 0);
    ASSERT_EQ(Json({"cluster", "get", "-c", "prod"})["keyManagementService"],
              "enabled");
  }

  // Everything a failed command must leave unchanged.
  std::string Snapshot() {
    return Json({"cluster", "ls"}).dump() +
           Json({"worker", "ls", "-c", "prod"}).dump() +
           Json({"kms", "crk", "ls", "--instance-id", instance_}).dump() +
           Json({"iam", "policy", "ls"}).dump();
  }

  static bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  std::string dir_;
  std::string state_;
  std::string instance_;
  std::string crk_;
};

// --- State directory ---

TEST_F(KsTest, InitTwiceFails) {
  Result again = Ks({"init"});

  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(Contains(again.err, "already initialized")) << again.err;
}

TEST_F(KsTest, MissingStateDirectoryIsExplained) {
  Result result = Run({"cluster", "ls"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "missing state directory")) << result.err;
}

TEST_F(KsTest, UninitializedStateDirectoryIsExplained) {
  Result result = Run({"--state", dir_ + "/other", "cluster", "ls"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "is not initialized")) << result.err;
}

TEST_F(KsTest, UnknownCommandIsUsageError) {
  Result result = Ks({"cluster", "explode"});

  EXPECT_EQ(result.code, 2);
}

TEST_F(KsTest, HelpSucceeds) {
  Result result = Ks({"kms", "enable", "--help"});

  EXPECT_EQ(result.code, 0);
  EXPECT_TRUE(Contains(result.out, "--public-endpoint")) << result.out;
}

TEST_F(KsTest, ClockAdvancesOnlyWhenTold) {
  std::string before = Json({"clock", "show"})["now"];
  std::string still = Json({"clock", "show"})["now"];
  std::string after = Json({"clock", "advance", "2h"})["now"];

  EXPECT_EQ(before, "2026-01-01T00:00:00Z");
  EXPECT_EQ(still, before);
  EXPECT_EQ(after, "2026-01-01T02:00:00Z");
  EXPECT_EQ(Ks({"clock", "advance", "soon"}).code, 1);
}

TEST_F(KsTest, ClockStopsShortOfTheLatestTime) {
  ASSERT_EQ(Ks({"clock", "advance", "36500d"}).code, 0);
  ASSERT_EQ(Ks({"clock", "advance", "36500d"}).code, 0);
  std::string before = Json({"clock", "show"})["now"];

  Result refused = Ks({"clock", "advance", "36500d"});

  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Contains(refused.err,
                       "the clock cannot move past "
                       "2262-04-11T23:47:16Z"))
      << refused.err;
  EXPECT_EQ(Json({"clock", "show"})["now"], before);
}

TEST_F(KsTest, RealClockNeverGoesBack) {
  std::string real = dir_ + "/real";
  ASSERT_EQ(Run({"--state", real, "init", "--clock", "real"}).code, 0);

  Result first = Run({"--state", real, "clock", "show", "--output", "json"});
  Result second = Run({"--state", real, "clock", "show", "--output", "json"});

  ASSERT_EQ(first.code, 0) << first.err;
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_LE(json::parse(first.out)["now"].get<std::string>(),
            json::parse(second.out)["now"].get<std::string>());
  EXPECT_TRUE(Contains(json::parse(first.out)["clock"], "real"));
}

// --- Clusters ---

TEST_F(KsTest, ClusterGetShowsReferenceLines) {
  SetUpCluster();

  Result get = Ks({"cluster", "get", "-c", "prod"});

  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_TRUE(Contains(get.out, "Name: prod\n"));
  EXPECT_TRUE(Contains(get.out, "\nID: "));
  EXPECT_TRUE(Contains(get.out, "\nState: normal\n"));
  EXPECT_TRUE(Contains(get.out, "\nMaster Status: Ready (1 min ago)\n"));
  EXPECT_TRUE(Contains(get.out, "\nVersion: 1.19.16_1540\n"));
  EXPECT_TRUE(Contains(get.out, "\nKey Management Service: disabled\n"));
}

TEST_F(KsTest, ClusterLsListsClusters) {
  SetUpCluster();
  ASSERT_EQ(Ks({"cluster", "create", "vpc-gen2", "--name", "edge"}).code, 0);

  Result ls = Ks({"cluster", "ls"});
  json listed = Json({"cluster", "ls"});

  ASSERT_EQ(ls.code, 0);
  EXPECT_TRUE(ls.out.starts_with("Name "));
  EXPECT_TRUE(Contains(ls.out, "\nprod "));
  EXPECT_TRUE(Contains(ls.out, "\nedge "));
  // Clusters created at the same instant are listed by name.
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["name"], "edge");
  EXPECT_EQ(listed[0]["provider"], "vpc");
  EXPECT_EQ(listed[0]["location"], "us-south-1");
  EXPECT_EQ(listed[0]["workerCount"], 1);
  EXPECT_EQ(listed[1]["name"], "prod");
  EXPECT_EQ(listed[1]["workerCount"], 2);
}

TEST_F(KsTest, UnknownClusterFailsAndNamesClusters) {
  SetUpCluster();

  Result get = Ks({"cluster", "get", "-c", "staging"});

  EXPECT_EQ(get.code, 1);
  EXPECT_TRUE(get.err.starts_with("FAILED\n")) << get.err;
  EXPECT_TRUE(Contains(get.err, "cluster staging not found")) << get.err;
  EXPECT_TRUE(Contains(get.err, "clusters are prod")) << get.err;
}

TEST_F(KsTest, MissingFlagIsUsageError) {
  Result get = Ks({"cluster", "get"});

  EXPECT_EQ(get.code, 2);
  EXPECT_TRUE(Contains(get.err, "--cluster")) << get.err;
}

TEST_F(KsTest, DuplicateClusterNameChangesNothing) {
  SetUpCluster();
  std::string before = Snapshot();

  Result again = Ks({"cluster", "create", "classic", "--name", "prod"});

  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(Contains(again.err, "already exists")) << again.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, InvalidVersionAndFlavorAreRejected) {
  Result version = Ks(
      {"cluster", "create", "classic", "--name", "a", "--version", "latest"});
  Result flavor = Ks(
      {"cluster", "create", "vpc-gen2", "--name", "b", "--flavor", "b3c.4x16"});

  EXPECT_EQ(version.code, 1);
  EXPECT_TRUE(Contains(version.err, "invalid cluster version")) << version.err;
  EXPECT_EQ(flavor.code, 1);
  EXPECT_TRUE(Contains(flavor.err, "not offered on vpc")) << flavor.err;
  EXPECT_TRUE(Json({"cluster", "ls"}).empty());
}

// --- KMS enablement ---

TEST_F(KsTest, EnableFlowShowsProgressThenReady) {
  SetUpCluster();

  Result enabled = Enable(crk_);
  Result during = Ks({"cluster", "get", "-c", "prod"});
  ASSERT_EQ(Ks({"clock", "advance", "15m"}).code, 0);
  Result after = Ks({"cluster", "get", "-c", "prod"});

  ASSERT_EQ(enabled.code, 0) << enabled.err;
  EXPECT_TRUE(Contains(during.out,
                       "Master Status: Key management service feature "
                       "enablement in progress.\n"));
  EXPECT_TRUE(Contains(during.out, "Key Management Service: disabled\n"));
  EXPECT_TRUE(Contains(after.out, "Master Status: Ready ("));
  EXPECT_TRUE(Contains(after.out, "Key Management Service: enabled\n"));
  EXPECT_TRUE(Contains(after.out, "Root Key ID: " + crk_ + "\n"));
  EXPECT_TRUE(Contains(after.out, "KMS Endpoint: private\n"));
}

TEST_F(KsTest, PublicEndpointFlag) {
  SetUpCluster();

  ASSERT_EQ(Ks({"kms", "enable", "-c", "prod", "--instance-id", instance_,
                "--crk", crk_, "--public-endpoint"})
                .code,
            0);
  ASSERT_EQ(Ks({"clock", "advance", "15m"}).code, 0);

  EXPECT_EQ(Json({"cluster", "get", "-c", "prod"})["kms"]["publicEndpoint"],
            true);
}

TEST_F(KsTest, EnableWhileBusyChangesNothing) {
  SetUpCluster();
  std::string second = NewRootKey(instance_, "crk2");
  ASSERT_EQ(Enable(crk_).code, 0);
  std::string before = Snapshot();

  Result busy = Enable(second);

  EXPECT_EQ(busy.code, 1);
  EXPECT_TRUE(Contains(busy.err,
                       "busy with another key management service "
                       "action"))
      << busy.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, MissingCrkFlagIsUsageError) {
  SetUpCluster();
  std::string before = Snapshot();

  Result result =
      Ks({"kms", "enable", "-c", "prod", "--instance-id", instance_});

  EXPECT_EQ(result.code, 2);
  EXPECT_TRUE(Contains(result.err, "--crk")) << result.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, RootKeyFromAnotherInstanceChangesNothing) {
  SetUpCluster();
  std::string other = Json({"kms", "instance", "create", "--name", "hpcs-dev",
                            "--type", "hpcs"})["id"];
  std::string foreign = NewRootKey(other, "dev-crk");
  std::string before = Snapshot();

  Result result = Enable(foreign);

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "belongs to KMS instance hpcs-dev"))
      << result.err;
  EXPECT_TRUE(Contains(result.err, "--instance-id " + other)) << result.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, ReusedRootKeyChangesNothing) {
  SetUpCluster();
  EnableAndWait(crk_);
  EnableAndWait(NewRootKey(instance_, "crk2"));
  std::string before = Snapshot();

  Result result = Enable(crk_);

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "cannot be reused")) << result.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, UnknownInstanceAndKeyAreNamed) {
  SetUpCluster();

  Result instance = Enable(crk_, "no-such-instance");
  Result key = Enable("no-such-key");

  EXPECT_EQ(instance.code, 1);
  EXPECT_TRUE(
      Contains(instance.err, "KMS instance \"no-such-instance\" not found"))
      << instance.err;
  EXPECT_EQ(key.code, 1);
  EXPECT_TRUE(Contains(key.err, "root key \"no-such-key\" not found"))
      << key.err;
}

TEST_F(KsTest, EnableNeedsAdministrator) {
  SetUpCluster();
  ASSERT_EQ(Ks({"iam", "user", "add", "--email", "dev@example.com"}).code, 0);
  ASSERT_EQ(Ks({"iam", "policy", "set", "--email", "dev@example.com", "-c",
                "prod", "--platform-role", "Editor"})
                .code,
            0);
  std::string before = Snapshot();

  Result result = Ks({"--user", "dev@example.com", "kms", "enable", "-c",
                      "prod", "--instance-id", instance_, "--crk", crk_});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "has the Editor platform role"))
      << result.err;
  EXPECT_TRUE(Contains(result.err, "needs the Administrator platform role"))
      << result.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, ApiKeyOwnerNeedsKmsRoles) {
  SetUpCluster();
  ASSERT_EQ(
      Ks({"iam", "user", "add", "--email", "ops@example.com", "--name", "Ops"})
          .code,
      0);
  ASSERT_EQ(Ks({"iam", "policy", "set", "--email", "ops@example.com",
                "--all-clusters", "--platform-role", "Administrator"})
                .code,
            0);
  ASSERT_EQ(Ks({"--user", "ops@example.com", "api-key", "reset", "--region",
                "us-south"})
                .code,
            0);

  Result info = Ks({"api-key", "info", "-c", "prod"});
  Result enabled = Enable(crk_);

  EXPECT_TRUE(info.out.starts_with("Name ")) << info.out;
  EXPECT_TRUE(Contains(info.out, "\nOps ")) << info.out;
  EXPECT_TRUE(Contains(info.out, " ops@example.com\n")) << info.out;
  EXPECT_EQ(enabled.code, 1);
  EXPECT_TRUE(Contains(enabled.err, "belongs to ops@example.com"))
      << enabled.err;
  EXPECT_TRUE(Contains(enabled.err, "Editor platform and Writer service"))
      << enabled.err;

  ASSERT_EQ(Ks({"iam", "policy", "set", "--email", "ops@example.com",
                "--kms-instance", instance_, "--platform-role", "Editor",
                "--service-role", "Writer"})
                .code,
            0);
  EXPECT_EQ(Enable(crk_).code, 0);
}

TEST_F(KsTest, KmsCannotBeDisabled) {
  SetUpCluster();
  EnableAndWait(crk_);

  Result result = Ks({"kms", "disable", "-c", "prod"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "cannot be disabled")) << result.err;
}

TEST_F(KsTest, ServiceAuthorizationListed) {
  SetUpCluster();
  EnableAndWait(crk_);

  json items = Json({"iam", "authorization", "ls"});

  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["targetResource"], instance_);
  EXPECT_EQ(items[0]["role"], "Reader");
}

// --- Verification by disabling the root key ---

TEST_F(KsTest, DisabledRootKeyBlocksClusterConfig) {
  SetUpCluster();
  EnableAndWait(crk_);
  Result config = Ks({"cluster", "config", "-c", "prod"});
  ASSERT_EQ(config.code, 0) << config.err;
  std::string kubeconfig = state_ + "/kubeconfigs/prod.yaml";
  ASSERT_TRUE(std::filesystem::exists(kubeconfig));
  EXPECT_TRUE(Contains(config.out, "export KUBECONFIG=" + kubeconfig));
  std::filesystem::remove(kubeconfig);

  ASSERT_EQ(
      Ks({"kms", "key", "disable", "--instance-id", instance_, "--key", crk_})
          .code,
      0);
  ASSERT_EQ(Ks({"clock", "advance", "10m"}).code, 0);
  Result get = Ks({"cluster", "get", "-c", "prod"});
  Result failed = Ks({"cluster", "config", "-c", "prod"});

  EXPECT_TRUE(Contains(get.out, "State: warning\n")) << get.out;
  EXPECT_TRUE(Contains(get.out, "is disabled")) << get.out;
  EXPECT_EQ(failed.code, 1);
  EXPECT_TRUE(Contains(failed.err, "does not respond")) << failed.err;
  EXPECT_TRUE(Contains(failed.err, "enable it in KMS instance")) << failed.err;
  EXPECT_FALSE(std::filesystem::exists(kubeconfig));

  ASSERT_EQ(
      Ks({"kms", "key", "enable", "--instance-id", instance_, "--key", crk_})
          .code,
      0);
  ASSERT_EQ(Ks({"clock", "advance", "10m"}).code, 0);
  EXPECT_EQ(Ks({"cluster", "config", "-c", "prod"}).code, 0);
  EXPECT_TRUE(
      Contains(Ks({"cluster", "get", "-c", "prod"}).out, "State: normal\n"));
}

// --- Master updates ---

TEST_F(KsTest, MasterUpdateRefusedDuringEnablement) {
  SetUpCluster("1.18.8_1525");
  ASSERT_EQ(Enable(crk_).code, 0);

  Result update = Ks({"cluster", "master", "update", "-c", "prod", "--version",
                      "1.19.16_1540", "-f"});

  EXPECT_EQ(update.code, 1);
  EXPECT_TRUE(Contains(update.err, "enablement is in progress")) << update.err;
  EXPECT_EQ(Json({"cluster", "get", "-c", "prod"})["masterKubeVersion"],
            "1.18.8_1525");
}

TEST_F(KsTest, MasterUpdateChangesVersion) {
  SetUpCluster("1.18.8_1525");

  ASSERT_EQ(Ks({"cluster", "master", "update", "-c", "prod", "--version",
                "1.19.16_1540"})
                .code,
            0);
  json during = Json({"cluster", "get", "-c", "prod"});
  ASSERT_EQ(Ks({"clock", "advance", "30m"}).code, 0);
  json after = Json({"cluster", "get", "-c", "prod"});

  EXPECT_EQ(during["masterHealth"], "unavailable");
  EXPECT_EQ(after["masterKubeVersion"], "1.19.16_1540");
  EXPECT_EQ(after["features"]["reportsKeyHealth"], true);
}

// --- Workers ---

TEST_F(KsTest, WorkerReloadRotatesAndFinishes) {
  SetUpCluster();
  json workers = Json({"worker", "ls", "-c", "prod"});
  std::string id = workers[0]["id"];

  Result reload = Ks({"worker", "reload", "-c", "prod", "-w", id, "-f"});
  json during = Json({"worker", "ls", "-c", "prod"});
  Result again = Ks({"worker", "reload", "-c", "prod", "-w", id});
  ASSERT_EQ(Ks({"clock", "advance", "20m"}).code, 0);
  json after = Json({"worker", "ls", "-c", "prod"});

  ASSERT_EQ(reload.code, 0) << reload.err;
  EXPECT_EQ(during[0]["state"], "reloading");
  EXPECT_EQ(during[0]["luksKeyGeneration"], 2);
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(after[0]["state"], "normal");
  EXPECT_EQ(after[1]["luksKeyGeneration"], 1);
}

TEST_F(KsTest, UnknownWorkerChangesNothing) {
  SetUpCluster();
  std::string id = Json({"worker", "ls", "-c", "prod"})[0]["id"];
  std::string before = Snapshot();

  Result result =
      Ks({"worker", "update", "-c", "prod", "-w", id, "-w", "kube-bogus"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "worker kube-bogus not found"))
      << result.err;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KsTest, WorkerLsTable) {
  SetUpCluster();

  Result ls = Ks({"worker", "ls", "-c", "prod"});

  EXPECT_TRUE(ls.out.starts_with("ID ")) << ls.out;
  EXPECT_TRUE(Contains(ls.out, "b3c.4x16")) << ls.out;
  EXPECT_TRUE(Contains(ls.out, "Ready")) << ls.out;
}

TEST_F(KsTest, DataShieldRefusedOnVpc) {
  ASSERT_EQ(Ks({"cluster", "create", "vpc-gen2", "--name", "edge"}).code, 0);

  Result result = Ks({"data-shield", "enable", "-c", "edge"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "not available on VPC")) << result.err;
}

TEST_F(KsTest, DataShieldOnSgxWorkers) {
  ASSERT_EQ(Ks({"cluster", "create", "classic", "--name", "enclave", "--flavor",
                "mb2c.4x32"})
                .code,
            0);

  EXPECT_EQ(Ks({"data-shield", "enable", "-c", "enclave"}).code, 0);
  EXPECT_EQ(Json({"cluster", "get", "-c", "enclave"})["dataShield"], true);
}

// --- IAM ---

TEST_F(KsTest, OnlyOwnerManagesUsers) {
  ASSERT_EQ(Ks({"iam", "user", "add", "--email", "dev@example.com"}).code, 0);

  Result result = Ks({"--user", "dev@example.com", "iam", "user", "add",
                      "--email", "x@example.com"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "only the account owner")) << result.err;
  EXPECT_EQ(Json({"iam", "user", "ls"}).size(), 2u);
}

TEST_F(KsTest, UnknownActingUserIsRejected) {
  Result result = Ks({"--user", "ghost@example.com", "cluster", "ls"});

  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(Contains(result.err, "not a member of the account"))
      << result.err;
}

TEST_F(KsTest, ClustersWithoutRoleAreHidden) {
  SetUpCluster();
  ASSERT_EQ(Ks({"iam", "user", "add", "--email", "dev@example.com"}).code, 0);

  json listed = Json({"--user", "dev@example.com", "cluster", "ls"});
  Result get =
      Ks({"--user", "dev@example.com", "cluster", "get", "-c", "prod"});

  EXPECT_TRUE(listed.empty());
  EXPECT_EQ(get.code, 1);
  EXPECT_TRUE(Contains(get.err, "has no access")) << get.err;
}

TEST_F(KsTest, KmsInstancesNeedARole) {
  SetUpCluster();
  ASSERT_EQ(Ks({"iam", "user", "add", "--email", "dev@example.com"}).code, 0);

  json listed = Json({"--user", "dev@example.com", "kms", "instance", "ls"});
  Result keys = Ks({"--user", "dev@example.com", "kms", "crk", "ls",
                    "--instance-id", instance_});

  EXPECT_TRUE(listed.empty());
  EXPECT_EQ(keys.code, 1);
  EXPECT_TRUE(Contains(keys.err, "needs the Reader service role")) << keys.err;
}

TEST_F(KsTest, CrkLsShowsRootKeysOnly) {
  SetUpCluster();
  ASSERT_EQ(Ks({"kms", "key", "create", "--instance-id", instance_, "--name",
                "std", "--standard"})
                .code,
            0);

  json keys = Json({"kms", "crk", "ls", "--instance-id", instance_});
  Result text = Ks({"kms", "crk", "ls", "--instance-id", instance_});

  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["name"], "crk1");
  EXPECT_TRUE(text.out.starts_with("Root Key Name   Root Key ID")) << text.out;
}

}  // namespace
}  // namespace sim
