#include "common/clock.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"

namespace spotguard {
namespace {

// Verifies a sleeper on the fake clock wakes exactly when time reaches its deadline.
TEST(FakeClockTest, SleeperWakesWhenAdvancedPastDeadline) {
  testing::FakeClock clock;
  StopSignal stop;
  std::atomic<bool> woke{false};
  std::thread t([&] {
    EXPECT_TRUE(clock.SleepFor(absl::Seconds(5), stop));
    woke = true;
  });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  clock.Advance(absl::Seconds(4));
  EXPECT_EQ(clock.sleepers(), 1);  // still asleep: 4 s < 5 s
  EXPECT_FALSE(woke);
  clock.Advance(absl::Seconds(1));
  t.join();
  EXPECT_TRUE(woke);
}

// Verifies Stop() interrupts sleeps on both clocks at once.
TEST(StopSignalTest, StopInterruptsSleeps) {
  testing::FakeClock fake;
  StopSignal stop;
  std::thread fake_sleeper([&] { EXPECT_FALSE(fake.SleepFor(absl::Hours(1), stop)); });
  std::thread real_sleeper([&] { EXPECT_FALSE(RealClock::Get().SleepFor(absl::Hours(1), stop)); });
  ASSERT_TRUE(fake.WaitForSleepers(1));
  stop.Stop();
  fake_sleeper.join();
  real_sleeper.join();
  EXPECT_TRUE(stop.stopped());
  // Once stopped, sleeps return at once.
  EXPECT_FALSE(fake.SleepFor(absl::Seconds(1), stop));
}

// Verifies auto-advance mode records sleeps and moves time without blocking.
TEST(FakeClockTest, AutoAdvanceRecordsSleeps) {
  testing::FakeClock clock;
  clock.set_auto_advance(true);
  absl::Time start = clock.Now();
  clock.SleepFor(absl::Seconds(2));
  clock.SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(clock.Now() - start, absl::Milliseconds(2500));
  EXPECT_EQ(clock.sleeps(), (std::vector<absl::Duration>{absl::Seconds(2), absl::Milliseconds(500)}));
}

}  // namespace
}  // namespace spotguard
