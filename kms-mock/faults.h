// FaultInjector: deterministic faults for the mock KMS, consulted by the
// KeyService on every library call and by the HTTP server on every request.
//
// A fault has a scope, a trigger and an effect. The scope is an operation,
// an instance and a key, where an empty field matches any. The trigger fires
// on every matching call, only on the Nth one, or on a seeded share of them,
// optionally capped. The effect is one of:
//
//   kLatency  adds `latency`. Over HTTP the server holds the response until
//             its clock reaches the time of the request plus the latency. In
//             process no call can wait, so a latency of call_timeout() or
//             more fails the call with kDeadlineExceeded and a shorter one
//             is only recorded in FaultInfo::added_latency.
//   kError    fails the call with `http_status` and the Key Protect reason
//             code `reason`. In process the Status carries `reason` and the
//             code that matches the HTTP status (503 -> kUnavailable, ...).
//   kOutage   kRefuse: the server stops listening (connection refused) when
//             the fault is unscoped and unconditional, and otherwise resets
//             the connection of each matching request without a response.
//             kHang: the server reads the request and never answers; the
//             connection closes when the fault is removed. In process,
//             kRefuse returns kUnavailable and kHang kDeadlineExceeded.
//
// Usage:
//   FaultSpec spec;
//   spec.operation = "unwrap";
//   spec.kind = FaultKind::kError;
//   spec.http_status = 503;
//   spec.nth = 3;  // only the third unwrap fails
//   uint64_t id = *service.faults().Add(spec);
//   ...
//   service.faults().Remove(id);
//
// When several faults match one call, every matching fault counts the call,
// the latencies of those that fire add up, and the first one (by id) that
// fires an error or an outage decides the outcome.
//
// Thread-safe. Watchers run after the change, without the injector's lock
// held, on the thread that made it; they may call back into the injector.
#ifndef KMS_MOCK_FAULTS_H_
#define KMS_MOCK_FAULTS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"

namespace kms {

// A reason code of this mock, not of Key Protect: the default reason of an
// injected error.
inline constexpr std::string_view kReasonInjectedFault = "INJECTED_FAULT_ERR";

enum class FaultKind { kLatency, kError, kOutage };
enum class OutageMode { kRefuse, kHang };

// "latency", "error", "outage"; "refuse", "hang".
std::string_view FaultKindName(FaultKind kind);
std::optional<FaultKind> ParseFaultKind(std::string_view name);
std::string_view OutageModeName(OutageMode mode);
std::optional<OutageMode> ParseOutageMode(std::string_view name);

// Operation names a fault may be scoped to: the names of
// KeyService::CallCounts, plus "list_versions" and "list_registrations",
// which exist over HTTP only.
bool IsFaultOperation(std::string_view name);

struct FaultSpec {
  // Scope; an empty field matches every call.
  std::string operation;
  std::string instance_id;
  std::string key_id;

  FaultKind kind = FaultKind::kError;
  base::Duration latency{0};  // kLatency; must be positive
  int http_status = 503;      // kError; 400 to 599
  std::string reason;         // kError; kReasonInjectedFault if empty
  std::string message;        // kError; a default names the fault
  OutageMode outage = OutageMode::kRefuse;  // kOutage

  // Trigger. With nth > 0 only the nth matching call (1-based) fires.
  // Otherwise each matching call fires with probability `rate`, drawn from a
  // stream seeded with `seed`, so the same calls in the same order fire the
  // same way in every run. After max_hits firings (0: no cap) the fault
  // stays listed but no longer fires.
  int64_t nth = 0;
  double rate = 1.0;
  uint64_t seed = 1;
  int64_t max_hits = 0;

