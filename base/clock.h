// Clock: the only source of time in the project.
//
// Every component takes a Clock& and never reads std::chrono clocks itself,
// so that tests and scenario replays run on a SimulatedClock that moves only
// when told: an hour of detection lag takes no wall time, and a run repeats
// exactly. Timers registered on a clock fire in time order; timers due at the
// same instant fire in the order they were scheduled.
//
// Both implementations are thread-safe. Callbacks run without any clock lock
// held and may schedule or cancel timers.
#ifndef BASE_CLOCK_H_
#define BASE_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "base/status.h"

namespace base {

using Duration = std::chrono::nanoseconds;
using Time = std::chrono::sys_time<Duration>;

class Clock {
 public:
  using TimerId = uint64_t;

  virtual ~Clock() = default;

  virtual Time Now() const = 0;

  // Runs `callback` once, when the clock reaches `when` (at once on the next
  // advance if `when` is already past). Returns an id for Cancel.
  virtual TimerId ScheduleAt(Time when, std::function<void()> callback) = 0;

  TimerId ScheduleAfter(Duration delay, std::function<void()> callback) {
    return ScheduleAt(Now() + delay, std::move(callback));
  }

  // Removes a pending timer. Returns false if it already fired or never
  // existed.
  virtual bool Cancel(TimerId id) = 0;
};

// Holds the ordered set of pending timers; shared by both clocks.
class TimerQueue {
 public:
  Clock::TimerId Add(Time when, std::function<void()> callback);
  bool Remove(Clock::TimerId id);
  std::optional<Time> NextDue() const;
  // Removes and returns the earliest timer due at or before `limit`.
  std::optional<std::function<void()>> PopDue(Time limit);

 private:
  // Ordered by (time, id): ids increase, so equal times keep schedule order.
  std::map<std::pair<Time, Clock::TimerId>, std::function<void()>> timers_;
  std::map<Clock::TimerId, Time> when_by_id_;
  Clock::TimerId next_id_ = 1;
};

// A clock that moves only when Advance or AdvanceTo is called. Timers fire on
// the advancing thread, each with Now() equal to its due time.
class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(Time start);

  Time Now() const override;
  TimerId ScheduleAt(Time when, std::function<void()> callback) override;
  bool Cancel(TimerId id) override;

  // Moves time forward by `delta`, firing every timer due on the way,
  // including timers that those timers schedule within the interval.
  void Advance(Duration delta);
  // REQUIRES: target >= Now(). Like Advance, to an absolute time.
  void AdvanceTo(Time target);

  // Returns the due time of the earliest pending timer, if any.
  std::optional<Time> NextTimerAt() const;

 private:
  mutable std::mutex mu_;
  Time now_;          // guarded by mu_
  TimerQueue queue_;  // guarded by mu_
};

// Wall-clock time, optionally sped up: with speed 60 a virtual minute passes
// in one real second. Timers fire on a background thread owned by the clock.
class SystemClock : public Clock {
 public:
  explicit SystemClock(double speed = 1.0);
  ~SystemClock() override;

  Time Now() const override;
  TimerId ScheduleAt(Time when, std::function<void()> callback) override;
  bool Cancel(TimerId id) override;

 private:
  void RunTimers();

  // Constant after construction.
  const double speed_;
  const std::chrono::system_clock::time_point real_start_;
  const std::chrono::steady_clock::time_point steady_start_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  TimerQueue queue_;       // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

// Parses durations such as "90s", "5m", "1h30m", "30d", "250ms" and "1.5h".
// Units: ms, s, m, h, d. Returns nullopt on anything else, and on durations
// longer than kMaxDuration (base/clock_limits.h).
std::optional<Duration> ParseDuration(const std::string& text);
// As ParseDuration, with the reason for a rejection: kInvalidArgument for
// text that is not a duration, kOutOfRange for one longer than
// kMaxDuration, such as "300000d".
StatusOr<Duration> ParseDurationOrError(const std::string& text);
// Formats a duration in the largest units first, e.g. "1h30m", "250ms", "0s".
std::string FormatDuration(Duration d);
// Formats as RFC 3339 in UTC with second precision: "2026-01-02T03:04:05Z".
std::string FormatRfc3339(Time t);
// Parses RFC 3339 as produced by FormatRfc3339, with optional fractional
// seconds; returns nullopt when malformed.
std::optional<Time> ParseRfc3339(const std::string& text);

}  // namespace base

#endif  // BASE_CLOCK_H_
