// Tests of leases and watches on the RocksDB Store, with lease expiry driven
// by the simulated clock.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcd-store/store.h"
#include "tests/etcd/store_fixture.h"

namespace etcd {
namespace {

using std::chrono::seconds;

class LeaseTest : public StoreTest {
 protected:
  int64_t Grant(int64_t ttl, int64_t id = 0) {
    auto response = store_->LeaseGrant({.ttl = ttl, .id = id});
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->id : 0;
  }

  base::Status PutWithLease(const std::string& key, int64_t lease) {
    return store_->Put({.key = key, .value = "v", .lease = lease}).status();
  }

  std::vector<std::string> LeaseKeys(int64_t id) {
    auto response = store_->LeaseTimeToLive({.id = id, .keys = true});
    EXPECT_TRUE(response.ok());
    return response->keys;
  }

  int64_t RemainingTtl(int64_t id) {
    return store_->LeaseTimeToLive({.id = id})->ttl;
  }
};

TEST_F(LeaseTest, GrantRaisesShortTtl) {
  auto response = store_->LeaseGrant({.ttl = 1});
  ASSERT_TRUE(response.ok());
  EXPECT_NE(response->id, 0);
  EXPECT_EQ(response->ttl, kMinLeaseTtl);
  EXPECT_EQ(response->header.revision, 1);
}

TEST_F(LeaseTest, GrantRejectsDuplicateIdAndHugeTtl) {
  EXPECT_EQ(Grant(60, 100), 100);

  auto duplicate = store_->LeaseGrant({.ttl = 60, .id = 100});
  EXPECT_EQ(duplicate.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(duplicate.status().message(), "etcdserver: lease already exists");

  auto huge = store_->LeaseGrant({.ttl = kMaxLeaseTtl + 1});
  EXPECT_EQ(huge.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(huge.status().message(), "etcdserver: too large lease TTL");
}

TEST_F(LeaseTest, GrantPicksUnusedIds) {
  int64_t first = Grant(60);
  int64_t second = Grant(60);
  EXPECT_NE(first, second);
  auto leases = store_->LeaseLeases();
  ASSERT_TRUE(leases.ok());
  EXPECT_EQ(leases->ids.size(), 2u);
}

TEST_F(LeaseTest, PutAttachesKeyToLease) {
  int64_t lease = Grant(60);
  ASSERT_TRUE(PutWithLease("b", lease).ok());
  ASSERT_TRUE(PutWithLease("a", lease).ok());

  EXPECT_EQ(LeaseKeys(lease), (std::vector<std::string>{"a", "b"}));
  auto kv = Get(*store_, "a");
  EXPECT_EQ((*kv)->lease, lease);
  auto ttl = store_->LeaseTimeToLive({.id = lease});
  EXPECT_EQ(ttl->granted_ttl, 60);
  EXPECT_EQ(ttl->ttl, 60);
}

TEST_F(LeaseTest, ExpiryDeletesAttachedKeysInOneRevision) {
  int64_t lease = Grant(10);
  ASSERT_TRUE(PutWithLease("a", lease).ok());  // 2
  ASSERT_TRUE(PutWithLease("b", lease).ok());  // 3
  Put("c", "stays");                           // 4

  clock_.Advance(seconds(9));
  EXPECT_EQ(GetValue("a"), "v");
  EXPECT_EQ(RemainingTtl(lease), 1);

  clock_.Advance(seconds(1));
  EXPECT_EQ(GetValue("a"), "NOT_FOUND");
  EXPECT_EQ(GetValue("b"), "NOT_FOUND");
  EXPECT_EQ(GetValue("c"), "stays");
  EXPECT_EQ(store_->CurrentRevision(), 5);
  EXPECT_EQ(RemainingTtl(lease), -1);
}

TEST_F(LeaseTest, KeepAliveRestartsTtl) {
  int64_t lease = Grant(10);
  ASSERT_TRUE(PutWithLease("a", lease).ok());
  clock_.Advance(seconds(8));

  auto renewed = store_->LeaseKeepAlive(lease);
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->ttl, 10);
  clock_.Advance(seconds(8));
  EXPECT_EQ(GetValue("a"), "v");

  clock_.Advance(seconds(2));
  EXPECT_EQ(GetValue("a"), "NOT_FOUND");
}

TEST_F(LeaseTest, KeepAliveOfUnknownLeaseReturnsZeroTtl) {
  auto response = store_->LeaseKeepAlive(42);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->id, 42);
  EXPECT_EQ(response->ttl, 0);
}

TEST_F(LeaseTest, RevokeDeletesKeys) {
  int64_t lease = Grant(60);
  ASSERT_TRUE(PutWithLease("a", lease).ok());  // 2

  auto revoked = store_->LeaseRevoke(lease);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->header.revision, 3);
  EXPECT_EQ(GetValue("a"), "NOT_FOUND");