  // When set, the fault removes itself at this time of the service's clock.
  std::optional<base::Time> expires_at;
};

struct FaultInfo {
  uint64_t id = 0;
  FaultSpec spec;
  int64_t matched = 0;              // calls in scope
  int64_t hits = 0;                 // calls the fault fired on
  base::Duration added_latency{0};  // in-process latency below the timeout
};

// The call being checked.
struct FaultCall {
  std::string_view operation;
  std::string_view instance_id;
  std::string_view key_id;
};

// The outcome of the injected faults for one call.
struct FaultDecision {
  enum class Outcome { kProceed, kError, kRefuse, kHang };

  Outcome outcome = Outcome::kProceed;
  uint64_t fault_id = 0;  // the fault behind a non-kProceed outcome
  base::Duration latency{0};
  int http_status = 0;  // kError
  std::string reason;   // kError
  std::string message;  // kError, kRefuse, kHang

  bool proceeds() const { return outcome == Outcome::kProceed; }
};

// The base::Code an injected HTTP status stands for in process.
base::Code CodeForHttpStatus(int http_status);

class FaultInjector {
 public:
  // Kubernetes' default KMS plugin timeout, used as the in-process caller's
  // deadline for latency faults.
  static constexpr base::Duration kDefaultCallTimeout = std::chrono::seconds(3);

  // `clock` (for expires_at) must outlive the injector.
  explicit FaultInjector(base::Clock& clock);
  ~FaultInjector();

  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // Adds a fault and returns its id (ids start at 1 and are never reused).
  // Fails with kInvalidArgument for an unknown operation, a non-positive
  // latency, a status outside 400..599, a rate outside [0, 1], a negative
  // nth or max_hits, or an expires_at that is not in the future.
  base::StatusOr<uint64_t> Add(const FaultSpec& spec);
  // Returns false when no fault has that id.
  bool Remove(uint64_t id);
  void Clear();

  std::vector<FaultInfo> List() const;
  std::optional<FaultInfo> Get(uint64_t id) const;

  // Counts the call against every fault in scope and returns the outcome.
  FaultDecision Evaluate(const FaultCall& call);

  // Evaluates the call for an in-process caller: OK to proceed, else the
  // error to return. Latency below call_timeout() is recorded only.
  base::Status Check(const FaultCall& call);

  // True while an unscoped, unconditional kRefuse outage exists: the HTTP
  // server then closes its listening socket.
  bool ListenerRefused() const;

  void set_call_timeout(base::Duration timeout);
  base::Duration call_timeout() const;

  // Calls `watcher` after every Add, Remove, Clear and expiry. A watcher
  // may still run once after Unwatch returns, when a change was being
  // notified at the time.
  using WatchId = uint64_t;
  WatchId Watch(std::function<void()> watcher);
  void Unwatch(WatchId id);

  // Blocks until fault `id` has fired at least `hits` times, or has been
  // removed. For tests and harnesses that must know that a request reached
  // the mock before they act.
  void WaitForHits(uint64_t id, int64_t hits);

 private:
  struct Entry;

  void Notify();
  void ScheduleExpiry(uint64_t id, base::Time when);

  base::Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, std::unique_ptr<Entry>> faults_;  // guarded by mu_
  // faults_.size(), readable without the lock. A call that races with Add
  // may miss the new fault, as it would if it had come a moment earlier.
  std::atomic<size_t> size_{0};
  uint64_t next_id_ = 1;                               // guarded by mu_
  base::Duration call_timeout_ = kDefaultCallTimeout;  // guarded by mu_
  std::map<WatchId, std::shared_ptr<std::function<void()>>>
      watchers_;            // guarded by mu_
  WatchId next_watch_ = 1;  // guarded by mu_
  // Expiry timers still pending, cancelled by the destructor.
  std::map<uint64_t, base::Clock::TimerId> expiry_timers_;  // guarded by mu_

  // Shared with expiry callbacks; the destructor clears `injector` so that
  // a callback already running when the timers are cancelled does nothing.
  struct Lifeline {
    std::mutex mu;
    FaultInjector* injector;  // guarded by mu
  };
  const std::shared_ptr<Lifeline> lifeline_;
};

}  // namespace kms

#endif  // KMS_MOCK_FAULTS_H_
