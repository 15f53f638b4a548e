#include "kms-mock/seed.h"

#include <gtest/gtest.h>

#include <string>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

const char kSeed[] = R"(
instances:
  - id: inst-demo
    name: demo
    type: hpcs
    keys:
      - id: crk-1
        name: cluster-root-key
        description: root key of c1
        expiration: 2027-01-01T00:00:00Z
        dual_auth_delete: true
        registrations:
          - crn: crn:v1:bluemix:public:containers-kubernetes:c1
      - id: crk-2
        name: suspended-key
        state: Suspended
      - id: std-1
        name: standard
        extractable: true
        payload: QUFBQUFBQUFBQUFBQUFBQQ==
  - name: unnamed-instance
    keys:
      - name: generated
)";

class SeedTest : public ::testing::Test {
 protected:
  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{3};
  KeyService service_{clock_, random_};
};

TEST_F(SeedTest, CreatesInstancesKeysAndRegistrations) {
  ASSERT_TRUE(ApplySeed(service_, kSeed).ok());

  ASSERT_EQ(service_.ListInstances().size(), 2u);
  EXPECT_EQ(service_.GetInstance("inst-demo")->type,
            InstanceType::kHyperProtect);
  Key root = *service_.GetKey("inst-demo", "crk-1");
  EXPECT_EQ(root.name, "cluster-root-key");
  EXPECT_EQ(root.description, "root key of c1");
  EXPECT_TRUE(root.dual_auth_delete);
  EXPECT_EQ(root.expiration, base::ParseRfc3339("2027-01-01T00:00:00Z"));
  EXPECT_EQ(service_.GetKey("inst-demo", "crk-2")->state, KeyState::kSuspended);
  EXPECT_EQ(service_.GetKey("inst-demo", "std-1")->payload,
            std::string(16, 'A'));
  EXPECT_EQ(service_.ListRegistrations("inst-demo", "crk-1").size(), 1u);
  std::string other = service_.ListInstances()[1].id;
  EXPECT_EQ(service_.ListKeys(other)->size(), 1u);
}

TEST_F(SeedTest, SecondApplyChangesNothing) {
  ASSERT_TRUE(ApplySeed(service_, kSeed).ok());

  ASSERT_TRUE(ApplySeed(service_, kSeed).ok());

  EXPECT_EQ(service_.ListKeys("inst-demo")->size(), 3u);
  // The instance without an id is created again, as documented.
  EXPECT_EQ(service_.ListInstances().size(), 3u);
}

TEST_F(SeedTest, KeysStartWithVersionsAndEveryState) {
  const char seed[] = R"(
instances:
  - id: inst-states
    keys:
      - id: rotated
        name: rotated
        payload: QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=
        versions:
          - payload: QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=
          - payload: Q0NDQ0NDQ0NDQ0NDQ0NDQw==
      - id: generated-versions
        name: generated
        versions: [{}, {}]
      - {id: suspended, name: s, state: Suspended}
      - id: deactivated
        name: d
        expiration: 2025-06-01T00:00:00Z
        state: Deactivated
      - {id: destroyed, name: x, state: Destroyed}
      - {id: destroyed-dual, name: y, state: Destroyed, dual_auth_delete: true}
)";

  base::Status status = ApplySeed(service_, seed);

  ASSERT_TRUE(status.ok()) << status;
  Key rotated = *service_.GetKey("inst-states", "rotated");
  EXPECT_EQ(rotated.versions.size(), 3u);
  EXPECT_EQ(rotated.state, KeyState::kActive);
  EXPECT_EQ(rotated.last_rotate_date, kStart);
  EXPECT_EQ(
      service_.GetKey("inst-states", "generated-versions")->versions.size(),
      3u);
  EXPECT_EQ(service_.GetKey("inst-states", "suspended")->state,
            KeyState::kSuspended);
  EXPECT_EQ(service_.GetKey("inst-states", "deactivated")->state,
            KeyState::kDeactivated);
  EXPECT_EQ(service_.GetKey("inst-states", "destroyed")->state,
            KeyState::kDestroyed);
  EXPECT_EQ(service_.GetKey("inst-states", "destroyed-dual")->state,
            KeyState::kDestroyed);

  // Each state behaves as one reached at run time.
  EXPECT_EQ(service_.Wrap("inst-states", "deactivated", {}).status().reason(),
            kReasonInvalidState);
  EXPECT_EQ(service_.Wrap("inst-states", "destroyed", {}).status().reason(),
            kReasonKeyDeleted);
  EXPECT_EQ(service_.Enable("inst-states", "suspended").reason(),
            kReasonTooEarly);
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_TRUE(service_.Enable("inst-states", "suspended").ok());
  EXPECT_EQ(service_.Restore("inst-states", "destroyed")->state,
            KeyState::kActive);
}

