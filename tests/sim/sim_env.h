// A test fixture for the cluster model: a simulated clock, a seeded random
// source, a KeyService persisted in RocksDB and clusters whose stores live
// in a temporary folder.
#ifndef TESTS_SIM_SIM_ENV_H_
#define TESTS_SIM_SIM_ENV_H_

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/registry.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/kms.h"
#include "sim/account.h"
#include "sim/cluster.h"

namespace sim {

inline base::Time TestStart() {
  return base::Time(std::chrono::sys_days(std::chrono::year_month_day(
      std::chrono::year(2026), std::chrono::month(1), std::chrono::day(2))));
}

inline Version V(const std::string& text) { return *Version::Parse(text); }

inline apiserver::Json SecretObject(const std::string& name,
                                    const std::string& value,
                                    const std::string& ns = "default") {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", {{"value", base::Base64Encode(value)}}}};
}

// Returns the decoded "value" of a Secret, or the error message.
inline std::string ReadSecret(Cluster& cluster, const std::string& name,
                              const std::string& ns = "default") {
  auto secret = cluster.Get(apiserver::SecretsResource(), ns, name);
  if (!secret.ok()) return "error: " + secret.status().message();
  auto decoded =
      base::Base64Decode((*secret)["data"]["value"].get<std::string>());
  return decoded.ok() ? *decoded : "<invalid base64>";
}

inline std::string Raw(Cluster& cluster, const std::string& name,
                       const std::string& ns = "default") {
  auto raw = cluster.RawValue(apiserver::SecretsResource(), ns, name);
  return raw.ok() ? *raw : "error: " + raw.status().message();
}

class SimEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    // Cluster lifecycle logs would bury the test output.
    spdlog::set_level(spdlog::level::warn);
    std::string pattern = ::testing::TempDir() + "sim_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto service = kms::KeyService::Open(clock_, random_, dir_ + "/kms");
    ASSERT_TRUE(service.ok()) << service.status();
    kms_ = std::move(*service);
    kms_->Subscribe([this](const kms::KeyEvent& event) {
      key_events_.push_back(std::string(kms::KeyEventTypeName(event.type)));
    });
    kp_ = CreateInstance("kp-prod", kms::InstanceType::kKeyProtect);
  }

  void TearDown() override {
    // Clusters hold timers on the clock and subscriptions on the KMS.
    clusters_.clear();
    kms_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string CreateInstance(const std::string& name, kms::InstanceType type) {
    auto instance = kms_->CreateInstance(name, type);
    EXPECT_TRUE(instance.ok()) << instance.status();
    return instance.ok() ? instance->id : "";
  }

  std::string CreateRootKey(const std::string& instance_id,
                            const std::string& name,
                            std::optional<base::Duration> expires_in = {}) {
    kms::CreateKeyRequest request;
    request.name = name;
    if (expires_in) request.expiration = clock_.Now() + *expires_in;
    auto key = kms_->CreateKey(instance_id, request);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? key->id : "";
  }

  std::string CreateStandardKey(const std::string& instance_id,
                                const std::string& name) {
    kms::CreateKeyRequest request;
    request.name = name;
    request.extractable = true;
    auto key = kms_->CreateKey(instance_id, request);
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? key->id : "";
  }

  ClusterDeps Deps(const std::string& name, Account* account = nullptr) {
    ClusterDeps deps;
    deps.clock = &clock_;
    deps.random = &random_;
    deps.kms = kms_.get();
    deps.data_dir = dir_ + "/clusters/" + name;
    deps.account = account;
    deps.on_event = [this](const ClusterEvent& event) {
      events_.push_back(event.message);
    };
    return deps;
  }

  // Creates a cluster kept by the fixture.
  Cluster& MakeCluster(ClusterSpec spec, Account* account = nullptr) {
    std::string name = spec.name;
    auto cluster = Cluster::Create(std::move(spec), Deps(name, account));
    EXPECT_TRUE(cluster.ok()) << cluster.status();
    clusters_.push_back(std::move(*cluster));
    return *clusters_.back();
  }

  Cluster& MakeCluster(const std::string& name, const std::string& version,
                       Infrastructure infrastructure = Infrastructure::kClassic,
                       int workers = 0, const std::string& flavor = "") {
    ClusterSpec spec;
    spec.name = name;
    spec.version = V(version);
    spec.infrastructure = infrastructure;
    spec.workers = workers;
    spec.flavor = flavor;
    return MakeCluster(std::move(spec));
  }

  // Advances the clock timer by timer until `done` holds, or fails after
  // `limit` of virtual time. Returns whether `done` held.
  bool AdvanceUntil(const std::function<bool()>& done, base::Duration limit) {
    base::Time deadline = clock_.Now() + limit;
    while (!done()) {
      std::optional<base::Time> next = clock_.NextTimerAt();
      if (clock_.Now() >= deadline) return false;
      base::Time target =
          next && *next < deadline ? std::max(*next, clock_.Now()) : deadline;
      clock_.AdvanceTo(target);
    }
    return true;
  }

  // Enables KMS and waits until the master is Ready again.
  void EnableAndWait(Cluster& cluster, const std::string& instance_id,
                     const std::string& key_id) {
    base::Status started = cluster.EnableKms(instance_id, key_id);
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_TRUE(AdvanceUntil(
        [&] { return cluster.master_state() != MasterState::kKmsEnabling; },
        std::chrono::minutes(15)));
    ASSERT_EQ(cluster.crk_id(), key_id);
  }

  bool HasEvent(const std::string& text) const {
    for (const std::string& event : events_) {
      if (event.find(text) != std::string::npos) return true;
    }
    return false;
  }

  base::SimulatedClock clock_{TestStart()};
  base::SeededRandom random_{7};
  std::string dir_;
  std::unique_ptr<kms::KeyService> kms_;
  std::string kp_;  // a Key Protect instance
  std::vector<std::unique_ptr<Cluster>> clusters_;
  std::vector<std::string> events_;
  std::vector<std::string> key_events_;
};

}  // namespace sim

#endif  // TESTS_SIM_SIM_ENV_H_
