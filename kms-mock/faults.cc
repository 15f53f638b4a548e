#include "kms-mock/faults.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace kms {
namespace {

// Every operation that can be a fault's scope.
constexpr std::array<std::string_view, 19> kOperations = {
    "create_instance",
    "create_key",
    "get_key",
    "list_keys",
    "wrap",
    "unwrap",
    "rewrap",
    "rotate",
    "disable",
    "enable",
    "set_key_for_deletion",
    "unset_key_for_deletion",
    "delete",
    "restore",
    "purge",
    "register",
    "unregister",
    "list_versions",
    "list_registrations",
};

bool InScope(const FaultSpec& spec, const FaultCall& call) {
  return (spec.operation.empty() || spec.operation == call.operation) &&
         (spec.instance_id.empty() || spec.instance_id == call.instance_id) &&
         (spec.key_id.empty() || spec.key_id == call.key_id);
}

std::string DescribeScope(const FaultSpec& spec) {
  std::string out = spec.operation.empty() ? "every call" : spec.operation;
  if (!spec.instance_id.empty()) out += " on instance " + spec.instance_id;
  if (!spec.key_id.empty()) out += " on key " + spec.key_id;
  return out;
}

base::Status Validate(const FaultSpec& spec, base::Time now) {
  if (!spec.operation.empty() && !IsFaultOperation(spec.operation)) {
    return base::InvalidArgumentError("unknown operation \"" + spec.operation +
                                      "\"; use a name of CallCounts, "
                                      "list_versions or list_registrations");
  }
  if (spec.kind == FaultKind::kLatency && spec.latency <= base::Duration(0)) {
    return base::InvalidArgumentError(
        "a latency fault needs a positive "
        "latency");
  }
  if (spec.kind == FaultKind::kError &&
      (spec.http_status < 400 || spec.http_status > 599)) {
    return base::InvalidArgumentError(
        "an error fault needs an HTTP status from 400 to 599, got " +
        std::to_string(spec.http_status));
  }
  if (!(spec.rate >= 0.0 && spec.rate <= 1.0)) {
    return base::InvalidArgumentError("rate must be from 0 to 1");
  }
  if (spec.nth < 0 || spec.max_hits < 0) {
    return base::InvalidArgumentError("nth and max_hits must not be negative");
  }
  if (spec.expires_at && *spec.expires_at <= now) {
    return base::InvalidArgumentError("expires_at " +
                                      base::FormatRfc3339(*spec.expires_at) +
                                      " is not in the future");
  }
  return base::OkStatus();
}

}  // namespace

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kLatency:
      return "latency";
    case FaultKind::kError:
      return "error";
    case FaultKind::kOutage:
      return "outage";
  }
  return "unknown";
}

std::optional<FaultKind> ParseFaultKind(std::string_view name) {
  for (FaultKind kind :
       {FaultKind::kLatency, FaultKind::kError, FaultKind::kOutage}) {
    if (FaultKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string_view OutageModeName(OutageMode mode) {
  return mode == OutageMode::kRefuse ? "refuse" : "hang";
}

std::optional<OutageMode> ParseOutageMode(std::string_view name) {
  if (name == "refuse") return OutageMode::kRefuse;
  if (name == "hang") return OutageMode::kHang;
  return std::nullopt;
}

bool IsFaultOperation(std::string_view name) {
  return std::ranges::find(kOperations, name) != kOperations.end();
}

base::Code CodeForHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
    case 422:
      return base::Code::kInvalidArgument;
    case 401:
      return base::Code::kUnauthenticated;
    case 403:
      return base::Code::kPermissionDenied;
    case 404:
    case 410:
      return base::Code::kNotFound;
    case 408:
    case 504:
      return base::Code::kDeadlineExceeded;
    case 409:
    case 412:
      return base::Code::kFailedPrecondition;
    case 429:
      return base::Code::kResourceExhausted;
    case 500:
      return base::Code::kInternal;
    case 501:
      return base::Code::kUnimplemented;
    default:
      return http_status >= 500 ? base::Code::kUnavailable
                                : base::Code::kInvalidArgument;
  }
}

struct FaultInjector::Entry {
  Entry(uint64_t id, const FaultSpec& spec)
      : info{id, spec}, random(spec.seed) {}

  FaultInfo info;
  base::SeededRandom random;  // draws for `rate`

  // Decides whether the fault fires on the call it just matched.
  bool Fires() {
    const FaultSpec& spec = info.spec;
    if (spec.max_hits > 0 && info.hits >= spec.max_hits) return false;
    if (spec.nth > 0) return info.matched == spec.nth;
    if (spec.rate >= 1.0) return true;
    if (spec.rate <= 0.0) return false;
    constexpr uint64_t kScale = uint64_t{1} << 53;
    return static_cast<double>(random.Uniform(kScale)) <
           spec.rate * static_cast<double>(kScale);
  }
};

FaultInjector::FaultInjector(base::Clock& clock)
    : clock_(clock), lifeline_(std::make_shared<Lifeline>()) {
  lifeline_->injector = this;
}

FaultInjector::~FaultInjector() {
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, timer] : expiry_timers_) clock_.Cancel(timer);
  }
  std::lock_guard lock(lifeline_->mu);
  lifeline_->injector = nullptr;
}