TEST_F(SeedTest, NewestSeededVersionWraps) {
  const char first[] = R"(
instances:
  - id: inst-a
    keys:
      - id: k
        name: k
        payload: QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=
        versions:
          - payload: QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=
)";
  ASSERT_TRUE(ApplySeed(service_, first).ok());
  WrapResult wrapped = *service_.Wrap("inst-a", "k", std::string(32, 'd'));

  base::StatusOr<UnwrapResult> opened =
      service_.Unwrap("inst-a", "k", wrapped.ciphertext);

  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->plaintext, std::string(32, 'd'));
  EXPECT_EQ(opened->key_version_id,
            service_.GetKey("inst-a", "k")->versions.back().id);
  EXPECT_FALSE(opened->rewrapped_ciphertext.has_value());
}

TEST_F(SeedTest, ImportedKeyVersionsNeedPayloads) {
  const char seed[] = R"(
instances:
  - id: inst-b
    keys:
      - id: k
        name: k
        payload: QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=
        versions: [{}]
)";

  base::Status status = ApplySeed(service_, seed);

  EXPECT_EQ(status.reason(), kReasonPayloadRequired) << status;
  EXPECT_FALSE(service_.GetKey("inst-b", "k").ok());
  EXPECT_FALSE(service_.GetInstance("inst-b").ok());
}

TEST_F(SeedTest, MalformedEntryIsNamedAndNothingIsCreated) {
  struct Case {
    std::string yaml;
    std::string where;
  };
  std::vector<Case> cases = {
      {"instances: 3", "instances"},
      {"instances:\n  - id: i\n    type: aws\n", "instances[0].type"},
      {"instances:\n  - id: i\n    keys:\n      - id: k\n",
       "instances[0].keys[0].name"},
      {"instances:\n  - id: i\n    keys:\n      - {name: k, payload: '@@'}\n",
       "instances[0].keys[0].payload"},
      {"instances:\n  - id: i\n    keys:\n      - {name: k, state: Gone}\n",
       "instances[0].keys[0].state"},
      {"instances:\n  - id: i\n    keys:\n      - {name: k, expiration: x}\n",
       "instances[0].keys[0].expiration"},
      {"instances:\n  - id: i\n    keys:\n      - {name: k, extractable: "
       "maybe}\n",
       "instances[0].keys[0].extractable"},
      {"instances:\n  - id: i\n    keys:\n      - name: k\n"
       "        registrations:\n          - {prevent_key_deletion: true}\n",
       "instances[0].keys[0].registrations[0].crn"},
      {"instances:\n  - id: i\n    keys:\n      - name: k\n"
       "        versions: {payload: x}\n",
       "instances[0].keys[0].versions"},
      {"instances:\n  - id: i\n    keys:\n      - name: k\n"
       "        versions: [{payload: '@@'}]\n",
       "instances[0].keys[0].versions[0].payload"},
      {"instances:\n  - id: i\n    keys:\n      - {name: k, state: "
       "Pre-activation}\n",
       "instances[0].keys[0].state"},
      {"instances:\n  - id: i\n    keys:\n      - name: k\n"
       "        state: Destroyed\n"
       "        registrations:\n          - {crn: c1}\n",
       "instances[0].keys[0].registrations"},
      {"instances: [\n", "YAML"},
  };

  for (const Case& c : cases) {
    base::Status status = ApplySeed(service_, c.yaml);
    EXPECT_EQ(status.code(), base::Code::kInvalidArgument) << c.yaml;
    EXPECT_NE(status.message().find(c.where), std::string::npos)
        << status.message();
  }
  EXPECT_TRUE(service_.ListInstances().empty());
}

// Errors that only the service finds, such as a payload of the wrong size,
// are found before anything is created, and name the entry.
TEST_F(SeedTest, ServiceErrorLeavesEverythingUnchanged) {
  ASSERT_TRUE(ApplySeed(service_, "instances:\n  - id: old\n").ok());
  const char seed[] = R"(
instances:
  - id: inst-a
    keys:
      - {id: good, name: good}
  - id: old
    keys:
      - {id: fine, name: fine}
      - {id: bad, name: bad, payload: QUFBQUFBQUFBQUFBQUFBQUFBQUE=}
)";

  base::Status status = ApplySeed(service_, seed);

  EXPECT_EQ(status.code(), base::Code::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("instances[1].keys[1]: "), std::string::npos)
      << status.message();
  EXPECT_FALSE(service_.GetInstance("inst-a").ok());
  EXPECT_TRUE(service_.ListKeys("old")->empty());
  EXPECT_EQ(service_.ListInstances().size(), 1u);
}

TEST_F(SeedTest, KeyIdOfAnotherInstanceIsRejected) {
  ASSERT_TRUE(ApplySeed(service_,
                        "instances:\n  - id: a\n    keys: [{id: k, name: k}]\n")
                  .ok());

  base::Status status = ApplySeed(
      service_, "instances:\n  - id: b\n    keys: [{id: k, name: other}]\n");

  EXPECT_EQ(status.code(), base::Code::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("instances[0].keys[0].id"), std::string::npos)
      << status.message();
  EXPECT_FALSE(service_.GetInstance("b").ok());
}

TEST_F(SeedTest, MissingFileIsNotFound) {
  base::Status status = LoadSeedFile(service_, "/nonexistent/seed.yaml");

  EXPECT_EQ(status.code(), base::Code::kNotFound);
}

}  // namespace
}  // namespace kms
