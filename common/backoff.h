// Exponential backoff with jitter, and a token-bucket rate limit, both on an injected Clock.
//
// Example:
//   Backoff backoff({.initial = absl::Milliseconds(100), .max = absl::Seconds(5)}, bitgen);
//   backoff.Next();   // ~100ms ± jitter
//   backoff.Next();   // ~200ms ± jitter
//   backoff.Reset();  // after a success
#pragma once

#include <optional>

#include "absl/random/bit_gen_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace spotguard {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(30);
  double multiplier = 2.0;
  // Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter], then capped at max.
  double jitter = 0.2;
};

// Not thread-safe; one per retry loop.
class Backoff {
 public:
  Backoff(BackoffPolicy policy, absl::BitGenRef rng) : policy_(policy), rng_(rng) {}

  // The delay before the next attempt; grows geometrically up to policy.max.
  absl::Duration Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  absl::BitGenRef rng_;
  int attempt_ = 0;
};

// Token bucket: `qps` tokens per second, at most `burst` saved up. Thread-safe.
// qps <= 0 disables the limit.
class RateLimiter {
 public:
  RateLimiter(Clock& clock, double qps, int burst);

  // Takes one token, sleeping on the clock until one is available. Returns false if
  // `stop` fired first.
  bool Acquire(const StopSignal& stop);
  // Takes one token and returns how long the caller must wait before using it.
  absl::Duration Reserve();
  // Reserve, if the wait would be at most `max_wait`; otherwise takes nothing and returns
  // nullopt (the caller gives up instead of queueing).
  std::optional<absl::Duration> ReserveWithin(absl::Duration max_wait);

 private:
  Clock& clock_;
  const double qps_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard
