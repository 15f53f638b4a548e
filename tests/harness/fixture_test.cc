// The ClusterTest fixture itself: its KMS, clock, cluster, Secret and
// stored-bytes helpers, and what it reports when they fail.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "base/crypto.h"
#include "sim/testing/cluster_test.h"

namespace sim::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

class FixtureTest : public ClusterTest {
 protected:
  // A Key Protect instance, a root key and a 1.19 cluster "prod" with KMS
  // enabled under that key.
  void EnabledCluster(const std::string& version = "1.19.16_1540") {
    kp_ = CreateInstance("kp");
    crk_ = CreateRootKey(kp_, "crk");
    SIM_ASSERT_OK(CreateCluster("prod", version));
    SIM_ASSERT_OK(EnableKms("prod", kp_, crk_));
  }

  std::string kp_;
  std::string crk_;
};

// A fixture run by hand, outside GoogleTest's test runner.
class ManualFixture : public ClusterTest {
 public:
  explicit ManualFixture(ClusterTestOptions options = {})
      : ClusterTest(std::move(options)) {}
  void Start() { SetUp(); }
  void Stop() { TearDown(); }
  using ClusterTest::CreateInstance;
  using ClusterTest::CreateRootKey;
  using ClusterTest::data_dir;

 private:
  void TestBody() override {}
};

// --- Set-up and tear-down ---

TEST_F(FixtureTest, SetUpOpensEmptyEnvironment) {
  EXPECT_TRUE(std::filesystem::is_directory(data_dir()));
  EXPECT_THAT(env().Clusters(), IsEmpty());
  EXPECT_THAT(kms().ListInstances(), IsEmpty());
  EXPECT_EQ(clock().Now(), DefaultStartTime());
}

TEST(ClusterTestLifecycle, TearDownRemovesDataDir) {
  ManualFixture fixture;
  fixture.Start();
  std::string dir = fixture.data_dir();
  ASSERT_TRUE(std::filesystem::is_directory(dir));

  fixture.Stop();

  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(ClusterTestLifecycle, SameSeedGivesSameIds) {
  ManualFixture first({.seed = 42});
  ManualFixture second({.seed = 42});
  ManualFixture other({.seed = 43});
  first.Start();
  second.Start();
  other.Start();

  std::string first_key =
      first.CreateRootKey(first.CreateInstance("kp"), "crk");
  std::string second_key =
      second.CreateRootKey(second.CreateInstance("kp"), "crk");
  std::string other_key =
      other.CreateRootKey(other.CreateInstance("kp"), "crk");

  EXPECT_EQ(first_key, second_key);
  EXPECT_NE(first_key, other_key);
  first.Stop();
  second.Stop();
  other.Stop();
}

TEST_F(FixtureTest, RestartKeepsKeysClustersAndSecrets) {
  EnabledCluster();
  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "hunter2"}}));
  std::string spare = CreateRootKey(kp_, "spare");
  SIM_ASSERT_OK(DisableKey(spare));
  base::Time before = clock().Now();

  SIM_ASSERT_OK(Restart());

  EXPECT_EQ(clock().Now(), before);
  EXPECT_EQ(KeyState(crk_), "Active");
  EXPECT_EQ(KeyState(spare), "Suspended");
  EXPECT_EQ(Kms("prod"), "enabled");
  EXPECT_EQ(RootKey("prod"), crk_);
  EXPECT_EQ(SecretValue("prod", "db", "password"), "hunter2");
  // Only what happened since the restart.
  EXPECT_THAT(ClusterEvents("prod"), ElementsAre(StartsWith("restored from ")));
}

// --- Failures of the helpers ---

TEST_F(FixtureTest, IsOkPrintsTheError) {
  EXPECT_TRUE(IsOk(base::OkStatus()));
  EXPECT_TRUE(IsOk(base::StatusOr<int>(3)));

  ::testing::AssertionResult failed =
      IsOk(base::NotFoundError("secrets \"x\" not found"));

  EXPECT_FALSE(failed);
  EXPECT_THAT(failed.message(), HasSubstr("secrets \"x\" not found"));
  EXPECT_NONFATAL_FAILURE(SIM_EXPECT_OK(base::UnavailableError("kms down")),
                          "kms down");
}

TEST_F(FixtureTest, FailedSetupHelperReportsCallerLine) {
  ::testing::TestPartResultArray failures;
  std::string key;
  int line = 0;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::
            INTERCEPT_ONLY_CURRENT_THREAD,
        &failures);
    line = __LINE__ + 1;
    key = CreateRootKey("no-such-instance", "crk");
  }

  EXPECT_EQ(key, "");
  ASSERT_EQ(failures.size(), 1);
  const ::testing::TestPartResult& failure = failures.GetTestPartResult(0);
  EXPECT_TRUE(failure.nonfatally_failed());
  EXPECT_THAT(failure.file_name(), HasSubstr("fixture_test.cc"));
  EXPECT_EQ(failure.line_number(), line);
  EXPECT_THAT(failure.message(), HasSubstr("creating key crk failed"));
}

TEST_F(FixtureTest, UnknownClusterFailsEveryHelper) {
  EXPECT_THAT(MasterStatus("nope"), StartsWith("error: "));
  EXPECT_THAT(Health("nope"), StartsWith("error: "));
  EXPECT_THAT(Kms("nope"), StartsWith("error: "));
  EXPECT_THAT(SecretValue("nope", "db", "password"), StartsWith("error: "));
  EXPECT_EQ(CreateSecret("nope", "db", {}).code(), base::Code::kNotFound);
  EXPECT_EQ(StoredSecret("nope", "db").status.code(), base::Code::kNotFound);
  EXPECT_EQ(EnableKms("nope", "kp", "crk").code(), base::Code::kNotFound);
  EXPECT_EQ(FindCluster("nope"), nullptr);
}

// --- KMS keys ---

TEST_F(FixtureTest, KeyActionsFollowKeyProtectLifecycle) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk");
  EXPECT_EQ(KeyState(crk), "Active");

  SIM_ASSERT_OK(DisableKey(crk));
  EXPECT_EQ(KeyState(crk), "Suspended");
  EXPECT_EQ(EnableKey(crk).reason(), kms::kReasonTooEarly);
  Advance(seconds(30));
  SIM_ASSERT_OK(EnableKey(crk));
  EXPECT_EQ(KeyState(crk), "Active");

  SIM_ASSERT_OK(RotateKey(crk));
  EXPECT_EQ(kms().GetKey(kp, crk)->versions.size(), 2u);

  SIM_ASSERT_OK(DeleteKey(crk));
  EXPECT_EQ(KeyState(crk), "Destroyed");
  Advance(seconds(30));
  SIM_ASSERT_OK(RestoreKey(crk));
  EXPECT_EQ(KeyState(crk), "Active");
}

TEST_F(FixtureTest, DualAuthKeyNeedsSetForDeletion) {
  std::string kp = CreateInstance("kp");
  kms::CreateKeyRequest request;
  request.name = "dual";
  request.dual_auth_delete = true;
  std::string key = CreateKey(kp, request);

  EXPECT_EQ(DeleteKey(key).reason(), kms::kReasonAuthorizationsNotMet);
  SIM_ASSERT_OK(SetKeyForDeletion(key));
  SIM_ASSERT_OK(UnsetKeyForDeletion(key));
  EXPECT_EQ(DeleteKey(key).reason(), kms::kReasonAuthorizationsNotMet);
  SIM_ASSERT_OK(SetKeyForDeletion(key));
  SIM_EXPECT_OK(DeleteKey(key));
}

TEST_F(FixtureTest, UnknownKeyIsNotFound) {
  CreateInstance("kp");

  base::Status disabled = DisableKey("no-such-key");

  EXPECT_EQ(disabled.code(), base::Code::kNotFound);
  EXPECT_EQ(disabled.reason(), kms::kReasonKeyNotFound);
  EXPECT_THAT(disabled.message(), HasSubstr("no-such-key"));
  EXPECT_THAT(KeyState("no-such-key"), StartsWith("error: "));
}

TEST_F(FixtureTest, DeleteKeyRefusedWhileClusterRegistered) {
  EnabledCluster();

  EXPECT_EQ(DeleteKey(crk_).reason(), kms::kReasonProtectedResource);
  EXPECT_EQ(KeyState(crk_), "Active");
  SIM_ASSERT_OK(DeleteKey(crk_, /*force=*/true));
  EXPECT_EQ(KeyState(crk_), "Destroyed");
}

TEST_F(FixtureTest, ExpireKeyAdvancesPastExpirationDate) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk", hours(2));
  base::Time expiration = clock().Now() + hours(2);

  SIM_ASSERT_OK(ExpireKey(crk));

  EXPECT_EQ(KeyState(crk), "Deactivated");
  EXPECT_GE(clock().Now(), expiration);
  EXPECT_LE(clock().Now(), expiration + kms::kExpiryLag);
}

TEST_F(FixtureTest, ExpireKeyNeedsExpirationDate) {
  std::string crk = CreateRootKey(CreateInstance("kp"), "crk");
  base::Time before = clock().Now();

  base::Status expired = ExpireKey(crk);

  EXPECT_EQ(expired.code(), base::Code::kFailedPrecondition);
  EXPECT_THAT(expired.message(), HasSubstr("no expirationDate"));
  EXPECT_EQ(clock().Now(), before);
  EXPECT_EQ(KeyState(crk), "Active");
}

// --- KMS faults ---

TEST_F(FixtureTest, InjectedErrorFailsMatchingCalls) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk");
  uint64_t fault = InjectKmsError("wrap", 503, crk);

  auto wrapped = kms().Wrap(kp, crk, std::nullopt);

  EXPECT_EQ(wrapped.status().code(), base::Code::kUnavailable);
  EXPECT_EQ(FailedKmsCalls("wrap"), 1);
  // The fault is scoped to wrap: unwrap still reaches the key.
  EXPECT_EQ(kms().Unwrap(kp, crk, "not a ciphertext").status().reason(),
            kms::kReasonUnprocessableCiphertext);
  ASSERT_TRUE(ClearFault(fault));
  EXPECT_FALSE(ClearFault(fault));
  SIM_EXPECT_OK(kms().Wrap(kp, crk, std::nullopt));
  EXPECT_EQ(KmsCalls("wrap"), 2);
  EXPECT_EQ(FailedKmsCalls("wrap"), 1);
}

TEST_F(FixtureTest, OutageFailsEveryCallUntilCleared) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk");
  InjectKmsOutage();

  EXPECT_EQ(kms().Wrap(kp, crk, std::nullopt).status().code(),
            base::Code::kUnavailable);
  EXPECT_EQ(kms().Rotate(kp, crk).status().code(), base::Code::kUnavailable);
  ClearFaults();
  SIM_EXPECT_OK(kms().Wrap(kp, crk, std::nullopt));
  EXPECT_THAT(kms().faults().List(), IsEmpty());
}

TEST_F(FixtureTest, InvalidFaultSpecIsRejected) {
  kms::FaultSpec spec;
  spec.operation = "decrypt-everything";

  auto added = InjectFault(spec);

  EXPECT_EQ(added.status().code(), base::Code::kInvalidArgument);
  EXPECT_THAT(kms().faults().List(), IsEmpty());
  EXPECT_NONFATAL_FAILURE(InjectKmsError("decrypt-everything"),
                          "injecting a KMS error on decrypt-everything");
}

// --- Clusters and KMS enablement ---

TEST_F(FixtureTest, NewClusterIsReadyWithoutKms) {
  SIM_ASSERT_OK(CreateCluster("prod"));

  EXPECT_THAT(MasterStatus("prod"), StartsWith("Ready ("));
  EXPECT_EQ(Health("prod"), "normal");
  EXPECT_EQ(Kms("prod"), "disabled");
  EXPECT_EQ(RootKey("prod"), "");
  ASSERT_NE(FindCluster("prod"), nullptr);
  EXPECT_EQ(FindCluster("prod")->version().ToString(), "1.19.16_1540");
}

TEST_F(FixtureTest, CreateClusterRejectsBadInput) {
  SIM_ASSERT_OK(CreateCluster("prod"));

  EXPECT_EQ(CreateCluster("prod").code(), base::Code::kAlreadyExists);
  EXPECT_EQ(CreateCluster("other", "one.two").code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(env().Clusters().size(), 1u);
}

TEST_F(FixtureTest, EnableKmsWaitsUntilReady) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk");
  SIM_ASSERT_OK(CreateCluster("prod"));
  base::Time before = clock().Now();

  SIM_ASSERT_OK(EnableKms("prod", kp, crk));

  EXPECT_THAT(MasterStatus("prod"), StartsWith("Ready ("));
  EXPECT_EQ(Kms("prod"), "enabled");
  EXPECT_EQ(RootKey("prod"), crk);
  // The model's enablement takes 5 to 10 virtual minutes.
  EXPECT_GE(clock().Now() - before, minutes(5));
  EXPECT_THAT(ClusterEvents("prod"),
              ::testing::Contains(HasSubstr("KMS enablement finished")));
}

TEST_F(FixtureTest, EnableKmsFailureChangesNothing) {
  std::string kp = CreateInstance("kp");
  SIM_ASSERT_OK(CreateCluster("prod"));
  base::Time before = clock().Now();

  base::Status enabled = EnableKms("prod", kp, "no-such-key");

  EXPECT_EQ(enabled.code(), base::Code::kNotFound);
  EXPECT_EQ(Kms("prod"), "disabled");
  EXPECT_EQ(clock().Now(), before);
}

TEST_F(FixtureTest, EnablementInProgressIsVisible) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk");
  SIM_ASSERT_OK(CreateCluster("prod"));

  SIM_ASSERT_OK(FindCluster("prod")->EnableKms(kp, crk));

  EXPECT_EQ(MasterStatus("prod"),
            "Key management service feature enablement in progress.");
  EXPECT_EQ(EnableKms("prod", kp, crk).code(), base::Code::kFailedPrecondition);
  SIM_ASSERT_OK(AdvanceUntilReady("prod"));
  EXPECT_EQ(Kms("prod"), "enabled");
}

// --- The clock ---

TEST_F(FixtureTest, AdvanceUntilStopsWhenDone) {
  base::Time target = clock().Now() + minutes(7);
  bool fired = false;
  clock().ScheduleAt(target, [&] { fired = true; });

  SIM_ASSERT_OK(AdvanceUntil([&] { return fired; }, hours(1), "the timer"));

  EXPECT_EQ(clock().Now(), target);
}

TEST_F(FixtureTest, AdvanceUntilFailsAfterLimit) {
  base::Time before = clock().Now();

  base::Status waited =
      AdvanceUntil([] { return false; }, minutes(20), "the impossible");

  EXPECT_EQ(waited.code(), base::Code::kDeadlineExceeded);
  EXPECT_EQ(waited.message(),
            "the impossible did not happen within 20m of virtual time");
  EXPECT_EQ(clock().Now(), before + minutes(20));
}

TEST_F(FixtureTest, AdvanceUntilReadyNamesMasterStatus) {
  std::string kp = CreateInstance("kp");
  std::string crk = CreateRootKey(kp, "crk");
  SIM_ASSERT_OK(CreateCluster("prod"));
  SIM_ASSERT_OK(FindCluster("prod")->EnableKms(kp, crk));

  base::Status ready = AdvanceUntilReady("prod", minutes(1));

  EXPECT_EQ(ready.code(), base::Code::kDeadlineExceeded);
  EXPECT_THAT(ready.message(),
              HasSubstr("Master Status: Key management service feature "
                        "enablement in progress."));
}

// --- Cluster state after root key changes ---

