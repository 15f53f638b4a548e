#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

class PersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kms-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  KeyService& Open() {
    service_.reset();
    base::StatusOr<std::unique_ptr<KeyService>> opened =
        KeyService::Open(clock_, random_, dir_ + "/db");
    EXPECT_TRUE(opened.ok()) << opened.status();
    service_ = std::move(opened).value();
    return *service_;
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{21};
  std::string dir_;
  std::unique_ptr<KeyService> service_;
};

TEST_F(PersistenceTest, KeysVersionsStatesSurviveReopen) {
  KeyService& first = Open();
  ASSERT_TRUE(
      first.CreateInstance("a", InstanceType::kHyperProtect, "inst-a").ok());
  ASSERT_TRUE(
      first.CreateInstance("b", InstanceType::kKeyProtect, "inst-b").ok());
  std::string root = first.CreateKey("inst-a", {.name = "root"})->id;
  WrapResult wrapped = *first.Wrap("inst-a", root, {}, {"aad"});
  ASSERT_TRUE(first.Rotate("inst-a", root).ok());
  std::string standard =
      first
          .CreateKey("inst-a", {.name = "std",
                                .extractable = true,
                                .material = std::string(16, 'p')})
          ->id;
  ASSERT_TRUE(first.Disable("inst-a", root).ok());
  ASSERT_TRUE(first.Delete("inst-a", standard).ok());
  Key before = *first.GetKey("inst-a", root);

  KeyService& second = Open();

  ASSERT_EQ(second.ListInstances().size(), 2u);
  EXPECT_EQ(second.ListInstances()[0].id, "inst-a");
  EXPECT_EQ(second.ListInstances()[0].type, InstanceType::kHyperProtect);
  std::vector<Key> keys = *second.ListKeys("inst-a");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].id, root);
  EXPECT_EQ(keys[1].id, standard);
  EXPECT_EQ(keys[0].state, KeyState::kSuspended);
  EXPECT_EQ(keys[0].versions.size(), 2u);
  EXPECT_EQ(keys[0].last_rotate_date, before.last_rotate_date);
  EXPECT_EQ(keys[1].state, KeyState::kDestroyed);
  EXPECT_EQ(keys[1].payload, std::string(16, 'p'));
  EXPECT_EQ(keys[1].purge_allowed_from, kStart + hours(4));
}

TEST_F(PersistenceTest, MaterialAndGuardsSurviveReopen) {
  KeyService& first = Open();
  ASSERT_TRUE(first.CreateInstance("a", InstanceType::kKeyProtect, "i").ok());
  std::string id = first.CreateKey("i", {.name = "root"})->id;
  WrapResult old = *first.Wrap("i", id, {}, {"ctx"});
  ASSERT_TRUE(first.Rotate("i", id).ok());
  ASSERT_TRUE(first.Disable("i", id).ok());

  KeyService& second = Open();
  base::Status early = second.Enable("i", id);
  clock_.Advance(seconds(30));
  ASSERT_TRUE(second.Enable("i", id).ok());
  base::StatusOr<UnwrapResult> unwrapped =
      second.Unwrap("i", id, old.ciphertext, {"ctx"});

  EXPECT_EQ(early.reason(), kReasonTooEarly);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_EQ(unwrapped->plaintext, old.plaintext);
  EXPECT_TRUE(unwrapped->rewrapped_ciphertext.has_value());
}

TEST_F(PersistenceTest, RegistrationsAndPurgesSurviveReopen) {
  KeyService& first = Open();
  ASSERT_TRUE(first.CreateInstance("a", InstanceType::kKeyProtect, "i").ok());
  std::string kept = first.CreateKey("i", {.name = "kept"})->id;
  std::string purged = first.CreateKey("i", {.name = "purged"})->id;
  Registration r{"i", kept, "crn:cluster-1", "cluster", true, {}};
  ASSERT_TRUE(first.Register(r).ok());
  ASSERT_TRUE(first.Delete("i", purged).ok());
  clock_.Advance(hours(4));
  ASSERT_TRUE(first.Purge("i", purged).ok());

  KeyService& second = Open();

  ASSERT_EQ(second.ListRegistrations("i", kept).size(), 1u);
  EXPECT_EQ(second.ListRegistrations("i", kept)[0].description, "cluster");
  EXPECT_EQ(second.Delete("i", kept).status().reason(),
            kReasonProtectedResource);
  EXPECT_EQ(second.GetKey("i", purged).status().reason(), kReasonKeyNotFound);
  EXPECT_EQ(second.ListKeys("i")->size(), 1u);
  std::string next = second.CreateKey("i", {.name = "after"})->id;
  EXPECT_EQ(second.ListKeys("i")->back().id, next);
}

TEST_F(PersistenceTest, ExpiryTimerIsRescheduledOnReopen) {
  KeyService& first = Open();
  ASSERT_TRUE(first.CreateInstance("a", InstanceType::kKeyProtect, "i").ok());
  std::string id =
      first.CreateKey("i", {.name = "k", .expiration = kStart + hours(1)})->id;

  KeyService& second = Open();
  std::vector<KeyEventType> events;
  second.Subscribe([&](const KeyEvent& e) { events.push_back(e.type); });
  clock_.Advance(hours(2));

  EXPECT_EQ(events, std::vector<KeyEventType>{KeyEventType::kExpired});
  service_.reset();
  KeyService& third = Open();
  EXPECT_EQ(third.GetKey("i", id)->state, KeyState::kDeactivated);
}

TEST_F(PersistenceTest, CorruptRecordFailsOpen) {
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_ + "/db", &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k/x", "not json").ok());
    delete db;
  }

  base::StatusOr<std::unique_ptr<KeyService>> opened =
      KeyService::Open(clock_, random_, dir_ + "/db");

  EXPECT_EQ(opened.status().code(), base::Code::kDataLoss);
}

TEST_F(PersistenceTest, UnusableDirectoryFailsOpen) {
  std::string file = dir_ + "/plain-file";
  FILE* f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);

  base::StatusOr<std::unique_ptr<KeyService>> opened =
      KeyService::Open(clock_, random_, file + "/db");

  EXPECT_EQ(opened.status().code(), base::Code::kUnavailable);
}

}  // namespace
}  // namespace kms
