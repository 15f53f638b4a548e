// Fault injection through the library API: every effect, trigger and scope
// of FaultInjector as a KeyService caller sees it, on the simulated clock.
#include "kms-mock/faults.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "kms-mock/kms.h"

namespace kms {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const base::Time kStart = base::Time(
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 1});

FaultSpec ErrorOn(std::string operation, int status = 503) {
  FaultSpec spec;
  spec.operation = std::move(operation);
  spec.kind = FaultKind::kError;
  spec.http_status = status;
  return spec;
}

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = service_.CreateInstance("a", InstanceType::kKeyProtect)->id;
    other_instance_ =
        service_.CreateInstance("b", InstanceType::kHyperProtect)->id;
    key_ = NewKey(instance_);
    other_key_ = NewKey(instance_);
    wrapped_ = service_.Wrap(instance_, key_, std::nullopt)->ciphertext;
  }

  std::string NewKey(const std::string& instance) {
    base::StatusOr<Key> key = service_.CreateKey(instance, {.name = "root"});
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? key->id : "";
  }

  uint64_t AddFault(const FaultSpec& spec) {
    base::StatusOr<uint64_t> id = service_.faults().Add(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  base::Status Unwrap(const std::string& key_id = "") {
    return service_.Unwrap(instance_, key_id.empty() ? key_ : key_id, wrapped_)
        .status();
  }

  // "x" for each failed call and "." for each successful one.
  std::string UnwrapPattern(int calls) {
    std::string out;
    for (int i = 0; i < calls; ++i) out += Unwrap().ok() ? "." : "x";
    return out;
  }

  base::SimulatedClock clock_{kStart};
  base::SeededRandom random_{3};
  KeyService service_{clock_, random_};
  std::string instance_;
  std::string other_instance_;
  std::string key_;
  std::string other_key_;
  std::string wrapped_;
};

// --- Errors and triggers ---

TEST_F(FaultsTest, ErrorOnNthCallOnly) {
  AddFault([] {
    FaultSpec spec = ErrorOn("unwrap");
    spec.nth = 3;
    return spec;
  }());

  EXPECT_EQ(UnwrapPattern(5), "..x..");
  EXPECT_EQ(service_.CallCounts()["unwrap"].failed, 1);
  EXPECT_EQ(service_.CallCounts()["unwrap"].ok, 4);
}

TEST_F(FaultsTest, ErrorCarriesChosenStatusReasonAndMessage) {
  FaultSpec spec = ErrorOn("unwrap", 429);
  spec.reason = "TOO_MANY_REQUESTS";
  spec.message = "slow down";
  AddFault(spec);

  base::Status status = Unwrap();

  EXPECT_EQ(status.code(), base::Code::kResourceExhausted);
  EXPECT_EQ(status.reason(), "TOO_MANY_REQUESTS");
  EXPECT_EQ(status.message(), "slow down");
}

TEST_F(FaultsTest, ErrorWithoutReasonGetsInjectedFaultReason) {
  uint64_t id = AddFault(ErrorOn("unwrap"));

  base::Status status = Unwrap();

  EXPECT_EQ(status.code(), base::Code::kUnavailable);
  EXPECT_EQ(status.reason(), kReasonInjectedFault);
  EXPECT_NE(status.message().find("fault " + std::to_string(id)),
            std::string::npos)
      << status.message();
}

TEST_F(FaultsTest, SeededRateRepeatsAcrossRuns) {
  FaultSpec spec = ErrorOn("unwrap");
  spec.rate = 0.5;
  spec.seed = 42;
  uint64_t id = AddFault(spec);

  std::string first = UnwrapPattern(200);
  service_.faults().Remove(id);
  AddFault(spec);
  std::string second = UnwrapPattern(200);
  spec.seed = 43;
  service_.faults().Clear();
  AddFault(spec);
  std::string other_seed = UnwrapPattern(200);

  EXPECT_EQ(first, second);
  EXPECT_NE(first, other_seed);
  int64_t failures = std::ranges::count(first, 'x');
  EXPECT_GT(failures, 60);
  EXPECT_LT(failures, 140);
}

TEST_F(FaultsTest, RateZeroNeverFiresRateOneAlwaysFires) {
  FaultSpec never = ErrorOn("unwrap");
  never.rate = 0.0;
  uint64_t id = AddFault(never);
  EXPECT_EQ(UnwrapPattern(3), "...");
  service_.faults().Remove(id);

  AddFault(ErrorOn("unwrap"));
  EXPECT_EQ(UnwrapPattern(3), "xxx");
}

TEST_F(FaultsTest, MaxHitsCapsFiringsAndKeepsFaultListed) {
  FaultSpec spec = ErrorOn("unwrap");
  spec.max_hits = 2;
  uint64_t id = AddFault(spec);

  EXPECT_EQ(UnwrapPattern(4), "xx..");
  std::optional<FaultInfo> info = service_.faults().Get(id);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->matched, 4);
  EXPECT_EQ(info->hits, 2);
}