TEST_F(FixtureTest, DisabledKeyMakesClusterUnusable) {
  EnabledCluster();
  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "hunter2"}}));

  SIM_ASSERT_OK(DisableKey(crk_));
  SIM_ASSERT_OK(AdvanceUntilUnusable("prod"));

  EXPECT_EQ(Health("prod"), "warning");
  EXPECT_THAT(MasterStatus("prod"), HasSubstr("is disabled"));
  std::string endpoint = FindCluster("prod")->master_endpoint();
  EXPECT_EQ(SecretValue("prod", "db", "password"),
            "error: Unable to connect to the server: dial tcp " + endpoint +
                ": i/o timeout");
  EXPECT_EQ(ListSecrets("prod").status().code(), base::Code::kUnavailable);
  EXPECT_THAT(ClusterConfig("prod"), HasSubstr("does not respond"));
  // The stored bytes stay readable past the master.
  EXPECT_TRUE(StoredSecret("prod", "db").kms_encrypted);
}

TEST_F(FixtureTest, EnabledKeyRestoresCluster) {
  EnabledCluster();
  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "hunter2"}}));
  SIM_ASSERT_OK(DisableKey(crk_));
  SIM_ASSERT_OK(AdvanceUntilUnusable("prod"));

  Advance(seconds(30));
  SIM_ASSERT_OK(EnableKey(crk_));
  SIM_ASSERT_OK(AdvanceUntilReady("prod"));

  EXPECT_EQ(Health("prod"), "normal");
  EXPECT_EQ(SecretValue("prod", "db", "password"), "hunter2");
  EXPECT_THAT(ClusterConfig("prod"),
              HasSubstr(FindCluster("prod")->master_endpoint()));
}

TEST_F(FixtureTest, AdvanceUntilUnusableFailsWhileKeyActive) {
  EnabledCluster();

  base::Status unusable = AdvanceUntilUnusable("prod", hours(1));

  EXPECT_EQ(unusable.code(), base::Code::kDeadlineExceeded);
  EXPECT_THAT(MasterStatus("prod"), StartsWith("Ready ("));
}

// --- Secrets ---

TEST_F(FixtureTest, SecretRoundTrip) {
  SIM_ASSERT_OK(CreateCluster("prod"));

  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"user", "app"}, {"pw", "x1"}}));
  SIM_ASSERT_OK(UpdateSecret("prod", "db", {{"user", "app"}, {"pw", "x2"}}));

  EXPECT_EQ(SecretValue("prod", "db", "pw"), "x2");
  auto data = GetSecret("prod", "db");
  SIM_ASSERT_OK(data);
  EXPECT_EQ(*data, (std::map<std::string, std::string>{{"pw", "x2"},
                                                       {"user", "app"}}));
  EXPECT_EQ(SecretValue("prod", "db", "token"),
            "error: Secret default/db has no field \"token\"");
}

TEST_F(FixtureTest, SecretErrorsAreTheApiErrors) {
  SIM_ASSERT_OK(CreateCluster("prod"));
  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"pw", "x"}}));

  EXPECT_EQ(CreateSecret("prod", "db", {{"pw", "y"}}).code(),
            base::Code::kAlreadyExists);
  EXPECT_EQ(SecretValue("prod", "gone", "pw"),
            "error: secrets \"gone\" not found");
  EXPECT_EQ(UpdateSecret("prod", "gone", {}).code(), base::Code::kNotFound);
  EXPECT_EQ(CreateSecret("prod", "Bad_Name", {}).code(),
            base::Code::kInvalidArgument);
  EXPECT_EQ(SecretValue("prod", "db", "pw"), "x");
}

TEST_F(FixtureTest, ListAndDeleteSecrets) {
  SIM_ASSERT_OK(CreateCluster("prod"));
  SIM_ASSERT_OK(env().FindCluster("prod").value()->Create(
      apiserver::NamespacesResource(), "",
      {{"apiVersion", "v1"},
       {"kind", "Namespace"},
       {"metadata", {{"name", "team"}}}}));
  SIM_ASSERT_OK(CreateSecret("prod", "b", {{"k", "v"}}));
  SIM_ASSERT_OK(CreateSecret("prod", "a", {{"k", "v"}}, "team"));

  auto all = ListSecrets("prod");
  SIM_ASSERT_OK(all);
  EXPECT_THAT(*all, ElementsAre("default/b", "team/a"));
  SIM_ASSERT_OK(DeleteSecret("prod", "b"));
  auto team = ListSecrets("prod", "team");
  SIM_ASSERT_OK(team);
  EXPECT_THAT(*team, ElementsAre("team/a"));
  EXPECT_THAT(*ListSecrets("prod", "default"), IsEmpty());
}

