// Tests of the RocksDB Store against etcd 3.4's MVCC behaviour, on a real
// RocksDB in a temporary directory.
#include "etcd-store/store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "tests/etcd/store_fixture.h"

namespace etcd {
namespace {

TEST_F(StoreTest, EmptyStoreStartsAtRevisionOne) {
  EXPECT_EQ(store_->CurrentRevision(), 1);
  EXPECT_EQ(GetValue("a"), "NOT_FOUND");
}

TEST_F(StoreTest, PutIncrementsRevisionAndVersion) {
  EXPECT_EQ(Put("a", "1"), 2);
  EXPECT_EQ(Put("a", "2"), 3);
  EXPECT_EQ(Put("b", "x"), 4);

  auto kv = Get(*store_, "a");
  ASSERT_TRUE(kv.ok());
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->value, "2");
  EXPECT_EQ((*kv)->create_revision, 2);
  EXPECT_EQ((*kv)->mod_revision, 3);
  EXPECT_EQ((*kv)->version, 2);
  EXPECT_EQ((*kv)->lease, 0);
  EXPECT_EQ(store_->CurrentRevision(), 4);
}

TEST_F(StoreTest, DeleteResetsVersionAndCreateRevision) {
  Put("a", "1");
  Put("a", "2");
  DeleteRangeRequest del;
  del.key = "a";
  del.prev_kv = true;
  auto deleted = store_->DeleteRange(del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted, 1);
  EXPECT_EQ(deleted->header.revision, 4);
  ASSERT_EQ(deleted->prev_kvs.size(), 1u);
  EXPECT_EQ(deleted->prev_kvs[0].value, "2");

  EXPECT_EQ(Put("a", "3"), 5);

  auto kv = Get(*store_, "a");
  ASSERT_TRUE(kv.ok());
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->create_revision, 5);
  EXPECT_EQ((*kv)->version, 1);
}

TEST_F(StoreTest, DeleteOfMissingKeyKeepsRevision) {
  Put("a", "1");
  DeleteRangeRequest del;
  del.key = "zzz";
  auto deleted = store_->DeleteRange(del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted, 0);
  EXPECT_EQ(deleted->header.revision, 2);
  EXPECT_EQ(store_->CurrentRevision(), 2);
}

TEST_F(StoreTest, PutReturnsPrevKv) {
  Put("a", "old");
  PutRequest put;
  put.key = "a";
  put.value = "new";
  put.prev_kv = true;
  auto response = store_->Put(put);
  ASSERT_TRUE(response.ok());
  ASSERT_TRUE(response->prev_kv.has_value());
  EXPECT_EQ(response->prev_kv->value, "old");
  EXPECT_EQ(response->prev_kv->mod_revision, 2);
}

TEST_F(StoreTest, IgnoreValueKeepsValue) {
  Put("a", "keep");
  PutRequest put;
  put.key = "a";
  put.ignore_value = true;
  ASSERT_TRUE(store_->Put(put).ok());
  EXPECT_EQ(GetValue("a"), "keep");

  put.key = "missing";
  auto missing = store_->Put(put);
  EXPECT_EQ(missing.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "etcdserver: key not found");

  put.key = "a";
  put.value = "x";
  EXPECT_EQ(store_->Put(put).status().message(),
            "etcdserver: value is provided");
}

TEST_F(StoreTest, PutWithUnknownLeaseFails) {
  PutRequest put;
  put.key = "a";
  put.lease = 12345;
  auto response = store_->Put(put);
  EXPECT_EQ(response.status().code(), base::Code::kNotFound);
  EXPECT_EQ(response.status().message(),
            "etcdserver: requested lease not found");
  EXPECT_EQ(store_->CurrentRevision(), 1);
}