  auto again = store_->LeaseRevoke(lease);
  EXPECT_EQ(again.status().code(), base::Code::kNotFound);
  EXPECT_EQ(again.status().message(), "etcdserver: requested lease not found");
}

TEST_F(LeaseTest, RevokeWithoutKeysKeepsRevision) {
  int64_t lease = Grant(60);
  auto revoked = store_->LeaseRevoke(lease);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->header.revision, 1);
}

TEST_F(LeaseTest, PutWithoutLeaseDetachesKey) {
  int64_t lease = Grant(10);
  ASSERT_TRUE(PutWithLease("a", lease).ok());
  Put("a", "unleased");
  EXPECT_TRUE(LeaseKeys(lease).empty());

  clock_.Advance(seconds(10));
  EXPECT_EQ(GetValue("a"), "unleased");
}

TEST_F(LeaseTest, IgnoreLeaseKeepsLease) {
  int64_t lease = Grant(10);
  ASSERT_TRUE(PutWithLease("a", lease).ok());
  ASSERT_TRUE(
      store_->Put({.key = "a", .value = "new", .ignore_lease = true}).ok());
  EXPECT_EQ((*Get(*store_, "a"))->lease, lease);
  EXPECT_EQ(LeaseKeys(lease), (std::vector<std::string>{"a"}));
}

TEST_F(LeaseTest, TxnPutChecksLease) {
  TxnRequest txn;
  txn.success.push_back({PutRequest{.key = "a", .lease = 77}});
  auto response = store_->Txn(txn);
  EXPECT_EQ(response.status().code(), base::Code::kNotFound);

  Grant(60, 77);
  EXPECT_TRUE(store_->Txn(txn).ok());
}

TEST_F(LeaseTest, LeasesSurviveReopen) {
  int64_t lease = Grant(10);
  ASSERT_TRUE(PutWithLease("a", lease).ok());
  clock_.Advance(seconds(5));

  Reopen();

  // Like etcd after a restart, the lease starts its full TTL again.
  EXPECT_EQ(RemainingTtl(lease), 10);
  EXPECT_EQ(LeaseKeys(lease), (std::vector<std::string>{"a"}));
  EXPECT_NE(Grant(10), lease);
  clock_.Advance(seconds(10));
  EXPECT_EQ(GetValue("a"), "NOT_FOUND");
}

TEST_F(LeaseTest, RevokedLeaseStaysGoneAfterReopen) {
  int64_t lease = Grant(10);
  ASSERT_TRUE(store_->LeaseRevoke(lease).ok());
  Reopen();
  EXPECT_EQ(RemainingTtl(lease), -1);
}

