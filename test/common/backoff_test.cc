#include "common/backoff.h"

#include "absl/random/random.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"

namespace spotguard {
namespace {

// Verifies delays double from `initial` and stop growing at `max`.
TEST(BackoffTest, GrowsGeometricallyUpToMax) {
  absl::BitGen rng;
  Backoff b({.initial = absl::Milliseconds(100), .max = absl::Seconds(1), .multiplier = 2, .jitter = 0}, rng);
  std::vector<absl::Duration> got;
  for (int i = 0; i < 6; ++i) got.push_back(b.Next());
  EXPECT_EQ(got, (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(200),
                                               absl::Milliseconds(400), absl::Milliseconds(800), absl::Seconds(1),
                                               absl::Seconds(1)}));
  EXPECT_EQ(b.attempts(), 6);
  b.Reset();
  EXPECT_EQ(b.Next(), absl::Milliseconds(100));
}

// Verifies jitter stays within ±jitter of the base delay and never exceeds max.
TEST(BackoffTest, JitterStaysInBounds) {
  absl::BitGen rng;
  for (int trial = 0; trial < 200; ++trial) {
    Backoff b({.initial = absl::Seconds(1), .max = absl::Seconds(3), .jitter = 0.5}, rng);
    absl::Duration first = b.Next();
    EXPECT_GE(first, absl::Milliseconds(500));
    EXPECT_LE(first, absl::Milliseconds(1500));
    b.Next();
    EXPECT_LE(b.Next(), absl::Seconds(3));
  }
}

// Verifies the token bucket lets a burst through at once, then paces at qps.
TEST(RateLimiterTest, BurstThenPaced) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, /*qps=*/10, /*burst=*/3);
  EXPECT_EQ(limiter.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(), absl::Milliseconds(100));
  EXPECT_EQ(limiter.Reserve(), absl::Milliseconds(200));
  clock.Advance(absl::Seconds(10));  // refills, but only up to the burst
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Reserve(), absl::ZeroDuration());
  EXPECT_GT(limiter.Reserve(), absl::ZeroDuration());
}

// Verifies Acquire sleeps on the injected clock, and a non-positive qps disables the limit.
TEST(RateLimiterTest, AcquireSleepsOnClockAndZeroQpsIsUnlimited) {
  testing::FakeClock clock;
  clock.set_auto_advance(true);
  StopSignal stop;
  RateLimiter limiter(clock, 2, 1);
  absl::Time start = clock.Now();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Acquire(stop));
  EXPECT_EQ(clock.Now() - start, absl::Seconds(2));
  RateLimiter unlimited(clock, 0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(unlimited.Reserve(), absl::ZeroDuration());
}

// Verifies ReserveWithin takes a token only when its wait fits, leaving the bucket as it was otherwise.
TEST(RateLimiterTest, ReserveWithinGivesUpWithoutTakingAToken) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, /*qps=*/1, /*burst=*/1);
  EXPECT_EQ(limiter.ReserveWithin(absl::ZeroDuration()), absl::ZeroDuration());
  EXPECT_EQ(limiter.ReserveWithin(absl::Milliseconds(500)), std::nullopt);
  EXPECT_EQ(limiter.ReserveWithin(absl::Milliseconds(500)), std::nullopt);
  EXPECT_EQ(limiter.ReserveWithin(absl::Seconds(1)), absl::Seconds(1));  // the refusals took nothing
  EXPECT_EQ(limiter.Reserve(), absl::Seconds(2));
}

}  // namespace
}  // namespace spotguard
