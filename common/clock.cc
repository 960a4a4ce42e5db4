#include "common/clock.h"

namespace spotguard {

void StopSignal::Stop() {
  absl::MutexLock dispatch(&dispatch_mu_);
  std::list<std::function<void()>> to_run;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    to_run.swap(subscribers_);
  }
  for (auto& fn : to_run) fn();
}

bool StopSignal::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

bool StopSignal::WaitUntil(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&stopped_), deadline);
  return stopped_;
}

StopSignal::Handle StopSignal::Subscribe(std::function<void()> fn) const {
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) return subscribers_.insert(subscribers_.end(), std::move(fn));
  }
  fn();
  absl::MutexLock lock(&mu_);
  return subscribers_.end();
}

void StopSignal::Unsubscribe(Handle h) const {
  absl::MutexLock dispatch(&dispatch_mu_);  // a Stop() in progress finishes its callbacks first
  absl::MutexLock lock(&mu_);
  if (!stopped_ && h != subscribers_.end()) subscribers_.erase(h);
}

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace spotguard
