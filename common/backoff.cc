#include "common/backoff.h"

#include <algorithm>
#include <cmath>

#include "absl/random/distributions.h"

namespace spotguard {

absl::Duration Backoff::Next() {
  double scale = std::pow(policy_.multiplier, std::min(attempt_, 62));
  ++attempt_;
  absl::Duration base = std::min(policy_.initial * scale, policy_.max);
  if (policy_.jitter > 0) {
    base *= absl::Uniform(rng_, 1.0 - policy_.jitter, 1.0 + policy_.jitter);
  }
  return std::min(base, policy_.max);
}

RateLimiter::RateLimiter(Clock& clock, double qps, int burst)
    : clock_(clock), qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(clock.Now()) {}

absl::Duration RateLimiter::Reserve() { return *ReserveWithin(absl::InfiniteDuration()); }

std::optional<absl::Duration> RateLimiter::ReserveWithin(absl::Duration max_wait) {
  if (qps_ <= 0) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_.Now();
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
  const double left = tokens_ - 1;  // may go negative: later callers queue behind this one
  const absl::Duration wait = left >= 0 ? absl::ZeroDuration() : absl::Seconds(-left / qps_);
  if (wait > max_wait) return std::nullopt;
  tokens_ = left;
  return wait;
}

bool RateLimiter::Acquire(const StopSignal& stop) {
  absl::Duration wait = Reserve();
  if (wait <= absl::ZeroDuration()) return !stop.stopped();
  return clock_.SleepFor(wait, stop);
}

}  // namespace spotguard