// Collects watch responses for checks.
class WatchTest : public StoreTest {
 protected:
  int64_t StartWatch(WatchRequest request) {
    auto id = store_->Watch(request, [this](const WatchResponse& response) {
      responses_.push_back(response);
    });
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  // Describes every event received so far, e.g. "PUT a=1@2 DELETE b@3".
  std::string Events() {
    std::string out;
    for (const WatchResponse& response : responses_) {
      for (const Event& event : response.events) {
        if (!out.empty()) out += ' ';
        if (event.type == Event::Type::kPut) {
          out += "PUT " + event.kv.key + '=' + event.kv.value;
        } else {
          out += "DELETE " + event.kv.key;
        }
        out += '@' + std::to_string(event.kv.mod_revision);
        if (event.prev_kv) out += "(prev " + event.prev_kv->value + ')';
      }
    }
    return out;
  }

  std::vector<WatchResponse> responses_;
};

TEST_F(WatchTest, CreatedResponseComesFirst) {
  Put("x", "1");
  int64_t id = StartWatch({.key = "a"});
  ASSERT_EQ(responses_.size(), 1u);
  EXPECT_TRUE(responses_[0].created);
  EXPECT_EQ(responses_[0].watch_id, id);
  EXPECT_EQ(responses_[0].header.revision, 2);
}

TEST_F(WatchTest, DeliversPutsAndDeletesOfKey) {
  StartWatch({.key = "a"});
  Put("a", "1");
  Put("b", "1");
  DeleteRangeRequest del{.key = "a"};
  ASSERT_TRUE(store_->DeleteRange(del).ok());

  EXPECT_EQ(Events(), "PUT a=1@2 DELETE a@4");
  ASSERT_EQ(responses_.size(), 3u);
  EXPECT_EQ(responses_[1].header.revision, 2);
  EXPECT_EQ(responses_[2].header.revision, 4);
}

TEST_F(WatchTest, RangeWatchWithPrevKv) {
  Put("a", "0");
  StartWatch({.key = "a", .range_end = "c", .prev_kv = true});
  Put("a", "1");
  Put("b", "1");
  Put("c", "1");
  EXPECT_EQ(Events(), "PUT a=1@3(prev 0) PUT b=1@4");
}

TEST_F(WatchTest, FiltersDropEvents) {
  StartWatch({.key = "a", .filter_put = true});
  Put("a", "1");
  DeleteRangeRequest del{.key = "a"};
  ASSERT_TRUE(store_->DeleteRange(del).ok());
  EXPECT_EQ(Events(), "DELETE a@3");
  // Only the created response and the delete: the put sent nothing.
  EXPECT_EQ(responses_.size(), 2u);
}

TEST_F(WatchTest, StartRevisionReplaysHistory) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  Put("b", "1");  // 4
  StartWatch({.key = "a",
              .range_end = std::string(1, '\0'),
              .start_revision = 3,
              .prev_kv = true});
  Put("a", "3");  // 5

  EXPECT_EQ(Events(), "PUT a=2@3(prev 1) PUT b=1@4 PUT a=3@5(prev 2)");
  ASSERT_EQ(responses_.size(), 3u);
  EXPECT_EQ(responses_[1].header.revision, 4);
  EXPECT_EQ(responses_[1].events.size(), 2u);
}

TEST_F(WatchTest, LongHistoryIsSplitByRevisions) {
  std::vector<PutRequest> puts;
  for (int i = 0; i < 2500; ++i) {
    puts.push_back({.key = "a", .value = std::to_string(i)});
  }
  for (const auto& put : store_->PutBatch(puts)) ASSERT_TRUE(put.ok());
  TxnRequest txn;  // two events in one revision, 2502
  txn.success.push_back({PutRequest{.key = "a", .value = "x"}});
  txn.success.push_back({PutRequest{.key = "b", .value = "y"}});
  ASSERT_TRUE(store_->Txn(txn).ok());

  StartWatch({.key = "a", .range_end = "c", .start_revision = 1501});

  // Revisions 1501 to 2500, then 2501 and the transaction's 2502.
  ASSERT_EQ(responses_.size(), 3u);
  EXPECT_EQ(responses_[1].events.size(), 1000u);
  EXPECT_EQ(responses_[1].events.front().kv.mod_revision, 1501);
  EXPECT_EQ(responses_[1].events.back().kv.mod_revision, 2500);
  EXPECT_EQ(responses_[2].events.size(), 3u);
  EXPECT_EQ(responses_[2].events.back().kv.mod_revision, 2502);
  EXPECT_EQ(responses_[1].header.revision, 2502);
  EXPECT_EQ(responses_[2].header.revision, 2502);
}

