// A Clock whose time moves only when a test moves it.
//
// Two ways to use it:
//  - Single-threaded code that sleeps (backoff, rate limits): set_auto_advance(true) and
//    every SleepUntil jumps the clock to its deadline at once; sleeps() records them.
//  - A loop on another thread: leave auto-advance off; the loop blocks in SleepUntil until
//    the test calls Advance(). WaitForSleepers(n) blocks (in real time, bounded) until n
//    threads are asleep, so the test advances only once the loop is parked — no races,
//    no real sleeps.
//
// Example:
//   FakeClock clock;
//   std::thread t([&] { clock.SleepFor(absl::Seconds(5), stop); done = true; });
//   ASSERT_TRUE(clock.WaitForSleepers(1));
//   clock.Advance(absl::Seconds(5));   // t wakes
#pragma once

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace spotguard::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}

  absl::Time Now() const override;
  bool SleepUntil(absl::Time deadline, const StopSignal& stop) override;

  void Advance(absl::Duration d);
  void SetTime(absl::Time t);
  void set_auto_advance(bool on);

  // Blocks until at least `n` threads are inside SleepUntil, or `timeout` of real time
  // passes (then returns false so the test fails instead of hanging).
  bool WaitForSleepers(int n, absl::Duration timeout = absl::Seconds(10)) const;
  // Blocks until SleepUntil has been entered `n` times in all (each loop round sleeps
  // once), or `timeout` of real time passes.
  bool WaitForSleeps(size_t n, absl::Duration timeout = absl::Seconds(10)) const;
  int sleepers() const;
  // Durations slept so far, in order (auto-advance mode and blocking mode alike).
  std::vector<absl::Duration> sleeps() const;

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  bool auto_advance_ ABSL_GUARDED_BY(mu_) = false;
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
  int wakeups_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on Stop of any waiter's signal
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::testing