TEST_F(StoreTest, EmptyKeyIsRejected) {
  PutRequest put;
  auto response = store_->Put(put);
  EXPECT_EQ(response.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(response.status().message(), "etcdserver: key is not provided");
  EXPECT_EQ(store_->Range(RangeRequest{}).status().message(),
            "etcdserver: key is not provided");
}

TEST_F(StoreTest, RangeConventions) {
  Put("a", "1");
  Put("b", "2");
  Put("c", "3");
  Put("d", "4");

  EXPECT_EQ(RangeKeys("b", ""), "b=2");
  EXPECT_EQ(RangeKeys("b", "d"), "b=2 c=3");
  EXPECT_EQ(RangeKeys("b", std::string(1, '\0')), "b=2 c=3 d=4");
  EXPECT_EQ(RangeKeys(std::string(1, '\0'), std::string(1, '\0')),
            "a=1 b=2 c=3 d=4");
  EXPECT_EQ(RangeKeys("d", "b"), "");
}

TEST_F(StoreTest, RangeByPrefix) {
  Put("/registry/secrets/a", "1");
  Put("/registry/secrets/b", "2");
  Put("/registry/secretz", "3");
  EXPECT_EQ(RangeKeys("/registry/secrets/", PrefixEnd("/registry/secrets/")),
            "/registry/secrets/a=1 /registry/secrets/b=2");
}

TEST_F(StoreTest, RangeLimitSetsMoreAndCount) {
  Put("a", "1");
  Put("b", "2");
  Put("c", "3");
  RangeRequest request;
  request.key = "a";
  request.range_end = "z";
  request.limit = 2;
  auto response = store_->Range(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(Pairs(response->kvs), "a=1 b=2");
  EXPECT_TRUE(response->more);
  EXPECT_EQ(response->count, 3);
  EXPECT_EQ(response->header.revision, 4);

  request.limit = 3;
  response = store_->Range(request);
  ASSERT_TRUE(response.ok());
  EXPECT_FALSE(response->more);
}

TEST_F(StoreTest, RangeCountOnlyAndKeysOnly) {
  Put("a", "1");
  Put("b", "2");
  RangeRequest request;
  request.key = "a";
  request.range_end = "z";
  request.count_only = true;
  auto counted = store_->Range(request);
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ(counted->count, 2);
  EXPECT_TRUE(counted->kvs.empty());

  request.count_only = false;
  request.keys_only = true;
  auto keys = store_->Range(request);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(Pairs(keys->kvs), "a= b=");
  EXPECT_EQ(keys->kvs[1].mod_revision, 3);
}

TEST_F(StoreTest, RangeSortsByTarget) {
  Put("a", "3");
  Put("b", "1");
  Put("c", "2");
  Put("a", "3");  // a: version 2, mod revision 5.
  RangeRequest request;
  request.key = "a";
  request.range_end = "z";

  request.sort_order = SortOrder::kDescend;
  request.sort_target = SortTarget::kKey;
  EXPECT_EQ(Pairs(store_->Range(request)->kvs), "c=2 b=1 a=3");

  request.sort_order = SortOrder::kNone;
  request.sort_target = SortTarget::kValue;
  EXPECT_EQ(Pairs(store_->Range(request)->kvs), "b=1 c=2 a=3");

  request.sort_order = SortOrder::kDescend;
  request.sort_target = SortTarget::kMod;
  EXPECT_EQ(Pairs(store_->Range(request)->kvs), "a=3 c=2 b=1");

  request.sort_order = SortOrder::kAscend;
  request.sort_target = SortTarget::kCreate;
  EXPECT_EQ(Pairs(store_->Range(request)->kvs), "a=3 b=1 c=2");

  request.sort_order = SortOrder::kDescend;
  request.sort_target = SortTarget::kVersion;
  request.limit = 1;
  auto limited = store_->Range(request);
  EXPECT_EQ(Pairs(limited->kvs), "a=3");
  EXPECT_TRUE(limited->more);
}

TEST_F(StoreTest, RangeFiltersByRevision) {
  Put("a", "1");  // 2
  Put("b", "2");  // 3
  Put("c", "3");  // 4
  Put("a", "4");  // 5
  RangeRequest request;
  request.key = "a";
  request.range_end = "z";
  request.min_mod_revision = 3;
  request.max_mod_revision = 4;
  auto response = store_->Range(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(Pairs(response->kvs), "b=2 c=3");
  EXPECT_EQ(response->count, 3);

  request = RangeRequest{.key = "a", .range_end = "z"};
  request.min_create_revision = 3;
  EXPECT_EQ(Pairs(store_->Range(request)->kvs), "b=2 c=3");
  request.min_create_revision = 0;
  request.max_create_revision = 2;
  EXPECT_EQ(Pairs(store_->Range(request)->kvs), "a=4");
}

TEST_F(StoreTest, RangeAtOlderRevision) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  Put("b", "x");  // 4
  DeleteRangeRequest del;
  del.key = "a";
  ASSERT_TRUE(store_->DeleteRange(del).ok());  // 5

  EXPECT_EQ(GetValue("a", 2), "1");
  EXPECT_EQ(GetValue("a", 3), "2");
  EXPECT_EQ(GetValue("a", 4), "2");
  EXPECT_EQ(GetValue("a", 5), "NOT_FOUND");
  EXPECT_EQ(RangeKeys("a", "z", 3), "a=2");
  EXPECT_EQ(RangeKeys("a", "z", 4), "a=2 b=x");

  RangeRequest request;
  request.key = "a";
  request.revision = 3;
  auto old = store_->Range(request);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->header.revision, 5);
  EXPECT_EQ(old->kvs[0].version, 2);
}

TEST_F(StoreTest, RangeAtFutureRevisionFails) {
  Put("a", "1");
  RangeRequest request;
  request.key = "a";
  request.revision = 3;
  auto response = store_->Range(request);
  EXPECT_EQ(response.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(response.status().message(),
            "etcdserver: mvcc: required revision is a future revision");
}

TEST_F(StoreTest, CompactionDiscardsHistory) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  Put("b", "x");  // 4
  DeleteRangeRequest del;
  del.key = "b";
  ASSERT_TRUE(store_->DeleteRange(del).ok());  // 5
  Put("a", "3");                               // 6

  auto compacted = store_->Compact(5);
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_EQ(compacted->header.revision, 6);

  EXPECT_EQ(GetValue("a", 4),
            "OUT_OF_RANGE: etcdserver: mvcc: required revision has been "
            "compacted");
  EXPECT_EQ(GetValue("a", 5), "2");
  EXPECT_EQ(GetValue("b", 5), "NOT_FOUND");
  EXPECT_EQ(GetValue("a"), "3");

  auto again = store_->Compact(5);
  EXPECT_EQ(again.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(again.status().message(),
            "etcdserver: mvcc: required revision has been compacted");
  auto future = store_->Compact(7);
  EXPECT_EQ(future.status().message(),
            "etcdserver: mvcc: required revision is a future revision");
}

TEST_F(StoreTest, CompactionSurvivesReopen) {
  Put("a", "1");
  Put("a", "2");
  ASSERT_TRUE(store_->Compact(3).ok());
  Reopen();
  EXPECT_EQ(GetValue("a", 2),
            "OUT_OF_RANGE: etcdserver: mvcc: required revision has been "
            "compacted");
  EXPECT_EQ(GetValue("a", 3), "2");
}

TEST_F(StoreTest, TxnTakesSuccessBranch) {
  Put("a", "1");
  TxnRequest txn;
  txn.compare.push_back({.result = Compare::Result::kEqual,
                         .target = Compare::Target::kValue,
                         .key = "a",
                         .value = "1"});
  txn.success.push_back({PutRequest{.key = "a", .value = "2"}});
  txn.success.push_back({RangeRequest{.key = "a"}});
  txn.failure.push_back({PutRequest{.key = "a", .value = "failed"}});

  auto response = store_->Txn(txn);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->succeeded);
  EXPECT_EQ(response->header.revision, 3);
  ASSERT_EQ(response->responses.size(), 2u);
  EXPECT_EQ(
      std::get<PutResponse>(response->responses[0].response).header.revision,
      3);
  const auto& range = std::get<RangeResponse>(response->responses[1].response);
  EXPECT_EQ(Pairs(range.kvs), "a=2");
  EXPECT_EQ(range.header.revision, 3);
}

TEST_F(StoreTest, TxnTakesFailureBranch) {
  Put("a", "1");
  TxnRequest txn;
  txn.compare.push_back({.result = Compare::Result::kGreater,
                         .target = Compare::Target::kVersion,
                         .key = "a",
                         .version = 1});
  txn.success.push_back({PutRequest{.key = "a", .value = "2"}});
  txn.failure.push_back({RangeRequest{.key = "a"}});

  auto response = store_->Txn(txn);
  ASSERT_TRUE(response.ok());
  EXPECT_FALSE(response->succeeded);
  EXPECT_EQ(response->header.revision, 2);
  EXPECT_EQ(store_->CurrentRevision(), 2);
}

TEST_F(StoreTest, TxnComparesEveryTarget) {
  Put("a", "v");  // 2
  Put("a", "v");  // 3: version 2
  struct Case {
    Compare compare;
    bool expected;
  };
  using R = Compare::Result;
  using T = Compare::Target;
  std::vector<Case> cases = {
      {{.result = R::kEqual, .target = T::kVersion, .key = "a", .version = 2},
       true},
      {{.result = R::kLess, .target = T::kVersion, .key = "a", .version = 2},
       false},
      {{.result = R::kEqual,
        .target = T::kCreate,
        .key = "a",
        .create_revision = 2},
       true},
      {{.result = R::kNotEqual,
        .target = T::kMod,
        .key = "a",
        .mod_revision = 3},
       false},
      {{.result = R::kGreater,
        .target = T::kMod,
        .key = "a",
        .mod_revision = 2},
       true},
      {{.result = R::kEqual, .target = T::kLease, .key = "a", .lease = 0},
       true},
      {{.result = R::kLess, .target = T::kValue, .key = "a", .value = "w"},
       true},
      // A missing key compares as zero, except for values.
      {{.result = R::kEqual, .target = T::kMod, .key = "b", .mod_revision = 0},
       true},
      {{.result = R::kEqual, .target = T::kValue, .key = "b", .value = ""},
       false},
      // A range compare holds only if it holds for every key.
      {{.result = R::kEqual,
        .target = T::kVersion,
        .key = "a",
        .range_end = "z",
        .version = 2},
       true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TxnRequest txn;
    txn.compare.push_back(cases[i].compare);
    auto response = store_->Txn(txn);
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->succeeded, cases[i].expected) << "case " << i;
  }
}

TEST_F(StoreTest, NestedTxnComparesBeforeWrites) {
  Put("a", "1");  // 2
  auto inner = std::make_shared<TxnRequest>();
  // Sees a's value from before the outer transaction's put.
  inner->compare.push_back({.result = Compare::Result::kEqual,
                            .target = Compare::Target::kValue,
                            .key = "a",
                            .value = "1"});
  inner->success.push_back({PutRequest{.key = "b", .value = "inner"}});
  inner->success.push_back({RangeRequest{.key = "a"}});
  TxnRequest txn;
  txn.success.push_back({PutRequest{.key = "a", .value = "2"}});
  txn.success.push_back({std::shared_ptr<const TxnRequest>(inner)});

  auto response = store_->Txn(txn);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->header.revision, 3);
  const auto& nested = std::get<std::shared_ptr<const TxnResponse>>(
      response->responses[1].response);
  EXPECT_TRUE(nested->succeeded);
  EXPECT_EQ(nested->header.revision, 0);
  EXPECT_EQ(Pairs(std::get<RangeResponse>(nested->responses[1].response).kvs),
            "a=2");
  auto b = Get(*store_, "b");
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->mod_revision, 3);
}

