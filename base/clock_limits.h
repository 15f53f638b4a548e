// Limits of Time and Duration arithmetic. Time counts nanoseconds in 64
// bits, from 1677-09-21 to 2262-04-11; adding a duration past that wraps.
#ifndef BASE_CLOCK_LIMITS_H_
#define BASE_CLOCK_LIMITS_H_

#include <chrono>

#include "base/clock.h"

namespace base {

// The maximum duration ParseDuration accepts: 100 years of 365 days.
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * 36500);

// Whether `delta` can be added to `now` without passing Time::max(), the
// latest time there is (2262-04-11T23:47:16Z).
inline bool CanAdvance(Time now, Duration delta) {
  return delta <= Time::max() - now;
}

}  // namespace base

#endif  // BASE_CLOCK_LIMITS_H_
