#include "base/clock.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/clock_limits.h"

namespace base {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

Time Start() { return *ParseRfc3339("2026-01-01T00:00:00Z"); }

TEST(SimulatedClock, NowMovesOnlyWhenAdvanced) {
  SimulatedClock clock(Start());

  EXPECT_EQ(clock.Now(), Start());
  clock.Advance(minutes(5));

  EXPECT_EQ(clock.Now(), Start() + minutes(5));
}

TEST(SimulatedClock, TimersFireInTimeOrder) {
  SimulatedClock clock(Start());
  std::vector<std::string> fired;
  clock.ScheduleAfter(minutes(3), [&] { fired.push_back("3m"); });
  clock.ScheduleAfter(minutes(1), [&] { fired.push_back("1m"); });
  clock.ScheduleAfter(minutes(2), [&] { fired.push_back("2m"); });

  clock.Advance(minutes(10));

  EXPECT_EQ(fired, (std::vector<std::string>{"1m", "2m", "3m"}));
}

TEST(SimulatedClock, TimerSeesItsDueTime) {
  SimulatedClock clock(Start());
  Time seen;
  clock.ScheduleAfter(hours(1), [&] { seen = clock.Now(); });

  clock.Advance(hours(5));

  EXPECT_EQ(seen, Start() + hours(1));
  EXPECT_EQ(clock.Now(), Start() + hours(5));
}

TEST(SimulatedClock, SameInstantKeepsScheduleOrder) {
  SimulatedClock clock(Start());
  std::string order;
  clock.ScheduleAfter(seconds(1), [&] { order += "a"; });
  clock.ScheduleAfter(seconds(1), [&] { order += "b"; });

  clock.Advance(seconds(1));

  EXPECT_EQ(order, "ab");
}

TEST(SimulatedClock, TimerScheduledByTimerFiresInSameAdvance) {
  SimulatedClock clock(Start());
  int fired = 0;
  clock.ScheduleAfter(minutes(1), [&] {
    ++fired;
    clock.ScheduleAfter(minutes(1), [&] { ++fired; });
  });

  clock.Advance(minutes(2));

  EXPECT_EQ(fired, 2);
}

TEST(SimulatedClock, TimerBeyondAdvanceWaits) {
  SimulatedClock clock(Start());
  bool fired = false;
  clock.ScheduleAfter(minutes(10), [&] { fired = true; });

  clock.Advance(minutes(9));
  EXPECT_FALSE(fired);
  EXPECT_EQ(clock.NextTimerAt(), Start() + minutes(10));
  clock.Advance(minutes(1));

  EXPECT_TRUE(fired);
  EXPECT_EQ(clock.NextTimerAt(), std::nullopt);
}

TEST(SimulatedClock, CancelledTimerNeverFires) {
  SimulatedClock clock(Start());
  bool fired = false;
  Clock::TimerId id = clock.ScheduleAfter(minutes(1), [&] { fired = true; });

  EXPECT_TRUE(clock.Cancel(id));
  EXPECT_FALSE(clock.Cancel(id));
  clock.Advance(hours(1));

  EXPECT_FALSE(fired);
}

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(ParseDuration("90s"), seconds(90));
  EXPECT_EQ(ParseDuration("5m"), minutes(5));
  EXPECT_EQ(ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(ParseDuration("30d"), hours(720));
  EXPECT_EQ(ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseDuration("1.5h"), minutes(90));
}

TEST(Duration, RejectsMalformed) {
  EXPECT_EQ(ParseDuration(""), std::nullopt);
  EXPECT_EQ(ParseDuration("5"), std::nullopt);
  EXPECT_EQ(ParseDuration("m"), std::nullopt);
  EXPECT_EQ(ParseDuration("5 minutes"), std::nullopt);
  EXPECT_EQ(ParseDuration("5w"), std::nullopt);
  EXPECT_EQ(ParseDuration("1.2.3s"), std::nullopt);
}

TEST(Duration, RejectsDurationsThatWouldOverflow) {
  EXPECT_EQ(ParseDuration("36500d"), kMaxDuration);
  EXPECT_EQ(ParseDuration("36501d"), std::nullopt);
  EXPECT_EQ(ParseDuration("300000000000d"), std::nullopt);
  EXPECT_EQ(ParseDuration("99999999999999999999d"), std::nullopt);
  EXPECT_EQ(ParseDuration(std::string(400, '9') + "s"), std::nullopt);
}

TEST(Duration, TellsTooLongFromMalformed) {
  EXPECT_EQ(ParseDurationOrError("36501d").status().code(), Code::kOutOfRange);
  EXPECT_EQ(ParseDurationOrError(std::string(400, '9') + "s").status().code(),
            Code::kOutOfRange);
  EXPECT_EQ(ParseDurationOrError("300000d").status().message(),
            "'300000d' is longer than the maximum 36500d (100 years)");
  EXPECT_EQ(ParseDurationOrError("5w").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseDurationOrError(std::string(400, '9') + "w").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ParseDurationOrError("0." + std::string(400, '0') + "1s").value(),
            Duration::zero());
}

TEST(Rfc3339, RejectsYearsTimeCannotHold) {
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2261-12-31T23:59:59Z")),
            "2261-12-31T23:59:59Z");
  EXPECT_EQ(ParseRfc3339("2300-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("1600-01-01T00:00:00Z"), std::nullopt);
}

TEST(Duration, CanAdvanceUpToTheLatestTime) {
  const Time start = *ParseRfc3339("2026-01-01T00:00:00Z");
  EXPECT_TRUE(CanAdvance(start, kMaxDuration));
  EXPECT_TRUE(CanAdvance(start, Time::max() - start));
  EXPECT_FALSE(CanAdvance(start, Time::max() - start + Duration(1)));
  EXPECT_FALSE(CanAdvance(start + 2 * kMaxDuration, kMaxDuration));
}

TEST(Duration, FormatsTheMostNegativeDuration) {
  EXPECT_EQ(FormatDuration(Duration::min()), "-106751d23h47m16s");
}

TEST(Duration, FormatsLargestUnitsFirst) {
  EXPECT_EQ(FormatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(hours(49)), "2d1h");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(Duration::zero()), "0s");
}

TEST(Rfc3339, RoundTrips) {
  std::optional<Time> t = ParseRfc3339("2026-12-04T15:13:44Z");

  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339(*t), "2026-12-04T15:13:44Z");
  EXPECT_EQ(ParseRfc3339("2026-12-04 15:13:44"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-12-04T15:13:44.5Z"), *t + Duration(500000000));
}

}  // namespace
}  // namespace base