TEST_F(StoreTest, TxnRejectsDuplicateKeys) {
  auto expect_duplicate = [&](const TxnRequest& txn) {
    auto response = store_->Txn(txn);
    EXPECT_EQ(response.status().code(), base::Code::kInvalidArgument);
    EXPECT_EQ(response.status().message(),
              "etcdserver: duplicate key given in txn request");
  };
  TxnRequest two_puts;
  two_puts.success.push_back({PutRequest{.key = "a", .value = "1"}});
  two_puts.success.push_back({PutRequest{.key = "a", .value = "2"}});
  expect_duplicate(two_puts);

  TxnRequest put_in_delete;
  put_in_delete.failure.push_back(
      {DeleteRangeRequest{.key = "a", .range_end = "c"}});
  put_in_delete.failure.push_back({PutRequest{.key = "b", .value = "1"}});
  expect_duplicate(put_in_delete);

  auto inner = std::make_shared<TxnRequest>();
  inner->success.push_back({PutRequest{.key = "a", .value = "1"}});
  inner->failure.push_back({PutRequest{.key = "a", .value = "2"}});
  TxnRequest nested;
  nested.success.push_back({PutRequest{.key = "a", .value = "0"}});
  nested.success.push_back({std::shared_ptr<const TxnRequest>(inner)});
  expect_duplicate(nested);

  // The two branches of one nested transaction may put the same key.
  TxnRequest branches;
  branches.success.push_back({std::shared_ptr<const TxnRequest>(inner)});
  EXPECT_TRUE(store_->Txn(branches).ok());
  EXPECT_EQ(store_->CurrentRevision(), 2);
}

