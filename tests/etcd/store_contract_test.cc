// The Store contract: one set of tests that every Store implementation must
// pass, run against the RocksDB store in a temporary directory and against a
// real 3-member etcd 3.4 cluster that each test starts on free loopback
// ports. Both are opened through OpenStore's URLs. Tests that need the
// injected clock (lease expiry) stay in the RocksDB-only suites, because
// etcd's leases run on its own wall clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "etcd-store/request_check.h"
#include "etcd-store/store.h"
#include "tests/etcd/etcd_cluster.h"

namespace etcd {
namespace {

class RocksDbBackend {
 public:
  static constexpr const char* kName = "RocksDb";

  bool Available() const { return true; }
  bool Start(const std::string& dir) {
    url_ = "rocksdb://" + dir + "/db";
    return true;
  }
  std::string Url() const { return url_; }
  void Stop() {}
  // Moves the store's clock past a progress_notify interval.
  void EndProgressInterval(base::SimulatedClock& clock) {
    clock.Advance(std::chrono::minutes(10));
  }

 private:
  std::string url_;
};

class EtcdBackend {
 public:
  static constexpr const char* kName = "Etcd3Members";

  bool Available() const { return testing::EtcdInstalled(); }
  bool Start(const std::string& dir) {
    cluster_ = std::make_unique<testing::EtcdCluster>();
    // Short raft timeouts make the first election quick, and a short
    // progress interval lets a test wait for a progress response.
    return cluster_->Start(dir, {.members = 3,
                                 .heartbeat_ms = 50,
                                 .election_ms = 500,
                                 .progress_notify_ms = 300});
  }
  std::string Url() const {
    std::string url = "etcd://";
    for (const std::string& endpoint : cluster_->Endpoints()) {
      if (url.back() != '/') url += ',';
      url += endpoint;
    }
    return url;
  }
  void Stop() { cluster_.reset(); }
  // etcd ends its progress intervals on its own wall clock.
  void EndProgressInterval(base::SimulatedClock&) {}

 private:
  std::unique_ptr<testing::EtcdCluster> cluster_;
};

// Collects a watch's responses; shared with the callback, so it outlives
// the watch however the test ends.
class WatchLog {
 public:
  static std::pair<std::shared_ptr<WatchLog>, WatchCallback> Make() {
    auto log = std::make_shared<WatchLog>();
    return {log, [log](const WatchResponse& response) { log->Add(response); }};
  }

  // Waits until `count` responses arrived and returns them all. Store
  // implementations deliver on their own threads, so this waits up to 10 s
  // on the real clock; fewer responses mean the test fails.
  std::vector<WatchResponse> WaitFor(size_t count) {
    std::unique_lock lock(mu_);
    arrived_.wait_for(lock, std::chrono::seconds(10),
                      [&] { return responses_.size() >= count; });
    return responses_;
  }

  // Waits until the responses carry `count` events in all.
  std::vector<WatchResponse> WaitForEvents(size_t count) {
    std::unique_lock lock(mu_);
    arrived_.wait_for(lock, std::chrono::seconds(10), [&] {
      size_t events = 0;
      for (const WatchResponse& response : responses_) {
        events += response.events.size();
      }
      return events >= count;
    });
    return responses_;
  }

  std::vector<WatchResponse> Snapshot() {
    std::lock_guard lock(mu_);
    return responses_;
  }