// --- Stored bytes ---

TEST_F(FixtureTest, SecretBeforeKmsIsStoredInPlain) {
  SIM_ASSERT_OK(CreateCluster("prod"));

  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "plain-pw"}}));

  StoredObject stored = StoredSecret("prod", "db");
  SIM_ASSERT_OK(stored.status);
  EXPECT_FALSE(stored.kms_encrypted);
  EXPECT_EQ(stored.provider, "");
  EXPECT_THAT(stored.raw, HasSubstr(base::Base64Encode("plain-pw")));
  EXPECT_THAT(FilesContaining("plain-pw"),
              ::testing::Contains(StartsWith("clusters/")));
}

TEST_F(FixtureTest, SecretAfterKmsIsEncryptedOnDisk) {
  EnabledCluster();

  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "sealed-pw"}}));

  StoredObject stored = StoredSecret("prod", "db");
  SIM_ASSERT_OK(stored.status);
  EXPECT_TRUE(stored.kms_encrypted);
  EXPECT_THAT(stored.raw, StartsWith("k8s:enc:kms:v2:ibm-kms-" + crk_ + ":"));
  EXPECT_EQ(stored.provider, "ibm-kms-" + crk_);
  EXPECT_THAT(stored.kms_key_id, Not(IsEmpty()));
  EXPECT_THAT(stored.raw, Not(HasSubstr(base::Base64Encode("sealed-pw"))));
  EXPECT_THAT(FilesContaining("sealed-pw"), IsEmpty());
}

TEST_F(FixtureTest, StoredSecretOfMissingSecretFails) {
  SIM_ASSERT_OK(CreateCluster("prod"));

  StoredObject stored = StoredSecret("prod", "gone");

  EXPECT_EQ(stored.status.code(), base::Code::kNotFound);
  EXPECT_EQ(stored.raw, "");
}

TEST_F(FixtureTest, KeyRotationInKmsChangesStoredKeyId) {
  EnabledCluster();
  SIM_ASSERT_OK(CreateSecret("prod", "db", {{"password", "v1"}}));
  std::string before = StoredSecret("prod", "db").kms_key_id;

  SIM_ASSERT_OK(RotateKey(crk_));
  // The API server learns the new key_id from its next status probe.
  Advance(minutes(2));
  SIM_ASSERT_OK(UpdateSecret("prod", "db", {{"password", "v2"}}));

  StoredObject after = StoredSecret("prod", "db");
  EXPECT_EQ(after.provider, "ibm-kms-" + crk_);
  EXPECT_THAT(after.kms_key_id, Not(IsEmpty()));
  EXPECT_NE(after.kms_key_id, before);
  EXPECT_EQ(SecretValue("prod", "db", "password"), "v2");
}

TEST_F(FixtureTest, RewriteEncryptsOldSecretsOn117) {
  kp_ = CreateInstance("kp");
  crk_ = CreateRootKey(kp_, "crk");
  SIM_ASSERT_OK(CreateCluster("legacy", "1.17.17"));
  SIM_ASSERT_OK(CreateSecret("legacy", "old", {{"password", "from-before"}}));
  SIM_ASSERT_OK(EnableKms("legacy", kp_, crk_));
  ASSERT_FALSE(StoredSecret("legacy", "old").kms_encrypted);

  auto written = RewriteSecrets("legacy");

  SIM_ASSERT_OK(written);
  EXPECT_EQ(*written, 1);
  EXPECT_TRUE(StoredSecret("legacy", "old").kms_encrypted);
  EXPECT_EQ(SecretValue("legacy", "old", "password"), "from-before");
}

}  // namespace
}  // namespace sim::testing