TEST_F(WatchTest, FutureStartRevisionWaits) {
  StartWatch({.key = "a", .start_revision = 3});
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  EXPECT_EQ(Events(), "PUT a=2@3");
}

TEST_F(WatchTest, TxnEventsShareOneResponse) {
  StartWatch({.key = "a", .range_end = "z"});
  TxnRequest txn;
  txn.success.push_back({PutRequest{.key = "a", .value = "1"}});
  txn.success.push_back({PutRequest{.key = "b", .value = "2"}});
  ASSERT_TRUE(store_->Txn(txn).ok());
  ASSERT_EQ(responses_.size(), 2u);
  EXPECT_EQ(responses_[1].events.size(), 2u);
  EXPECT_EQ(Events(), "PUT a=1@2 PUT b=2@2");
}

TEST_F(WatchTest, CompactedStartRevisionCancelsWatch) {
  Put("a", "1");
  Put("a", "2");
  Put("a", "3");  // 4
  ASSERT_TRUE(store_->Compact(3).ok());

  int64_t id = StartWatch({.key = "a", .start_revision = 2});
  ASSERT_EQ(responses_.size(), 2u);
  EXPECT_TRUE(responses_[0].created);
  EXPECT_TRUE(responses_[1].canceled);
  EXPECT_EQ(responses_[1].compact_revision, 3);
  EXPECT_EQ(responses_[1].watch_id, id);
  EXPECT_EQ(responses_[1].header.revision, 0);

  Put("a", "4");
  EXPECT_EQ(responses_.size(), 2u);
  EXPECT_EQ(store_->CancelWatch(id).code(), base::Code::kNotFound);
}

TEST_F(WatchTest, WatchAtCompactedRevisionIsAllowed) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  ASSERT_TRUE(store_->Compact(3).ok());
  StartWatch({.key = "a", .start_revision = 3});
  EXPECT_EQ(Events(), "PUT a=2@3");
}

TEST_F(WatchTest, CancelStopsDelivery) {
  int64_t id = StartWatch({.key = "a"});
  Put("a", "1");
  ASSERT_TRUE(store_->CancelWatch(id).ok());
  Put("a", "2");
  EXPECT_EQ(Events(), "PUT a=1@2");
}

TEST_F(WatchTest, CallbackMayWriteToStore) {
  // Each event on "a" copies its value to "b"; the callback's own write
  // is delivered after the event that caused it.
  auto id = store_->Watch({.key = "a", .range_end = "c"},
                          [this](const WatchResponse& response) {
                            responses_.push_back(response);
                            for (const Event& event : response.events) {
                              if (event.kv.key == "a") Put("b", event.kv.value);
                            }
                          });
  ASSERT_TRUE(id.ok());
  Put("a", "1");
  EXPECT_EQ(Events(), "PUT a=1@2 PUT b=1@3");
}

TEST_F(WatchTest, HistoryAndCompactionSurviveReopen) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  ASSERT_TRUE(store_->Compact(3).ok());
  Put("a", "3");  // 4

  Reopen();
  int64_t compacted = StartWatch({.key = "a", .start_revision = 2});
  StartWatch({.key = "a", .start_revision = 3, .prev_kv = true});

  // The value before revision 3 is compacted, so that event has no prev_kv.
  EXPECT_EQ(Events(), "PUT a=2@3 PUT a=3@4(prev 2)");
  ASSERT_GE(responses_.size(), 2u);
  EXPECT_EQ(responses_[1].watch_id, compacted);
  EXPECT_TRUE(responses_[1].canceled);
  EXPECT_EQ(responses_[1].compact_revision, 3);
}