base::StatusOr<uint64_t> FaultInjector::Add(const FaultSpec& spec) {
  RETURN_IF_ERROR(Validate(spec, clock_.Now()));
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    auto entry = std::make_unique<Entry>(id, spec);
    if (entry->info.spec.kind == FaultKind::kError &&
        entry->info.spec.reason.empty()) {
      entry->info.spec.reason = std::string(kReasonInjectedFault);
    }
    faults_.emplace(id, std::move(entry));
    size_.store(faults_.size(), std::memory_order_relaxed);
  }
  spdlog::info("kms faults: added {} fault {} on {}", FaultKindName(spec.kind),
               id, DescribeScope(spec));
  if (spec.expires_at) ScheduleExpiry(id, *spec.expires_at);
  Notify();
  return id;
}

void FaultInjector::ScheduleExpiry(uint64_t id, base::Time when) {
  std::shared_ptr<Lifeline> lifeline = lifeline_;
  base::Clock::TimerId timer = clock_.ScheduleAt(when, [lifeline, id] {
    std::lock_guard lock(lifeline->mu);
    if (lifeline->injector == nullptr) return;
    spdlog::info("kms faults: fault {} expired", id);
    lifeline->injector->Remove(id);
  });
  std::lock_guard lock(mu_);
  // The fault may be gone already; then the timer must not outlive it.
  if (!faults_.contains(id)) {
    clock_.Cancel(timer);
    return;
  }
  expiry_timers_[id] = timer;
}

bool FaultInjector::Remove(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    if (faults_.erase(id) == 0) return false;
    size_.store(faults_.size(), std::memory_order_relaxed);
    if (auto timer = expiry_timers_.find(id); timer != expiry_timers_.end()) {
      clock_.Cancel(timer->second);
      expiry_timers_.erase(timer);
    }
  }
  spdlog::info("kms faults: removed fault {}", id);
  changed_.notify_all();
  Notify();
  return true;
}

void FaultInjector::Clear() {
  {
    std::lock_guard lock(mu_);
    if (faults_.empty()) return;
    for (const auto& [id, timer] : expiry_timers_) clock_.Cancel(timer);
    expiry_timers_.clear();
    faults_.clear();
    size_.store(0, std::memory_order_relaxed);
  }
  spdlog::info("kms faults: removed every fault");
  changed_.notify_all();
  Notify();
}

std::vector<FaultInfo> FaultInjector::List() const {
  std::lock_guard lock(mu_);
  std::vector<FaultInfo> out;
  for (const auto& [id, entry] : faults_) out.push_back(entry->info);
  return out;
}

std::optional<FaultInfo> FaultInjector::Get(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = faults_.find(id);
  if (it == faults_.end()) return std::nullopt;
  return it->second->info;
}