TEST_F(StoreTest, TxnDeleteThenRangeSeesDeletion) {
  Put("a", "1");
  Put("b", "2");
  TxnRequest txn;
  txn.success.push_back(
      {DeleteRangeRequest{.key = "a", .range_end = "z", .prev_kv = true}});
  txn.success.push_back({RangeRequest{.key = "a", .range_end = "z"}});
  auto response = store_->Txn(txn);
  ASSERT_TRUE(response.ok());
  const auto& del =
      std::get<DeleteRangeResponse>(response->responses[0].response);
  EXPECT_EQ(del.deleted, 2);
  EXPECT_EQ(Pairs(del.prev_kvs), "a=1 b=2");
  EXPECT_EQ(std::get<RangeResponse>(response->responses[1].response).count, 0);
  EXPECT_EQ(store_->CurrentRevision(), 4);
}

TEST_F(StoreTest, CompareAndPutChecksModRevision) {
  auto created = CompareAndPut(*store_, "a", "1", 0);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(*created, 2);

  auto stale = CompareAndPut(*store_, "a", "2", 0);
  EXPECT_EQ(stale.status().code(), base::Code::kAborted);
  EXPECT_EQ(store_->CurrentRevision(), 2);

  auto updated = CompareAndPut(*store_, "a", "2", 2);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(*updated, 3);
  EXPECT_EQ(GetValue("a"), "2");
}

