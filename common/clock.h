// Time for everything in spotguard that has a period, deadline, TTL, backoff or decay.
//
// Code takes a `Clock&` instead of calling absl::Now() or sleeping, so tests drive time with
// a FakeClock (test/fakes/fake_clock.h) and never sleep. Long-running loops take a
// `const StopSignal&` so that shutdown interrupts their sleeps at once.
//
// Example:
//   StopSignal stop;
//   while (clock.SleepFor(absl::Seconds(1), stop)) Poll();   // returns false once stopped
#pragma once

#include <functional>
#include <list>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace spotguard {

// A one-way latch: once Stop() is called, every sleep waiting on it returns early.
// Thread-safe.
class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  void Stop();
  bool stopped() const;

  // Blocks in real time until stopped or `deadline`; returns true if stopped.
  bool WaitUntil(absl::Time deadline) const;

  // Registers `fn` to run (once) when Stop() is called, or at once if already stopped.
  // Returns a handle for Unsubscribe. Used by clocks and connections that wait on their own
  // condition. `fn` must not call Subscribe or Unsubscribe.
  using Handle = std::list<std::function<void()>>::iterator;
  Handle Subscribe(std::function<void()> fn) const;
  // Removes the callback; if Stop() is running callbacks at that moment, waits for them to
  // finish, so once this returns the callback never runs (again) and what it captured may go.
  void Unsubscribe(Handle h) const;

 private:
  mutable absl::Mutex dispatch_mu_;  // held while Stop() runs callbacks
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  mutable std::list<std::function<void()>> subscribers_ ABSL_GUARDED_BY(mu_);
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks until Now() >= deadline or `stop` is stopped. Returns false if stopped first.
  virtual bool SleepUntil(absl::Time deadline, const StopSignal& stop) = 0;

  bool SleepFor(absl::Duration d, const StopSignal& stop) { return SleepUntil(Now() + d, stop); }
  // For code without a shutdown path of its own (one-shot retries in a request).
  bool SleepFor(absl::Duration d) { return SleepFor(d, never_stop_); }

 private:
  StopSignal never_stop_;
};

// Wall-clock time and real sleeps. Stateless; use the shared instance.
class RealClock final : public Clock {
 public:
  static RealClock& Get();
  absl::Time Now() const override { return absl::Now(); }
  bool SleepUntil(absl::Time deadline, const StopSignal& stop) override {
    return !stop.WaitUntil(deadline);
  }
};

}  // namespace spotguard