 private:
  void Add(const WatchResponse& response) {
    std::lock_guard lock(mu_);
    responses_.push_back(response);
    arrived_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<WatchResponse> responses_;
};

// "PUT a=1@2" or "DELETE a@3", with "<prev=0" for a prev_kv.
std::string Describe(const Event& event) {
  std::string out = event.type == Event::Type::kPut ? "PUT " : "DELETE ";
  out += event.kv.key;
  if (event.type == Event::Type::kPut) out += "=" + event.kv.value;
  out += "@" + std::to_string(event.kv.mod_revision);
  if (event.prev_kv) out += "<prev=" + event.prev_kv->value;
  return out;
}

// The events of every response, one response per group: "[PUT a=1@2]".
std::string Events(const std::vector<WatchResponse>& responses) {
  std::string out;
  for (const WatchResponse& response : responses) {
    if (response.events.empty()) continue;
    out += "[";
    for (size_t i = 0; i < response.events.size(); ++i) {
      if (i > 0) out += " ";
      out += Describe(response.events[i]);
    }
    out += "]";
  }
  return out;
}

template <typename Backend>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_.Available()) {
      GTEST_SKIP() << "etcd is not installed at " << testing::EtcdBinary();
    }
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcd-contract-XXXXXX")
            .string();
    dir_ = mkdtemp(pattern.data());
    ASSERT_TRUE(backend_.Start(dir_)) << "the backend did not start";
    auto store = OpenStore(backend_.Url(), clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  void TearDown() override {
    store_.reset();
    backend_.Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Puts and returns the header revision, or -1 on failure.
  int64_t Put(const std::string& key, const std::string& value,
              int64_t lease = 0) {
    auto response = store_->Put({.key = key, .value = value, .lease = lease});
    if (!response.ok()) return -1;
    return response->header.revision;
  }

  // Returns the key's value, "NOT_FOUND" or the error.
  std::string GetValue(const std::string& key, int64_t revision = 0) {
    auto response = store_->Range({.key = key, .revision = revision});
    if (!response.ok()) return response.status().ToString();
    if (response->kvs.empty()) return "NOT_FOUND";
    return response->kvs[0].value;
  }

  static std::string Pairs(const std::vector<KeyValue>& kvs) {
    std::string out;
    for (const KeyValue& kv : kvs) {
      if (!out.empty()) out += ' ';
      out += kv.key + '=' + kv.value;
    }
    return out;
  }

  // Returns "key=value" pairs joined by spaces, or the error.
  std::string RangeKeys(RangeRequest request) {
    auto response = store_->Range(request);
    if (!response.ok()) return response.status().ToString();
    return Pairs(response->kvs);
  }

  std::string RangeKeys(const std::string& key, const std::string& end) {
    return RangeKeys(RangeRequest{.key = key, .range_end = end});
  }

  base::SimulatedClock clock_{base::Time(std::chrono::seconds(1'700'000'000))};
  Backend backend_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Backends = ::testing::Types<RocksDbBackend, EtcdBackend>;
TYPED_TEST_SUITE(StoreContractTest, Backends, BackendNames);

const std::string kAllKeys(1, '\0');

// ---- Keys, revisions and ranges ----

TYPED_TEST(StoreContractTest, EmptyStoreStartsAtRevisionOne) {
  EXPECT_EQ(this->store_->CurrentRevision(), 1);
  EXPECT_EQ(this->GetValue("a"), "NOT_FOUND");
}

TYPED_TEST(StoreContractTest, PutIncrementsRevisionAndVersion) {
  EXPECT_EQ(this->Put("a", "1"), 2);
  EXPECT_EQ(this->Put("a", "2"), 3);
  EXPECT_EQ(this->Put("b", "x"), 4);

  auto kv = Get(*this->store_, "a");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->value, "2");
  EXPECT_EQ((*kv)->create_revision, 2);
  EXPECT_EQ((*kv)->mod_revision, 3);
  EXPECT_EQ((*kv)->version, 2);
  EXPECT_EQ((*kv)->lease, 0);
  EXPECT_EQ(this->store_->CurrentRevision(), 4);
}

TYPED_TEST(StoreContractTest, BinaryKeysAndValuesRoundTrip) {
  std::string key("k\0\xff\x01", 4);
  std::string value("\0\x80\xfe v", 5);
  EXPECT_EQ(this->Put(key, value), 2);
  EXPECT_EQ(this->GetValue(key), value);
}

TYPED_TEST(StoreContractTest, PutReturnsPrevKv) {
  this->Put("a", "old");
  auto response =
      this->store_->Put({.key = "a", .value = "new", .prev_kv = true});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->prev_kv.has_value());
  EXPECT_EQ(response->prev_kv->value, "old");
  EXPECT_EQ(response->prev_kv->mod_revision, 2);

  auto first = this->store_->Put({.key = "b", .value = "1", .prev_kv = true});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->prev_kv.has_value());
}

TYPED_TEST(StoreContractTest, PutBatchGivesEachPutItsRevision) {
  std::vector<PutRequest> puts = {{.key = "a", .value = "1"},
                                  {.key = "b", .lease = 404},
                                  {.key = "a", .value = "2", .prev_kv = true}};
  std::vector<base::StatusOr<PutResponse>> responses =
      this->store_->PutBatch(puts);

  ASSERT_EQ(responses.size(), 3u);
  ASSERT_TRUE(responses[0].ok()) << responses[0].status();
  EXPECT_EQ(responses[0]->header.revision, 2);
  EXPECT_EQ(responses[1].status().code(), base::Code::kNotFound);
  ASSERT_TRUE(responses[2].ok()) << responses[2].status();
  EXPECT_EQ(responses[2]->header.revision, 3);
  ASSERT_TRUE(responses[2]->prev_kv.has_value());
  EXPECT_EQ(responses[2]->prev_kv->value, "1");
  EXPECT_EQ(this->GetValue("a"), "2");
  EXPECT_EQ(this->GetValue("b"), "NOT_FOUND");
}

TYPED_TEST(StoreContractTest, IgnoreValueKeepsValue) {
  this->Put("a", "keep");
  ASSERT_TRUE(this->store_->Put({.key = "a", .ignore_value = true}).ok());
  EXPECT_EQ(this->GetValue("a"), "keep");

  auto missing = this->store_->Put({.key = "missing", .ignore_value = true});
  EXPECT_EQ(missing.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "etcdserver: key not found");

  auto provided =
      this->store_->Put({.key = "a", .value = "x", .ignore_value = true});
  EXPECT_EQ(provided.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(provided.status().message(), "etcdserver: value is provided");
}

TYPED_TEST(StoreContractTest, PutWithUnknownLeaseFails) {
  auto response = this->store_->Put({.key = "a", .lease = 12345});
  EXPECT_EQ(response.status().code(), base::Code::kNotFound);
  EXPECT_EQ(response.status().message(),
            "etcdserver: requested lease not found");
  EXPECT_EQ(this->store_->CurrentRevision(), 1);
}

TYPED_TEST(StoreContractTest, EmptyKeyIsRejected) {
  auto put = this->store_->Put({.value = "x"});
  EXPECT_EQ(put.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(put.status().message(), "etcdserver: key is not provided");

  auto range = this->store_->Range({});
  EXPECT_EQ(range.status().message(), "etcdserver: key is not provided");
  auto del = this->store_->DeleteRange({});
  EXPECT_EQ(del.status().message(), "etcdserver: key is not provided");
}

TYPED_TEST(StoreContractTest, RangeConventions) {
  for (const char* key : {"a", "b", "c", "d"}) this->Put(key, key);

  EXPECT_EQ(this->RangeKeys("b", ""), "b=b");
  EXPECT_EQ(this->RangeKeys("b", "d"), "b=b c=c");
  EXPECT_EQ(this->RangeKeys("b", kAllKeys), "b=b c=c d=d");
  EXPECT_EQ(this->RangeKeys(kAllKeys, kAllKeys), "a=a b=b c=c d=d");
  // A range_end at or before the key selects nothing.
  EXPECT_EQ(this->RangeKeys("c", "b"), "");
  EXPECT_EQ(this->RangeKeys("c", "c"), "");
}

TYPED_TEST(StoreContractTest, RangeByPrefix) {
  this->Put("app/1", "x");
  this->Put("app/2", "y");
  this->Put("apq", "z");
  this->Put("ap", "w");

  EXPECT_EQ(this->RangeKeys("app/", PrefixEnd("app/")), "app/1=x app/2=y");
}

TYPED_TEST(StoreContractTest, RangeLimitSetsMoreAndCount) {
  for (const char* key : {"a", "b", "c"}) this->Put(key, key);

  auto response =
      this->store_->Range({.key = "a", .range_end = kAllKeys, .limit = 2});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(this->Pairs(response->kvs), "a=a b=b");
  EXPECT_TRUE(response->more);
  EXPECT_EQ(response->count, 3);
  EXPECT_EQ(response->header.revision, 4);

  auto all =
      this->store_->Range({.key = "a", .range_end = kAllKeys, .limit = 3});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_FALSE(all->more);
}

TYPED_TEST(StoreContractTest, RangeCountOnlyAndKeysOnly) {
  this->Put("a", "1");
  this->Put("b", "2");

  auto counted =
      this->store_->Range({.key = "a", .range_end = "z", .count_only = true});
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->count, 2);
  EXPECT_TRUE(counted->kvs.empty());

  auto keys =
      this->store_->Range({.key = "a", .range_end = "z", .keys_only = true});
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->kvs.size(), 2u);
  EXPECT_EQ(keys->kvs[0].key, "a");
  EXPECT_EQ(keys->kvs[0].value, "");
  EXPECT_EQ(keys->kvs[0].mod_revision, 2);
}

TYPED_TEST(StoreContractTest, RangeSortsByTarget) {
  this->Put("a", "3");
  this->Put("b", "1");
  this->Put("c", "2");
  this->Put("b", "4");

  auto sorted = [&](SortOrder order, SortTarget target) {
    return this->RangeKeys({.key = "a",
                            .range_end = "z",
                            .sort_order = order,
                            .sort_target = target});
  };
  EXPECT_EQ(sorted(SortOrder::kDescend, SortTarget::kKey), "c=2 b=4 a=3");
  EXPECT_EQ(sorted(SortOrder::kAscend, SortTarget::kValue), "c=2 a=3 b=4");
  EXPECT_EQ(sorted(SortOrder::kDescend, SortTarget::kMod), "b=4 c=2 a=3");
  EXPECT_EQ(sorted(SortOrder::kAscend, SortTarget::kCreate), "a=3 b=4 c=2");
  EXPECT_EQ(sorted(SortOrder::kDescend, SortTarget::kVersion).substr(0, 3),
            "b=4");
  // A target other than the key sorts ascending when no order is given.
  EXPECT_EQ(sorted(SortOrder::kNone, SortTarget::kValue), "c=2 a=3 b=4");
}

TYPED_TEST(StoreContractTest, RangeFiltersByRevision) {
  this->Put("a", "1");  // rev 2
  this->Put("b", "1");  // rev 3
  this->Put("c", "1");  // rev 4
  this->Put("a", "2");  // rev 5

  EXPECT_EQ(
      this->RangeKeys({.key = "a", .range_end = "z", .min_mod_revision = 4}),
      "a=2 c=1");
  EXPECT_EQ(
      this->RangeKeys({.key = "a", .range_end = "z", .max_mod_revision = 3}),
      "b=1");
  EXPECT_EQ(this->RangeKeys({.key = "a",
                             .range_end = "z",
                             .min_create_revision = 3,
                             .max_create_revision = 3}),
            "b=1");
}

TYPED_TEST(StoreContractTest, RangeAtOlderRevision) {
  this->Put("a", "1");  // rev 2
  this->Put("a", "2");  // rev 3
  DeleteRangeRequest del{.key = "a"};
  ASSERT_TRUE(this->store_->DeleteRange(del).ok());  // rev 4

  EXPECT_EQ(this->GetValue("a", 2), "1");
  EXPECT_EQ(this->GetValue("a", 3), "2");
  EXPECT_EQ(this->GetValue("a", 4), "NOT_FOUND");
  EXPECT_EQ(this->GetValue("a"), "NOT_FOUND");

  auto header = this->store_->Range({.key = "a", .revision = 2});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->header.revision, 4);
}

TYPED_TEST(StoreContractTest, RangeAtFutureRevisionFails) {
  this->Put("a", "1");
  auto response = this->store_->Range({.key = "a", .revision = 9});
  EXPECT_EQ(response.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(response.status().message(),
            "etcdserver: mvcc: required revision is a future revision");
}

TYPED_TEST(StoreContractTest, SerializableRangeSeesOwnWrites) {
  this->Put("a", "1");
  EXPECT_EQ(this->RangeKeys({.key = "a", .serializable = true}), "a=1");
}

TYPED_TEST(StoreContractTest, DeleteResetsVersionAndCreateRevision) {
  this->Put("a", "1");
  this->Put("a", "2");
  auto deleted = this->store_->DeleteRange({.key = "a", .prev_kv = true});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted, 1);
  EXPECT_EQ(deleted->header.revision, 4);
  ASSERT_EQ(deleted->prev_kvs.size(), 1u);
  EXPECT_EQ(deleted->prev_kvs[0].value, "2");

  EXPECT_EQ(this->Put("a", "3"), 5);
  auto kv = Get(*this->store_, "a");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->create_revision, 5);
  EXPECT_EQ((*kv)->version, 1);
}

TYPED_TEST(StoreContractTest, DeleteRangeDeletesInOneRevision) {
  for (const char* key : {"a", "b", "c"}) this->Put(key, key);
  auto deleted = this->store_->DeleteRange({.key = "a", .range_end = "c"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted, 2);
  EXPECT_EQ(deleted->header.revision, 5);
  EXPECT_TRUE(deleted->prev_kvs.empty());
  EXPECT_EQ(this->RangeKeys(kAllKeys, kAllKeys), "c=c");
}

TYPED_TEST(StoreContractTest, DeleteOfMissingKeyKeepsRevision) {
  this->Put("a", "1");
  auto deleted = this->store_->DeleteRange({.key = "zzz"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted, 0);
  EXPECT_EQ(deleted->header.revision, 2);
  EXPECT_EQ(this->store_->CurrentRevision(), 2);
}

// ---- Transactions ----

TYPED_TEST(StoreContractTest, TxnTakesSuccessBranch) {
  this->Put("a", "1");
  TxnRequest txn;
  txn.compare.push_back({.result = Compare::Result::kEqual,
                         .target = Compare::Target::kValue,
                         .key = "a",
                         .value = "1"});
  txn.success.push_back({PutRequest{.key = "b", .value = "2"}});
  txn.success.push_back({RangeRequest{.key = "a", .range_end = "z"}});
  txn.success.push_back({DeleteRangeRequest{.key = "a", .prev_kv = true}});
  txn.failure.push_back({PutRequest{.key = "c", .value = "3"}});

  auto response = this->store_->Txn(txn);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->succeeded);
  EXPECT_EQ(response->header.revision, 3);
  ASSERT_EQ(response->responses.size(), 3u);
  EXPECT_EQ(
      std::get<PutResponse>(response->responses[0].response).header.revision,
      3);
  const auto& range = std::get<RangeResponse>(response->responses[1].response);
  EXPECT_EQ(this->Pairs(range.kvs), "a=1 b=2");
  const auto& del =
      std::get<DeleteRangeResponse>(response->responses[2].response);
  EXPECT_EQ(del.deleted, 1);
  ASSERT_EQ(del.prev_kvs.size(), 1u);
  EXPECT_EQ(del.prev_kvs[0].value, "1");
  EXPECT_EQ(this->RangeKeys(kAllKeys, kAllKeys), "b=2");
}

TYPED_TEST(StoreContractTest, TxnTakesFailureBranch) {
  this->Put("a", "1");
  TxnRequest txn;
  txn.compare.push_back({.result = Compare::Result::kEqual,
                         .target = Compare::Target::kValue,
                         .key = "a",
                         .value = "other"});
  txn.success.push_back({PutRequest{.key = "b", .value = "2"}});
  txn.failure.push_back({RangeRequest{.key = "a"}});

  auto response = this->store_->Txn(txn);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(response->succeeded);
  EXPECT_EQ(response->header.revision, 2);
  EXPECT_EQ(this->GetValue("b"), "NOT_FOUND");
}

TYPED_TEST(StoreContractTest, TxnComparesEveryTarget) {
  ASSERT_TRUE(this->store_->LeaseGrant({.ttl = 600, .id = 77}).ok());
  this->Put("a", "m", 77);  // rev 2, version 1
  this->Put("a", "m", 77);  // rev 3, version 2
  this->Put("b", "z");      // rev 4

  struct Case {
    Compare compare;
    bool expected;
  };
  using R = Compare::Result;
  using T = Compare::Target;
  std::vector<Case> cases = {
      {{.result = R::kEqual, .target = T::kVersion, .key = "a", .version = 2},
       true},
      {{.result = R::kGreater, .target = T::kVersion, .key = "a", .version = 2},
       false},
      {{.result = R::kLess,
        .target = T::kCreate,
        .key = "a",
        .create_revision = 3},
       true},
      {{.result = R::kNotEqual,
        .target = T::kMod,
        .key = "a",
        .mod_revision = 3},
       false},
      {{.result = R::kGreater, .target = T::kValue, .key = "a", .value = "l"},
       true},
      {{.result = R::kEqual, .target = T::kLease, .key = "a", .lease = 77},
       true},
      {{.result = R::kEqual, .target = T::kLease, .key = "b", .lease = 0},
       true},
      // A missing key has version, create and mod revision 0.
      {{.result = R::kEqual,
        .target = T::kCreate,
        .key = "none",
        .create_revision = 0},
       true},
      // A value compare on a missing key fails.
      {{.result = R::kNotEqual,
        .target = T::kValue,
        .key = "none",
        .value = "x"},
       false},
      // A range compare must hold for every key in the range.
      {{.result = R::kGreater,
        .target = T::kMod,
        .key = "a",
        .range_end = "c",
        .mod_revision = 2},
       true},
      {{.result = R::kGreater,
        .target = T::kMod,
        .key = "a",
        .range_end = "c",
        .mod_revision = 3},
       false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TxnRequest txn;
    txn.compare.push_back(cases[i].compare);
    auto response = this->store_->Txn(txn);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->succeeded, cases[i].expected) << "case " << i;
  }
}

TYPED_TEST(StoreContractTest, NestedTxnRunsChosenBranch) {
  this->Put("a", "1");
  auto inner = std::make_shared<TxnRequest>();
  inner->compare.push_back({.result = Compare::Result::kEqual,
                            .target = Compare::Target::kVersion,
                            .key = "b",
                            .version = 0});
  inner->success.push_back({PutRequest{.key = "b", .value = "new"}});
  inner->failure.push_back({PutRequest{.key = "b", .value = "again"}});
  TxnRequest txn;
  txn.success.push_back({PutRequest{.key = "a", .value = "2"}});
  txn.success.push_back({std::shared_ptr<const TxnRequest>(inner)});

  auto response = this->store_->Txn(txn);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->succeeded);
  ASSERT_EQ(response->responses.size(), 2u);
  const auto& nested = std::get<std::shared_ptr<const TxnResponse>>(
      response->responses[1].response);
  ASSERT_NE(nested, nullptr);
  EXPECT_TRUE(nested->succeeded);
  EXPECT_EQ(this->GetValue("b"), "new");
  EXPECT_EQ(this->store_->CurrentRevision(), 3);
}

TYPED_TEST(StoreContractTest, TxnRejectsDuplicateKeys) {
  TxnRequest puts;
  puts.success.push_back({PutRequest{.key = "a", .value = "1"}});
  puts.success.push_back({PutRequest{.key = "a", .value = "2"}});
  auto twice = this->store_->Txn(puts);
  EXPECT_EQ(twice.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(twice.status().message(),
            "etcdserver: duplicate key given in txn request");

  TxnRequest put_in_delete;
  put_in_delete.success.push_back(
      {DeleteRangeRequest{.key = "a", .range_end = "c"}});
  put_in_delete.success.push_back({PutRequest{.key = "b", .value = "1"}});
  EXPECT_EQ(this->store_->Txn(put_in_delete).status().message(),
            "etcdserver: duplicate key given in txn request");

  // The two branches may write the same key: only one of them runs.
  TxnRequest branches;
  branches.success.push_back({PutRequest{.key = "a", .value = "1"}});
  branches.failure.push_back({PutRequest{.key = "a", .value = "2"}});
  EXPECT_TRUE(this->store_->Txn(branches).ok());
  EXPECT_EQ(this->store_->CurrentRevision(), 2);
}

TYPED_TEST(StoreContractTest, TxnRejectsTooManyOps) {
  TxnRequest txn;
  for (int i = 0; i <= kMaxTxnOps; ++i) {
    txn.success.push_back({RangeRequest{.key = "a"}});
  }
  auto response = this->store_->Txn(txn);
  EXPECT_EQ(response.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(response.status().message(),
            "etcdserver: too many operations in txn request");
}

TYPED_TEST(StoreContractTest, TxnRangeSeesEarlierWritesOfTxn) {
  this->Put("a", "1");
  TxnRequest txn;
  txn.success.push_back({DeleteRangeRequest{.key = "a"}});
  txn.success.push_back({RangeRequest{.key = "a"}});
  auto response = this->store_->Txn(txn);
  ASSERT_TRUE(response.ok()) << response.status();
  const auto& range = std::get<RangeResponse>(response->responses[1].response);
  EXPECT_EQ(range.count, 0);
}

TYPED_TEST(StoreContractTest, CompareAndPutChecksModRevision) {
  auto created = CompareAndPut(*this->store_, "a", "1", 0);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, 2);

  auto stale = CompareAndPut(*this->store_, "a", "2", 0);
  EXPECT_EQ(stale.status().code(), base::Code::kAborted);
  auto updated = CompareAndPut(*this->store_, "a", "2", 2);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(*updated, 3);
}

TYPED_TEST(StoreContractTest, CompareAndDeleteReportsWhy) {
  this->Put("a", "1");
  EXPECT_EQ(CompareAndDelete(*this->store_, "a", 9).code(),
            base::Code::kAborted);
  EXPECT_EQ(CompareAndDelete(*this->store_, "missing", 0).code(),
            base::Code::kNotFound);
  EXPECT_TRUE(CompareAndDelete(*this->store_, "a", 2).ok());
  EXPECT_EQ(this->GetValue("a"), "NOT_FOUND");
}

// ---- Compaction ----

TYPED_TEST(StoreContractTest, CompactionDiscardsHistory) {
  this->Put("a", "1");  // rev 2
  this->Put("a", "2");  // rev 3
  this->Put("a", "3");  // rev 4

  auto compacted = this->store_->Compact(3);
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_EQ(compacted->header.revision, 4);

  auto old = this->store_->Range({.key = "a", .revision = 2});
  EXPECT_EQ(old.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(old.status().message(),
            "etcdserver: mvcc: required revision has been compacted");
  EXPECT_EQ(this->GetValue("a", 3), "2");
  EXPECT_EQ(this->GetValue("a"), "3");

  auto again = this->store_->Compact(3);
  EXPECT_EQ(again.status().message(),
            "etcdserver: mvcc: required revision has been compacted");
  auto future = this->store_->Compact(99);
  EXPECT_EQ(future.status().message(),
            "etcdserver: mvcc: required revision is a future revision");
}

// ---- Leases (times on each store's own clock) ----

TYPED_TEST(StoreContractTest, LeaseGrantWithIdAndErrors) {
  auto granted = this->store_->LeaseGrant({.ttl = 600, .id = 1000});
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_EQ(granted->id, 1000);
  EXPECT_EQ(granted->ttl, 600);

  auto duplicate = this->store_->LeaseGrant({.ttl = 600, .id = 1000});
  EXPECT_EQ(duplicate.status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(duplicate.status().message(), "etcdserver: lease already exists");

  auto huge = this->store_->LeaseGrant({.ttl = kMaxLeaseTtl + 1, .id = 1001});
  EXPECT_EQ(huge.status().code(), base::Code::kOutOfRange);
  EXPECT_EQ(huge.status().message(), "etcdserver: too large lease TTL");

  auto picked = this->store_->LeaseGrant({.ttl = 600});
  ASSERT_TRUE(picked.ok()) << picked.status();
  EXPECT_NE(picked->id, 0);
  EXPECT_NE(picked->id, 1000);

  auto leases = this->store_->LeaseLeases();
  ASSERT_TRUE(leases.ok()) << leases.status();
  std::vector<int64_t> expected = {1000, picked->id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(leases->ids, expected);
}

TYPED_TEST(StoreContractTest, LeaseTimeToLiveListsKeys) {
  ASSERT_TRUE(this->store_->LeaseGrant({.ttl = 600, .id = 5}).ok());
  this->Put("b", "1", 5);
  this->Put("a", "1", 5);
  this->Put("c", "1");

  auto ttl = this->store_->LeaseTimeToLive({.id = 5, .keys = true});
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->id, 5);
  EXPECT_EQ(ttl->granted_ttl, 600);
  // etcd's clock runs during the test; allow it a few seconds.
  EXPECT_LE(ttl->ttl, 600);
  EXPECT_GE(ttl->ttl, 590);
  EXPECT_EQ(ttl->keys, (std::vector<std::string>{"a", "b"}));

  auto unknown = this->store_->LeaseTimeToLive({.id = 6});
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->ttl, -1);
}

TYPED_TEST(StoreContractTest, LeaseRevokeDeletesKeysInOneRevision) {
  ASSERT_TRUE(this->store_->LeaseGrant({.ttl = 600, .id = 5}).ok());
  this->Put("a", "1", 5);  // rev 2
  this->Put("b", "1", 5);  // rev 3
  this->Put("c", "1");     // rev 4

  auto revoked = this->store_->LeaseRevoke(5);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(this->RangeKeys(kAllKeys, kAllKeys), "c=1");
  EXPECT_EQ(this->store_->CurrentRevision(), 5);

  auto again = this->store_->LeaseRevoke(5);
  EXPECT_EQ(again.status().code(), base::Code::kNotFound);
  EXPECT_EQ(again.status().message(), "etcdserver: requested lease not found");
}

TYPED_TEST(StoreContractTest, LeaseKeepAliveReturnsTtl) {
  ASSERT_TRUE(this->store_->LeaseGrant({.ttl = 600, .id = 5}).ok());
  auto renewed = this->store_->LeaseKeepAlive(5);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->id, 5);
  EXPECT_EQ(renewed->ttl, 600);

  auto unknown = this->store_->LeaseKeepAlive(6);
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->ttl, 0);
}

TYPED_TEST(StoreContractTest, PutWithoutLeaseDetachesKey) {
  ASSERT_TRUE(this->store_->LeaseGrant({.ttl = 600, .id = 5}).ok());
  this->Put("a", "1", 5);
  this->Put("a", "2");
  ASSERT_TRUE(this->store_->LeaseRevoke(5).ok());
  EXPECT_EQ(this->GetValue("a"), "2");
}

TYPED_TEST(StoreContractTest, IgnoreLeaseKeepsLease) {
  ASSERT_TRUE(this->store_->LeaseGrant({.ttl = 600, .id = 5}).ok());
  this->Put("a", "1", 5);
  ASSERT_TRUE(
      this->store_->Put({.key = "a", .value = "2", .ignore_lease = true}).ok());
  auto kv = Get(*this->store_, "a");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->lease, 5);
  EXPECT_EQ((*kv)->value, "2");
}

// ---- Watches ----

TYPED_TEST(StoreContractTest, WatchDeliversCreationThenEvents) {
  auto [log, callback] = WatchLog::Make();
  auto id = this->store_->Watch({.key = "a", .prev_kv = true}, callback);
  ASSERT_TRUE(id.ok()) << id.status();

  this->Put("a", "1");  // rev 2
  this->Put("b", "x");  // rev 3, not watched
  this->Put("a", "2");  // rev 4
  ASSERT_TRUE(this->store_->DeleteRange({.key = "a"}).ok());  // rev 5

  std::vector<WatchResponse> responses = log->WaitFor(4);
  ASSERT_EQ(responses.size(), 4u);
  EXPECT_TRUE(responses[0].created);
  EXPECT_EQ(responses[0].watch_id, *id);
  EXPECT_EQ(responses[0].header.revision, 1);
  EXPECT_EQ(Events(responses),
            "[PUT a=1@2][PUT a=2@4<prev=1][DELETE a@5<prev=2]");
  EXPECT_EQ(responses[3].header.revision, 5);
  EXPECT_TRUE(this->store_->CancelWatch(*id).ok());
}

TYPED_TEST(StoreContractTest, WatchProgressNotifyReportsRevision) {
  this->Put("b", "1");  // rev 2, not watched
  auto [log, callback] = WatchLog::Make();
  auto id =
      this->store_->Watch({.key = "a", .progress_notify = true}, callback);
  ASSERT_TRUE(id.ok()) << id.status();

  this->backend_.EndProgressInterval(this->clock_);

  std::vector<WatchResponse> responses = log->WaitFor(2);
  ASSERT_GE(responses.size(), 2u);
  EXPECT_EQ(responses[1].watch_id, *id);
  EXPECT_EQ(responses[1].header.revision, 2);
  EXPECT_TRUE(responses[1].events.empty());
  EXPECT_FALSE(responses[1].created);
  EXPECT_FALSE(responses[1].canceled);
  EXPECT_TRUE(this->store_->CancelWatch(*id).ok());
}

TYPED_TEST(StoreContractTest, WatchRangeWithFilters) {
  auto [log, callback] = WatchLog::Make();
  auto id = this->store_->Watch(
      {.key = "a", .range_end = "c", .filter_put = true}, callback);
  ASSERT_TRUE(id.ok()) << id.status();

  this->Put("a", "1");
  this->Put("b", "1");
  this->Put("c", "1");
  ASSERT_TRUE(
      this->store_->DeleteRange({.key = "a", .range_end = kAllKeys}).ok());

  std::vector<WatchResponse> responses = log->WaitFor(2);
  EXPECT_EQ(Events(responses), "[DELETE a@5 DELETE b@5]");
}

TYPED_TEST(StoreContractTest, WatchReplaysHistoryFromStartRevision) {
  this->Put("a", "1");  // rev 2
  this->Put("a", "2");  // rev 3
  this->Put("b", "1");  // rev 4

  auto [log, callback] = WatchLog::Make();
  auto id = this->store_->Watch(
      {.key = "a", .range_end = "z", .start_revision = 3}, callback);
  ASSERT_TRUE(id.ok()) << id.status();
  this->Put("a", "3");  // rev 5

  // etcd may split history over responses, so compare the flat events.
  std::string events;
  for (const WatchResponse& response : log->WaitForEvents(3)) {
    for (const Event& event : response.events) {
      if (!events.empty()) events += " ";
      events += Describe(event);
    }
  }
  EXPECT_EQ(events, "PUT a=2@3 PUT b=1@4 PUT a=3@5");
}

TYPED_TEST(StoreContractTest, TxnEventsShareOneResponse) {
  auto [log, callback] = WatchLog::Make();
  ASSERT_TRUE(
      this->store_->Watch({.key = "a", .range_end = "z"}, callback).ok());

  TxnRequest txn;
  txn.success.push_back({PutRequest{.key = "a", .value = "1"}});
  txn.success.push_back({PutRequest{.key = "b", .value = "2"}});
  ASSERT_TRUE(this->store_->Txn(txn).ok());

  EXPECT_EQ(Events(log->WaitFor(2)), "[PUT a=1@2 PUT b=2@2]");
}

TYPED_TEST(StoreContractTest, WatchBelowCompactionIsCanceled) {
  this->Put("a", "1");
  this->Put("a", "2");
  this->Put("a", "3");
  ASSERT_TRUE(this->store_->Compact(3).ok());

  auto [log, callback] = WatchLog::Make();
  auto id = this->store_->Watch({.key = "a", .start_revision = 2}, callback);
  ASSERT_TRUE(id.ok()) << id.status();

  std::vector<WatchResponse> responses = log->WaitFor(2);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_TRUE(responses[0].created);
  EXPECT_TRUE(responses[1].canceled);
  EXPECT_EQ(responses[1].compact_revision, 3);
  EXPECT_TRUE(responses[1].events.empty());
}

TYPED_TEST(StoreContractTest, CanceledWatchGetsNothingMore) {
  auto [canceled_log, canceled_callback] = WatchLog::Make();
  auto canceled = this->store_->Watch({.key = "a"}, canceled_callback);
  ASSERT_TRUE(canceled.ok()) << canceled.status();
  auto [log, callback] = WatchLog::Make();
  ASSERT_TRUE(this->store_->Watch({.key = "a"}, callback).ok());
  canceled_log->WaitFor(1);
  log->WaitFor(1);

  ASSERT_TRUE(this->store_->CancelWatch(*canceled).ok());
  this->Put("a", "1");

  // Once the open watch has the event, the canceled one would have it too.
  EXPECT_EQ(Events(log->WaitFor(2)), "[PUT a=1@2]");
  EXPECT_EQ(canceled_log->Snapshot().size(), 1u);
  EXPECT_EQ(this->store_->CancelWatch(*canceled).code(), base::Code::kNotFound);
}

TYPED_TEST(StoreContractTest, CallbackMayCancelItsOwnWatch) {
  auto log = std::make_shared<WatchLog>();
  auto id = std::make_shared<int64_t>(0);
  auto* store = this->store_.get();
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto [events_log, events_callback] = WatchLog::Make();
  ASSERT_TRUE(this->store_->Watch({.key = "a"}, events_callback).ok());
  auto watch = this->store_->Watch(
      {.key = "a"}, [store, id, done](const WatchResponse& response) {
        if (!response.events.empty() && !done->exchange(true)) {
          (void)store->CancelWatch(*id);
        }
      });
  ASSERT_TRUE(watch.ok()) << watch.status();
  *id = *watch;

  this->Put("a", "1");
  this->Put("a", "2");
  EXPECT_EQ(Events(events_log->WaitFor(3)), "[PUT a=1@2][PUT a=2@3]");
  EXPECT_TRUE(done->load());
  EXPECT_EQ(this->store_->CancelWatch(*id).code(), base::Code::kNotFound);
}

// ---- Only the etcd store: failover between members ----

class EtcdFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdInstalled()) {
      GTEST_SKIP() << "etcd is not installed at " << testing::EtcdBinary();
    }
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcd-failover-XXXXXX")
            .string();
    dir_ = mkdtemp(pattern.data());
    ASSERT_TRUE(cluster_.Start(
        dir_, {.members = 3, .heartbeat_ms = 50, .election_ms = 500}));
  }

  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  testing::EtcdCluster cluster_;
};

