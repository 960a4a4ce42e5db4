#include "test/fakes/fake_clock.h"

namespace spotguard::testing {

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool FakeClock::SleepUntil(absl::Time deadline, const StopSignal& stop) {
  auto handle = stop.Subscribe([this] {
    absl::MutexLock lock(&mu_);
    ++wakeups_;  // touching the mutex makes waiters re-check their condition
  });
  {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(deadline - now_);
    if (auto_advance_) {
      if (deadline > now_) now_ = deadline;
    } else {
      ++sleepers_;
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return now_ >= deadline || stop.stopped();
      };
      mu_.Await(absl::Condition(&ready));
      --sleepers_;
    }
  }
  stop.Unsubscribe(handle);
  return !stop.stopped();
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

void FakeClock::SetTime(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ = t;
}

void FakeClock::set_auto_advance(bool on) {
  absl::MutexLock lock(&mu_);
  auto_advance_ = on;
}

bool FakeClock::WaitForSleepers(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleepers_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

bool FakeClock::WaitForSleeps(size_t n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleeps_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

int FakeClock::sleepers() const {
  absl::MutexLock lock(&mu_);
  return sleepers_;
}

std::vector<absl::Duration> FakeClock::sleeps() const {
  absl::MutexLock lock(&mu_);
  return sleeps_;
}

}  // namespace spotguard::testing
