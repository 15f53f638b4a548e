// Tests of the RocksDB store's group commit: concurrent writers share
// synced writes, get distinct contiguous revisions, and a failed shared sync
// fails every write in it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcd-store/store.h"
#include "tests/etcd/store_fixture.h"

namespace etcd {
namespace {

constexpr int kThreads = 8;
constexpr int kPutsPerThread = 25;

// Runs kThreads writers of kPutsPerThread puts each, on distinct keys, and
// returns every acknowledged revision.
std::vector<int64_t> WriteConcurrently(Store& store) {
  std::mutex mu;
  std::vector<int64_t> revisions;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPutsPerThread; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        auto put = store.Put({.key = key, .value = key});
        if (!put.ok()) continue;
        std::lock_guard lock(mu);
        revisions.push_back(put->header.revision);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return revisions;
}

TEST_F(StoreTest, ConcurrentPutsGetContiguousRevisions) {
  std::vector<int64_t> revisions = WriteConcurrently(*store_);

  std::sort(revisions.begin(), revisions.end());
  ASSERT_EQ(revisions.size(), size_t{kThreads * kPutsPerThread});
  for (size_t i = 0; i < revisions.size(); ++i) {
    EXPECT_EQ(revisions[i], static_cast<int64_t>(i) + 2);
  }
  EXPECT_EQ(store_->CurrentRevision(), kThreads * kPutsPerThread + 1);

  Reopen();
  auto all = store_->Range({.key = std::string(1, '\0'),
                            .range_end = std::string(1, '\0'),
                            .count_only = true});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->count, kThreads * kPutsPerThread);
  EXPECT_EQ(store_->CurrentRevision(), kThreads * kPutsPerThread + 1);
}

TEST_F(StoreTest, ConcurrentPutsShareSyncs) {
  auto syncs = std::make_shared<std::atomic<int>>(0);
  RocksDbOptions counting;
  counting.write_fault = [syncs] {
    ++*syncs;
    return base::OkStatus();
  };
  Reopen(counting);

  std::vector<int64_t> revisions = WriteConcurrently(*store_);

  ASSERT_EQ(revisions.size(), size_t{kThreads * kPutsPerThread});
  // NOTE: depends on scheduling, but eight writers that each wait for a
  // disk sync overlap all the time; one sync per put means no grouping.
  EXPECT_LT(syncs->load(), kThreads * kPutsPerThread);
}

TEST_F(StoreTest, WatchSeesConcurrentPutsInRevisionOrder) {
  std::mutex mu;
  std::vector<int64_t> seen;
  auto watch = store_->Watch(
      {.key = std::string(1, '\0'), .range_end = std::string(1, '\0')},
      [&](const WatchResponse& response) {
        std::lock_guard lock(mu);
        for (const Event& event : response.events) {
          seen.push_back(event.kv.mod_revision);
        }
      });
  ASSERT_TRUE(watch.ok()) << watch.status();

  WriteConcurrently(*store_);
  ASSERT_TRUE(store_->CancelWatch(*watch).ok());

  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), size_t{kThreads * kPutsPerThread});
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], static_cast<int64_t>(i) + 2);
  }
}

TEST_F(StoreTest, FailedSharedSyncFailsEveryQueuedWrite) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  RocksDbOptions faulty;
  // The third sync fails; writes before it succeed.
  faulty.write_fault = [calls]() -> base::Status {
    if (++*calls == 3) return base::UnavailableError("injected sync failure");
    return base::OkStatus();
  };
  Reopen(faulty);

  std::vector<int64_t> revisions = WriteConcurrently(*store_);

  // Every acknowledged put is present, nothing else is, and revisions have
  // no gap, both before and after reopening.
  std::sort(revisions.begin(), revisions.end());
  for (bool reopened : {false, true}) {
    if (reopened) Reopen();
    SCOPED_TRACE(reopened ? "after reopening" : "before reopening");
    int64_t current = store_->CurrentRevision();
    EXPECT_EQ(current, static_cast<int64_t>(revisions.size()) + 1);
    auto all = store_->Range(
        {.key = std::string(1, '\0'), .range_end = std::string(1, '\0')});
    ASSERT_TRUE(all.ok()) << all.status();
    std::vector<int64_t> stored;
    for (const KeyValue& kv : all->kvs) stored.push_back(kv.mod_revision);
    std::sort(stored.begin(), stored.end());
    EXPECT_EQ(stored, revisions);
  }
  EXPECT_LT(revisions.size(), size_t{kThreads * kPutsPerThread});
}

}  // namespace
}  // namespace etcd