TEST_F(StoreTest, CompareAndDeleteReportsWhy) {
  Put("a", "1");  // 2
  EXPECT_EQ(CompareAndDelete(*store_, "a", 5).code(), base::Code::kAborted);
  EXPECT_EQ(CompareAndDelete(*store_, "b", 0).code(), base::Code::kNotFound);
  EXPECT_EQ(CompareAndDelete(*store_, "b", 2).code(), base::Code::kNotFound);
  EXPECT_TRUE(CompareAndDelete(*store_, "a", 2).ok());
  EXPECT_EQ(GetValue("a"), "NOT_FOUND");
  EXPECT_EQ(store_->CurrentRevision(), 3);
}

TEST(PrefixEnd, IncrementsLastByte) {
  EXPECT_EQ(PrefixEnd("abc"), "abd");
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
  EXPECT_EQ(PrefixEnd("\xff\xff"), std::string(1, '\0'));
}

TEST_F(StoreTest, ReopenRecoversState) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  Put("b", "x");  // 4
  DeleteRangeRequest del;
  del.key = "b";
  ASSERT_TRUE(store_->DeleteRange(del).ok());  // 5

  Reopen();

  EXPECT_EQ(store_->CurrentRevision(), 5);
  EXPECT_EQ(GetValue("a"), "2");
  EXPECT_EQ(GetValue("a", 2), "1");
  EXPECT_EQ(GetValue("b", 4), "x");
  EXPECT_EQ(GetValue("b"), "NOT_FOUND");
  EXPECT_EQ(Put("a", "3"), 6);
  auto kv = Get(*store_, "a");
  EXPECT_EQ((*kv)->version, 3);
  EXPECT_EQ((*kv)->create_revision, 2);
}