FaultDecision FaultInjector::Evaluate(const FaultCall& call) {
  FaultDecision decision;
  // The common case, no faults at all, takes no lock.
  if (size_.load(std::memory_order_relaxed) == 0) return decision;
  bool fired = false;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, entry] : faults_) {
      const FaultSpec& spec = entry->info.spec;
      if (!InScope(spec, call)) continue;
      ++entry->info.matched;
      // A second error or outage cannot change a decided outcome, so it
      // does not fire (but its random draw is still taken, keeping the
      // stream independent of other faults).
      bool fires = entry->Fires();
      bool terminal = spec.kind != FaultKind::kLatency;
      if (!fires || (terminal && !decision.proceeds())) continue;

      ++entry->info.hits;
      fired = true;
      if (spec.kind == FaultKind::kLatency) {
        decision.latency += spec.latency;
        entry->info.added_latency += spec.latency;
        continue;
      }
      decision.fault_id = id;
      if (spec.kind == FaultKind::kError) {
        decision.outcome = FaultDecision::Outcome::kError;
        decision.http_status = spec.http_status;
        decision.reason = spec.reason;
        decision.message = !spec.message.empty()
                               ? spec.message
                               : "injected fault " + std::to_string(id) + ": " +
                                     DescribeScope(spec) + " fails with HTTP " +
                                     std::to_string(spec.http_status);
      } else if (spec.outage == OutageMode::kRefuse) {
        decision.outcome = FaultDecision::Outcome::kRefuse;
        decision.message =
            "connection refused by injected outage " + std::to_string(id);
      } else {
        decision.outcome = FaultDecision::Outcome::kHang;
        decision.message = "no response: injected outage " +
                           std::to_string(id) + " never answers";
      }
    }
  }
  if (fired) changed_.notify_all();
  return decision;
}

base::Status FaultInjector::Check(const FaultCall& call) {
  FaultDecision decision = Evaluate(call);
  base::Duration timeout = call_timeout();
  switch (decision.outcome) {
    case FaultDecision::Outcome::kError:
      return base::Status(CodeForHttpStatus(decision.http_status),
                          decision.message, decision.reason);
    case FaultDecision::Outcome::kRefuse:
      return base::UnavailableError(decision.message);
    case FaultDecision::Outcome::kHang:
      return base::DeadlineExceededError(decision.message +
                                         "; the call timed "
                                         "out after " +
                                         base::FormatDuration(timeout));
    case FaultDecision::Outcome::kProceed:
      break;
  }
  if (decision.latency >= timeout) {
    return base::DeadlineExceededError(
        "injected latency of " + base::FormatDuration(decision.latency) +
        " exceeds the call timeout of " + base::FormatDuration(timeout));
  }
  return base::OkStatus();
}

bool FaultInjector::ListenerRefused() const {
  std::lock_guard lock(mu_);
  for (const auto& [id, entry] : faults_) {
    const FaultSpec& spec = entry->info.spec;
    if (spec.kind == FaultKind::kOutage && spec.outage == OutageMode::kRefuse &&
        spec.operation.empty() && spec.instance_id.empty() &&
        spec.key_id.empty() && spec.nth == 0 && spec.rate >= 1.0 &&
        spec.max_hits == 0) {
      return true;
    }
  }
  return false;
}

void FaultInjector::set_call_timeout(base::Duration timeout) {
  std::lock_guard lock(mu_);
  call_timeout_ = timeout;
}

base::Duration FaultInjector::call_timeout() const {
  std::lock_guard lock(mu_);
  return call_timeout_;
}

FaultInjector::WatchId FaultInjector::Watch(std::function<void()> watcher) {
  std::lock_guard lock(mu_);
  WatchId id = next_watch_++;
  watchers_[id] = std::make_shared<std::function<void()>>(std::move(watcher));
  return id;
}

void FaultInjector::Unwatch(WatchId id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

void FaultInjector::Notify() {
  std::vector<std::shared_ptr<std::function<void()>>> watchers;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, watcher] : watchers_) watchers.push_back(watcher);
  }
  for (const auto& watcher : watchers) (*watcher)();
}

void FaultInjector::WaitForHits(uint64_t id, int64_t hits) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] {
    auto it = faults_.find(id);
    return it == faults_.end() || it->second->info.hits >= hits;
  });
}

}  // namespace kms
