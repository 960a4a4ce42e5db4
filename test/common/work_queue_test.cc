#include "common/work_queue.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"

namespace spotguard {
namespace {

using testing::FakeClock;

// Verifies a posted job runs at once and a job posted for later waits for the clock.
TEST(WorkQueueTest, RunsNowAndAtTime) {
  FakeClock clock;
  WorkQueue q(clock, 2, "test");
  absl::Notification now, later;
  q.PostAt(clock.Now() + absl::Minutes(10), [&] { later.Notify(); });
  q.Post([&] { now.Notify(); });
  ASSERT_TRUE(now.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(q.WaitIdle(absl::Seconds(10)));
  EXPECT_FALSE(later.HasBeenNotified());
  EXPECT_EQ(q.pending(), 1u);
  clock.Advance(absl::Minutes(9));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_FALSE(later.HasBeenNotified());
  clock.Advance(absl::Minutes(1));
  EXPECT_TRUE(later.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

// Verifies jobs run in the order they fall due, on no more threads than configured.
TEST(WorkQueueTest, OrderAndBoundedThreads) {
  FakeClock clock;
  absl::Mutex mu;
  std::vector<int> order;
  std::atomic<int> running{0}, most{0};
  {
    WorkQueue q(clock, 3, "test");
    EXPECT_EQ(q.threads(), 3);
    for (int i = 0; i < 3; ++i) {
      q.PostAt(clock.Now() + absl::Seconds(30 - i * 10), [&, i] {
        absl::MutexLock lock(&mu);
        order.push_back(i);
      });
    }
    for (int i = 0; i < 50; ++i) {
      q.Post([&] {
        int r = ++running;
        int m = most.load();
        while (r > m && !most.compare_exchange_weak(m, r)) {
        }
        --running;
      });
    }
    ASSERT_TRUE(q.WaitIdle(absl::Seconds(10)));
    for (int i = 0; i < 3; ++i) {
      clock.Advance(absl::Seconds(10));
      ASSERT_TRUE(q.WaitIdle(absl::Seconds(10)));  // the job now due has run
    }
  }
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
}

// Verifies Stop drops jobs not yet due and later posts are ignored.
TEST(WorkQueueTest, StopDropsPending) {
  FakeClock clock;
  std::atomic<bool> ran{false};
  WorkQueue q(clock, 1, "test");
  q.PostAt(clock.Now() + absl::Hours(1), [&] { ran = true; });
  q.Stop();
  q.Post([&] { ran = true; });
  clock.Advance(absl::Hours(2));
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_FALSE(ran.load());
}

}  // namespace
}  // namespace spotguard
