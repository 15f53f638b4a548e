#include "base/clock.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "base/clock_limits.h"

namespace base {

Clock::TimerId TimerQueue::Add(Time when, std::function<void()> callback) {
  Clock::TimerId id = next_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(callback));
  when_by_id_.emplace(id, when);
  return id;
}

bool TimerQueue::Remove(Clock::TimerId id) {
  auto it = when_by_id_.find(id);
  if (it == when_by_id_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  when_by_id_.erase(it);
  return true;
}

std::optional<Time> TimerQueue::NextDue() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

std::optional<std::function<void()>> TimerQueue::PopDue(Time limit) {
  if (timers_.empty() || timers_.begin()->first.first > limit) {
    return std::nullopt;
  }
  auto node = timers_.extract(timers_.begin());
  when_by_id_.erase(node.key().second);
  return std::move(node.mapped());
}

SimulatedClock::SimulatedClock(Time start) : now_(start) {}

Time SimulatedClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

Clock::TimerId SimulatedClock::ScheduleAt(Time when,
                                          std::function<void()> callback) {
  std::lock_guard lock(mu_);
  return queue_.Add(when, std::move(callback));
}

bool SimulatedClock::Cancel(TimerId id) {
  std::lock_guard lock(mu_);
  return queue_.Remove(id);
}

void SimulatedClock::Advance(Duration delta) { AdvanceTo(Now() + delta); }

void SimulatedClock::AdvanceTo(Time target) {
  while (true) {
    std::function<void()> callback;
    {
      std::lock_guard lock(mu_);
      assert(target >= now_);
      std::optional<Time> due = queue_.NextDue();
      auto popped = queue_.PopDue(target);
      if (!popped) {
        if (target > now_) now_ = target;
        return;
      }
      // A timer scheduled in the past fires at the current time.
      if (*due > now_) now_ = *due;
      callback = std::move(*popped);
    }
    callback();
  }
}

std::optional<Time> SimulatedClock::NextTimerAt() const {
  std::lock_guard lock(mu_);
  return queue_.NextDue();
}

SystemClock::SystemClock(double speed)
    : speed_(speed),
      real_start_(std::chrono::system_clock::now()),
      steady_start_(std::chrono::steady_clock::now()),
      thread_([this] { RunTimers(); }) {}

SystemClock::~SystemClock() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

Time SystemClock::Now() const {
  auto elapsed = std::chrono::steady_clock::now() - steady_start_;
  auto scaled = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::nano>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed)
              .count() *
          speed_));
  return std::chrono::time_point_cast<Duration>(real_start_) + scaled;
}

Clock::TimerId SystemClock::ScheduleAt(Time when,
                                       std::function<void()> callback) {
  TimerId id;
  {
    std::lock_guard lock(mu_);
    id = queue_.Add(when, std::move(callback));
  }
  changed_.notify_all();
  return id;
}

bool SystemClock::Cancel(TimerId id) {
  std::lock_guard lock(mu_);
  return queue_.Remove(id);
}

void SystemClock::RunTimers() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto popped = queue_.PopDue(Now());
    if (popped) {
      lock.unlock();
      (*popped)();
      lock.lock();
      continue;
    }
    std::optional<Time> next = queue_.NextDue();
    if (!next) {
      changed_.wait(lock);
      continue;
    }
    // Convert the virtual wait into real time at the configured speed.
    auto virtual_wait = *next - Now();
    auto real_wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::nano>(virtual_wait.count() /
                                                 speed_));
    changed_.wait_for(lock, real_wait);
  }
}

StatusOr<Duration> ParseDurationOrError(const std::string& text) {
  const Status not_a_duration = InvalidArgumentError(
      "'" + text + "' is not a duration such as 250ms, 90s, 5m, 1h30m or 30d");
  auto too_long = [&] {
    return OutOfRangeError("'" + text + "' is longer than the maximum " +
                           FormatDuration(kMaxDuration) + " (100 years)");
  };
  if (text.empty()) return not_a_duration;
  double total_ns = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (
        i < text.size() &&
        (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == start) return not_a_duration;
    const size_t digits_end = i;
    while (i < text.size() &&
           std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string unit = text.substr(digits_end, i - digits_end);
    double scale;
    if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else if (unit == "d") {
      scale = 86400e9;
    } else {
      return not_a_duration;
    }
    double amount;
    try {
      size_t used = 0;
      amount = std::stod(text.substr(start, digits_end - start), &used);
      // Such as "1.2.3s".
      if (used != digits_end - start) return not_a_duration;
    } catch (const std::out_of_range&) {
      // Beyond a double: too long unless the number is below 1, which
      // underflows to less than a nanosecond.
      std::string_view number(text.data() + start, digits_end - start);
      if (std::count(number.begin(), number.end(), '.') > 1) {
        return not_a_duration;
      }
      if (number.substr(0, number.find('.')).find_first_not_of('0') !=
          std::string_view::npos) {
        return too_long();
      }
      amount = 0;
    } catch (const std::invalid_argument&) {
      return not_a_duration;  // such as "."
    }
    total_ns += amount * scale;
  }
  // Beyond this, adding the duration to a time could overflow.
  if (!(total_ns <= static_cast<double>(kMaxDuration.count()))) {
    return too_long();
  }
  return Duration(static_cast<int64_t>(std::llround(total_ns)));
}

std::optional<Duration> ParseDuration(const std::string& text) {
  StatusOr<Duration> parsed = ParseDurationOrError(text);
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

std::string FormatDuration(Duration d) {
  using namespace std::chrono;
  if (d == Duration::min()) d += Duration(1);  // -min() does not exist
  if (d < Duration::zero()) return "-" + FormatDuration(-d);
  if (d == Duration::zero()) return "0s";
  if (d < seconds(1)) {
    return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
  }
  std::string out;
  auto secs = duration_cast<seconds>(d).count();
  const std::pair<int64_t, const char*> units[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& [size, name] : units) {
    if (secs >= size) {
      out += std::to_string(secs / size) + name;
      secs %= size;
    }
  }
  return out;
}

std::string FormatRfc3339(Time t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<Time> ParseRfc3339(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
                  &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                  &consumed) != 6) {
    return std::nullopt;
  }
  size_t i = consumed;
  int64_t frac_ns = 0;
  if (i < text.size() && text[i] == '.') {
    int64_t scale = 100000000;
    ++i;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      frac_ns += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
  }
  if (i + 1 != text.size() || (text[i] != 'Z' && text[i] != 'z')) {
    return std::nullopt;
  }
  // Time counts nanoseconds in 64 bits: from 1677-09-21 to 2262-04-11.
  if (tm.tm_year < 1678 || tm.tm_year > 2261) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  return std::chrono::time_point_cast<Duration>(
             std::chrono::system_clock::from_time_t(secs)) +
         Duration(frac_ns);
}

}  // namespace base