TEST_F(EtcdFailoverTest, WritesAndWatchesMoveToLiveMember) {
  // Put a follower first: the store talks to it until it fails. Killing the
  // leader instead could lose the write in flight, which etcd then reports
  // as "request timed out" and the store does not retry.
  int leader = cluster_.LeaderIndex();
  ASSERT_GE(leader, 0);
  size_t follower = leader == 0 ? 1 : 0;
  std::vector<std::string> endpoints = cluster_.Endpoints();
  std::swap(endpoints[0], endpoints[follower]);
  auto opened = OpenEtcdStore({.endpoints = endpoints});
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Store> store = std::move(*opened);
  ASSERT_TRUE(store->Put({.key = "a", .value = "1"}).ok());  // rev 2
  auto [log, callback] = WatchLog::Make();
  ASSERT_TRUE(store->Watch({.key = "a"}, callback).ok());
  log->WaitFor(1);

  cluster_.Kill(follower);
  auto put = store->Put({.key = "a", .value = "2"});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->header.revision, 3);
  auto kv = Get(*store, "a");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->value, "2");

  // The watch resumed on another member from revision 3, so it lost nothing.
  EXPECT_EQ(Events(log->WaitFor(2)), "[PUT a=2@3]");
  store.reset();
}

TEST(OpenEtcdStore, UnreachableClusterFailsToOpen) {
  std::vector<uint16_t> ports = testing::FreePorts(2);
  EtcdClientOptions options;
  for (uint16_t port : ports) {
    options.endpoints.push_back("127.0.0.1:" + std::to_string(port));
  }
  options.request_timeout = std::chrono::milliseconds(300);

  auto opened = OpenEtcdStore(options);
  EXPECT_EQ(opened.status().code(), base::Code::kUnavailable);
}

TEST(OpenStoreUrl, RejectsMalformedUrls) {
  base::SimulatedClock clock(base::Time(std::chrono::seconds(1)));
  for (const char* url : {"", "rocksdb://", "etcd://", "etcd://a:1,",
                          "etcd://host", "etcd://host:0", "etcd://host:99999",
                          "etcd://[::1:2379", "zookeeper://host:2181"}) {
    auto opened = OpenStore(url, clock);
    EXPECT_EQ(opened.status().code(), base::Code::kInvalidArgument) << url;
  }
}

TEST(OpenStoreUrl, PlainPathOpensRocksDb) {
  base::SimulatedClock clock(base::Time(std::chrono::seconds(1)));
  std::string pattern =
      (std::filesystem::temp_directory_path() / "etcd-url-XXXXXX").string();
  std::string dir = mkdtemp(pattern.data());
  {
    auto first = OpenStore("rocksdb://" + dir + "/db", clock);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE((*first)->Put({.key = "a", .value = "1"}).ok());
  }
  auto second = OpenStore(dir + "/db", clock);
  ASSERT_TRUE(second.ok()) << second.status();
  auto kv = Get(**second, "a");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->value, "1");
  second->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace etcd