TEST_F(FaultsTest, FailNthRaisedUntilWrapSucceeds) {
  // Fails the first call, then the second, ... as Beast's fail counter
  // does, until the operation runs past every fault point.
  int n = 1;
  for (;; ++n) {
    service_.faults().Clear();
    FaultSpec spec;
    spec.kind = FaultKind::kError;
    spec.nth = n;
    AddFault(spec);

    base::StatusOr<WrapResult> wrapped = service_.Wrap(instance_, key_, {});
    if (wrapped.ok()) break;
    EXPECT_EQ(wrapped.status().reason(), kReasonInjectedFault);
  }

  EXPECT_EQ(n, 2);
}

// --- Scope ---

TEST_F(FaultsTest, OperationScopeLeavesOtherOperations) {
  AddFault(ErrorOn("wrap"));

  EXPECT_FALSE(service_.Wrap(instance_, key_, std::nullopt).ok());
  EXPECT_TRUE(Unwrap().ok());
  EXPECT_TRUE(service_.GetKey(instance_, key_).ok());
}

TEST_F(FaultsTest, KeyScopeLeavesOtherKeys) {
  FaultSpec spec;
  spec.key_id = key_;
  AddFault(spec);

  EXPECT_FALSE(service_.GetKey(instance_, key_).ok());
  EXPECT_FALSE(service_.Disable(instance_, key_).ok());
  EXPECT_TRUE(service_.GetKey(instance_, other_key_).ok());
  EXPECT_TRUE(service_.Disable(instance_, other_key_).ok());
}

TEST_F(FaultsTest, InstanceScopeLeavesOtherInstances) {
  std::string foreign_key = NewKey(other_instance_);
  FaultSpec spec;
  spec.instance_id = other_instance_;
  AddFault(spec);

  EXPECT_FALSE(service_.ListKeys(other_instance_).ok());
  EXPECT_FALSE(service_.Wrap(other_instance_, foreign_key, {}).ok());
  EXPECT_FALSE(service_.CreateKey(other_instance_, {.name = "k"}).ok());
  EXPECT_TRUE(service_.ListKeys(instance_).ok());
  EXPECT_TRUE(service_.Wrap(instance_, key_, {}).ok());
}

TEST_F(FaultsTest, FaultedCallChangesNothing) {
  std::vector<KeyEvent> events;
  service_.Subscribe([&](const KeyEvent& e) { events.push_back(e); });
  AddFault(ErrorOn("disable"));

  base::Status status = service_.Disable(instance_, key_);

  EXPECT_EQ(status.code(), base::Code::kUnavailable);
  EXPECT_EQ(service_.GetKey(instance_, key_)->state, KeyState::kActive);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(service_.CallCounts()["disable"].failed, 1);
}

TEST_F(FaultsTest, RemovedFaultNoLongerFires) {
  uint64_t id = AddFault(ErrorOn("unwrap"));
  ASSERT_FALSE(Unwrap().ok());

  EXPECT_TRUE(service_.faults().Remove(id));

  EXPECT_TRUE(Unwrap().ok());
  EXPECT_FALSE(service_.faults().Remove(id));
  EXPECT_TRUE(service_.faults().List().empty());
}

// --- Latency and outages ---

TEST_F(FaultsTest, LatencyBelowTimeoutProceedsAndIsRecorded) {
  FaultSpec spec;
  spec.operation = "unwrap";
  spec.kind = FaultKind::kLatency;
  spec.latency = milliseconds(2999);
  uint64_t id = AddFault(spec);

  EXPECT_TRUE(Unwrap().ok());
  EXPECT_TRUE(Unwrap().ok());

  EXPECT_EQ(service_.faults().Get(id)->added_latency, milliseconds(5998));
  EXPECT_EQ(clock_.Now(), kStart);
}

