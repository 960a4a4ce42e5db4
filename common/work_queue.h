// WorkQueue: a fixed pool of threads running jobs now or at a time on a Clock — the one place
// spotguard's daemons get threads for work that comes in bursts (a notice storm), so the
// number of threads never grows with the work.
//
// Post() runs a job as soon as a thread is free; PostAt() not before `at` (a timer thread
// wakes at least once a second, and whenever the clock is advanced, to move due jobs on).
// Jobs run in the order they became due. Stop() drops what has not started and joins.
//
// Example:
//   WorkQueue q(clock, /*threads=*/4, "decommission");
//   q.PostAt(clock.Now() + absl::Minutes(10), [] { Decommission(); });
//
// Thread-safety: every method may be called from any thread, jobs included.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace spotguard {

class WorkQueue {
 public:
  WorkQueue(Clock& clock, int threads, std::string name);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> job);
  void PostAt(absl::Time at, std::function<void()> job);
  // Drops the jobs not yet started, waits for the running ones, joins. Idempotent.
  void Stop();

  // Jobs waiting (due or not) and running.
  size_t pending() const;
  int threads() const { return static_cast<int>(workers_.size()); }
  // Blocks (real time, bounded) until nothing is due or running; jobs due later do not count.
  bool WaitIdle(absl::Duration timeout) const;

 private:
  void Work();
  void Time();

  Clock& clock_;
  const std::string name_;
  StopSignal stop_;
  mutable absl::Mutex mu_;
  // Due time, then order of posting.
  absl::btree_map<std::pair<absl::Time, uint64_t>, std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time now_ ABSL_GUARDED_BY(mu_);  // the timer's view of the clock: jobs due by it run
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
  std::thread timer_;
};

}  // namespace spotguard