TEST_F(WatchTest, ProgressNotifyWhileIdle) {
  Put("a", "1");  // 2
  int64_t id = StartWatch({.key = "a", .progress_notify = true});
  Put("b", "1");  // 3, not watched

  clock_.Advance(std::chrono::minutes(10));
  ASSERT_EQ(responses_.size(), 2u);
  EXPECT_EQ(responses_[1].watch_id, id);
  EXPECT_EQ(responses_[1].header.revision, 3);
  EXPECT_TRUE(responses_[1].events.empty());
  EXPECT_FALSE(responses_[1].created);
  EXPECT_FALSE(responses_[1].canceled);

  clock_.Advance(std::chrono::minutes(10));
  EXPECT_EQ(responses_.size(), 3u);
}

TEST_F(WatchTest, ProgressNotifySkipsIntervalWithEvents) {
  StartWatch({.key = "a", .progress_notify = true});
  clock_.Advance(std::chrono::minutes(5));
  Put("a", "1");  // 2

  clock_.Advance(std::chrono::minutes(5));
  EXPECT_EQ(responses_.size(), 2u);  // created, the put

  clock_.Advance(std::chrono::minutes(10));
  ASSERT_EQ(responses_.size(), 3u);
  EXPECT_TRUE(responses_[2].events.empty());
  EXPECT_EQ(responses_[2].header.revision, 2);
}

TEST_F(WatchTest, NoProgressWithoutRequestOrAfterCancel) {
  StartWatch({.key = "a"});
  int64_t progress = StartWatch({.key = "b", .progress_notify = true});
  ASSERT_TRUE(store_->CancelWatch(progress).ok());

  clock_.Advance(std::chrono::minutes(30));
  EXPECT_EQ(responses_.size(), 2u);  // the two created responses
}

TEST_F(WatchTest, ProgressIntervalComesFromOptions) {
  RocksDbOptions options;
  options.progress_notify_interval = std::chrono::seconds(30);
  Reopen(options);
  StartWatch({.key = "a", .progress_notify = true});

  clock_.Advance(std::chrono::seconds(29));
  EXPECT_EQ(responses_.size(), 1u);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(responses_.size(), 2u);
}

TEST_F(WatchTest, LeaseExpiryEmitsDeletes) {
  auto lease = store_->LeaseGrant({.ttl = 5});
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(store_->Put({.key = "a", .value = "1", .lease = lease->id}).ok());
  StartWatch({.key = "a", .prev_kv = true});
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(Events(), "DELETE a@3(prev 1)");
}

}  // namespace
}  // namespace etcd

namespace etcd {
namespace {

TEST_F(WatchTest, ConcurrentWritersAreSeenInOrder) {
  std::mutex mu;
  std::vector<int64_t> revisions;
  auto id = store_->Watch({.key = "counter"}, [&](const WatchResponse& r) {
    std::lock_guard lock(mu);
    for (const Event& event : r.events) {
      revisions.push_back(event.kv.mod_revision);
    }
  });
  ASSERT_TRUE(id.ok());

  // Each thread increments the counter with compare-and-put, retrying on
  // conflicts.
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          auto current = Get(*store_, "counter");
          ASSERT_TRUE(current.ok());
          int64_t value =
              current->has_value() ? std::stoll((*current)->value) : 0;
          int64_t expected =
              current->has_value() ? (*current)->mod_revision : 0;
          auto put = CompareAndPut(*store_, "counter",
                                   std::to_string(value + 1), expected);
          if (put.ok()) break;
          ASSERT_EQ(put.status().code(), base::Code::kAborted);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(GetValue("counter"), std::to_string(kThreads * kIncrements));
  std::lock_guard lock(mu);
  ASSERT_EQ(revisions.size(), static_cast<size_t>(kThreads * kIncrements));
  for (size_t i = 1; i < revisions.size(); ++i) {
    EXPECT_EQ(revisions[i], revisions[i - 1] + 1) << "event " << i;
  }
}

}  // namespace
}  // namespace etcd