TEST_F(FaultsTest, LatencyAtTimeoutIsDeadlineExceeded) {
  FaultSpec spec;
  spec.operation = "unwrap";
  spec.kind = FaultKind::kLatency;
  spec.latency = seconds(3);
  AddFault(spec);

  EXPECT_EQ(Unwrap().code(), base::Code::kDeadlineExceeded);

  service_.faults().set_call_timeout(seconds(10));
  EXPECT_TRUE(Unwrap().ok());
}

TEST_F(FaultsTest, LatenciesOfSeveralFaultsAddUp) {
  FaultSpec spec;
  spec.kind = FaultKind::kLatency;
  spec.latency = seconds(2);
  AddFault(spec);
  spec.operation = "unwrap";
  AddFault(spec);

  EXPECT_TRUE(service_.Wrap(instance_, key_, {}).ok());
  EXPECT_EQ(Unwrap().code(), base::Code::kDeadlineExceeded);
}

TEST_F(FaultsTest, FirstErrorByIdDecidesOutcome) {
  uint64_t first = AddFault(ErrorOn("unwrap", 500));
  uint64_t second = AddFault(ErrorOn("", 503));

  EXPECT_EQ(Unwrap().code(), base::Code::kInternal);

  EXPECT_EQ(service_.faults().Get(first)->hits, 1);
  EXPECT_EQ(service_.faults().Get(second)->hits, 0);
  EXPECT_EQ(service_.faults().Get(second)->matched, 1);
}

TEST_F(FaultsTest, RefuseOutageIsUnavailableHangIsDeadlineExceeded) {
  FaultSpec refuse;
  refuse.kind = FaultKind::kOutage;
  refuse.outage = OutageMode::kRefuse;
  refuse.key_id = key_;
  FaultSpec hang = refuse;
  hang.outage = OutageMode::kHang;
  hang.key_id = other_key_;
  AddFault(refuse);
  AddFault(hang);

  EXPECT_EQ(service_.GetKey(instance_, key_).status().code(),
            base::Code::kUnavailable);
  EXPECT_EQ(service_.GetKey(instance_, other_key_).status().code(),
            base::Code::kDeadlineExceeded);
}

TEST_F(FaultsTest, ExpiringFaultRemovesItselfOnClock) {
  FaultSpec spec = ErrorOn("unwrap");
  spec.expires_at = kStart + minutes(3);
  AddFault(spec);
  ASSERT_FALSE(Unwrap().ok());

  clock_.Advance(minutes(3) - milliseconds(1));
  EXPECT_FALSE(Unwrap().ok());
  clock_.Advance(milliseconds(1));

  EXPECT_TRUE(Unwrap().ok());
  EXPECT_TRUE(service_.faults().List().empty());
}

TEST_F(FaultsTest, ListenerRefusedOnlyForUnscopedUnconditionalRefuse) {
  FaultSpec spec;
  spec.kind = FaultKind::kOutage;
  spec.outage = OutageMode::kRefuse;
  FaultSpec scoped = spec;
  scoped.operation = "wrap";
  FaultSpec nth = spec;
  nth.nth = 2;
  FaultSpec hang = spec;
  hang.outage = OutageMode::kHang;
  AddFault(scoped);
  AddFault(nth);
  AddFault(hang);
  EXPECT_FALSE(service_.faults().ListenerRefused());

  uint64_t id = AddFault(spec);
  EXPECT_TRUE(service_.faults().ListenerRefused());
  service_.faults().Remove(id);
  EXPECT_FALSE(service_.faults().ListenerRefused());
}

// --- The injector itself ---