TEST_F(StoreTest, FailedWriteMakesStoreRejectWrites) {
  int writes = 0;
  RocksDbOptions options;
  options.write_fault = [&writes]() -> base::Status {
    if (++writes == 2) return base::UnavailableError("injected sync failure");
    return base::OkStatus();
  };
  Reopen(options);
  EXPECT_EQ(Put("a", "1"), 2);

  PutRequest put{.key = "a", .value = "2"};
  auto failed = store_->Put(put);
  EXPECT_EQ(failed.status().code(), base::Code::kUnavailable);
  EXPECT_EQ(store_->CurrentRevision(), 2);
  EXPECT_EQ(GetValue("a"), "1");

  auto rejected = store_->Put(put);
  EXPECT_EQ(rejected.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(store_->Compact(2).status().code(),
            base::Code::kFailedPrecondition);
  // Reads still work.
  EXPECT_EQ(GetValue("a"), "1");

  Reopen();
  EXPECT_EQ(Put("a", "3"), 3);
  auto kv = Get(*store_, "a");
  EXPECT_EQ((*kv)->version, 2);
}

}  // namespace
}  // namespace etcd

namespace etcd {
namespace {

// Fails the Nth write for every N until a workload runs through, and checks
// that the store then contains exactly the acknowledged writes, both before
// and after reopening.
class WriteFaultTest : public StoreTest {
 protected:
  using Op = std::function<base::Status(Store&)>;

  static std::vector<Op> Workload() {
    std::vector<Op> ops;
    ops.push_back(
        [](Store& s) { return s.Put({.key = "a", .value = "1"}).status(); });
    ops.push_back(
        [](Store& s) { return s.Put({.key = "b", .value = "2"}).status(); });
    ops.push_back(
        [](Store& s) { return s.LeaseGrant({.ttl = 60, .id = 9}).status(); });
    ops.push_back([](Store& s) {
      return s.Put({.key = "c", .value = "3", .lease = 9}).status();
    });
    ops.push_back([](Store& s) {
      TxnRequest txn;
      txn.compare.push_back({.result = Compare::Result::kEqual,
                             .target = Compare::Target::kValue,
                             .key = "a",
                             .value = "1"});
      txn.success.push_back({PutRequest{.key = "a", .value = "10"}});
      txn.success.push_back({DeleteRangeRequest{.key = "b"}});
      return s.Txn(txn).status();
    });
    ops.push_back([](Store& s) { return s.Compact(3).status(); });
    ops.push_back([](Store& s) { return s.LeaseRevoke(9).status(); });
    ops.push_back(
        [](Store& s) { return s.Put({.key = "d", .value = "4"}).status(); });
    return ops;
  }

  // Describes every key with all its fields, the revision and the leases.
  static std::string Snapshot(Store& store) {
    RangeRequest all{.key = std::string(1, '\0'),
                     .range_end = std::string(1, '\0')};
    auto range = store.Range(all);
    std::string out = "rev " + std::to_string(store.CurrentRevision());
    for (const KeyValue& kv : range->kvs) {
      out += " " + kv.key + "=" + kv.value + "/" +
             std::to_string(kv.create_revision) + "/" +
             std::to_string(kv.mod_revision) + "/" +
             std::to_string(kv.version) + "/" + std::to_string(kv.lease);
    }
    auto leases = store.LeaseLeases();
    for (int64_t id : leases->ids) {
      out += " lease " + std::to_string(id);
    }
    return out;
  }
};

TEST_F(WriteFaultTest, FailedWriteLeavesOnlyAcknowledgedWrites) {
  std::vector<Op> ops = Workload();
  for (int fail_at = 1;; ++fail_at) {
    SCOPED_TRACE("failing write " + std::to_string(fail_at));
    int writes = 0;
    RocksDbOptions faulty;
    faulty.write_fault = [&writes, fail_at]() -> base::Status {
      if (++writes == fail_at) return base::UnavailableError("injected");
      return base::OkStatus();
    };
    store_.reset();
    std::filesystem::remove_all(dir_ + "/db");
    Reopen(faulty);
    size_t done = 0;
    while (done < ops.size() && ops[done](*store_).ok()) ++done;
    if (done == ops.size()) break;  // every write point has been failed

    std::string after_failure = Snapshot(*store_);
    Reopen();
    std::string after_reopen = Snapshot(*store_);

    store_.reset();
    std::filesystem::remove_all(dir_ + "/db");
    Reopen();
    for (size_t i = 0; i < done; ++i) ASSERT_TRUE(ops[i](*store_).ok());
    std::string expected = Snapshot(*store_);

    EXPECT_EQ(after_failure, expected);
    EXPECT_EQ(after_reopen, expected);
  }
}

}  // namespace
}  // namespace etcd