TEST_F(FaultsTest, AddRejectsInvalidSpecs) {
  std::vector<std::pair<std::string, FaultSpec>> cases;
  FaultSpec bad = ErrorOn("encrypt");
  cases.emplace_back("unknown operation", bad);
  bad = ErrorOn("wrap", 302);
  cases.emplace_back("status below 400", bad);
  bad = ErrorOn("wrap", 600);
  cases.emplace_back("status above 599", bad);
  bad = ErrorOn("wrap");
  bad.rate = 1.5;
  cases.emplace_back("rate above 1", bad);
  bad = ErrorOn("wrap");
  bad.nth = -1;
  cases.emplace_back("negative nth", bad);
  bad = ErrorOn("wrap");
  bad.max_hits = -1;
  cases.emplace_back("negative max_hits", bad);
  bad = ErrorOn("wrap");
  bad.expires_at = kStart;
  cases.emplace_back("expiry not in the future", bad);
  bad = FaultSpec{};
  bad.kind = FaultKind::kLatency;
  cases.emplace_back("zero latency", bad);

  for (const auto& [name, spec] : cases) {
    EXPECT_EQ(service_.faults().Add(spec).status().code(),
              base::Code::kInvalidArgument)
        << name;
  }
  EXPECT_TRUE(service_.faults().List().empty());
}

TEST_F(FaultsTest, WatchersSeeAddRemoveAndClear) {
  int changes = 0;
  FaultInjector::WatchId watch =
      service_.faults().Watch([&changes] { ++changes; });

  uint64_t id = AddFault(ErrorOn("wrap"));
  service_.faults().Remove(id);
  AddFault(ErrorOn("wrap"));
  service_.faults().Clear();
  service_.faults().Unwatch(watch);
  AddFault(ErrorOn("wrap"));

  EXPECT_EQ(changes, 4);
}

TEST_F(FaultsTest, WaitForHitsSeesOtherThread) {
  uint64_t id = AddFault(ErrorOn("unwrap"));
  base::Status seen;

  std::thread caller([&] { seen = Unwrap(); });
  service_.faults().WaitForHits(id, 1);
  caller.join();

  EXPECT_EQ(seen.code(), base::Code::kUnavailable);
  EXPECT_EQ(service_.faults().Get(id)->hits, 1);
}

TEST_F(FaultsTest, WaitForHitsReturnsWhenFaultIsRemoved) {
  uint64_t id = AddFault(ErrorOn("unwrap"));

  std::thread remover([&] { service_.faults().Remove(id); });
  service_.faults().WaitForHits(id, 1);
  remover.join();

  EXPECT_FALSE(service_.faults().Get(id).has_value());
}

TEST(FaultNames, KindsAndModesRoundTrip) {
  for (FaultKind kind :
       {FaultKind::kLatency, FaultKind::kError, FaultKind::kOutage}) {
    EXPECT_EQ(ParseFaultKind(FaultKindName(kind)), kind);
  }
  for (OutageMode mode : {OutageMode::kRefuse, OutageMode::kHang}) {
    EXPECT_EQ(ParseOutageMode(OutageModeName(mode)), mode);
  }
  EXPECT_FALSE(ParseFaultKind("crash").has_value());
  EXPECT_TRUE(IsFaultOperation("unwrap"));
  EXPECT_TRUE(IsFaultOperation("list_versions"));
  EXPECT_FALSE(IsFaultOperation("encrypt"));
}

TEST(FaultCodes, HttpStatusesMapToRetryCodes) {
  EXPECT_EQ(CodeForHttpStatus(400), base::Code::kInvalidArgument);
  EXPECT_EQ(CodeForHttpStatus(401), base::Code::kUnauthenticated);
  EXPECT_EQ(CodeForHttpStatus(403), base::Code::kPermissionDenied);
  EXPECT_EQ(CodeForHttpStatus(404), base::Code::kNotFound);
  EXPECT_EQ(CodeForHttpStatus(409), base::Code::kFailedPrecondition);
  EXPECT_EQ(CodeForHttpStatus(410), base::Code::kNotFound);
  EXPECT_EQ(CodeForHttpStatus(422), base::Code::kInvalidArgument);
  EXPECT_EQ(CodeForHttpStatus(429), base::Code::kResourceExhausted);
  EXPECT_EQ(CodeForHttpStatus(500), base::Code::kInternal);
  EXPECT_EQ(CodeForHttpStatus(502), base::Code::kUnavailable);
  EXPECT_EQ(CodeForHttpStatus(503), base::Code::kUnavailable);
  EXPECT_EQ(CodeForHttpStatus(504), base::Code::kDeadlineExceeded);
}

}  // namespace
}  // namespace kms
