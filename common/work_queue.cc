#include "common/work_queue.h"

#include <algorithm>

namespace spotguard {

WorkQueue::WorkQueue(Clock& clock, int threads, std::string name)
    : clock_(clock), name_(std::move(name)), now_(clock.Now()) {
  for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { Work(); });
  timer_ = std::thread([this] { Time(); });
}

WorkQueue::~WorkQueue() { Stop(); }

void WorkQueue::Post(std::function<void()> job) { PostAt(absl::InfinitePast(), std::move(job)); }

void WorkQueue::PostAt(absl::Time at, std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  // Due now if the clock says so, even before the timer has looked.
  if (at != absl::InfinitePast() && at <= clock_.Now()) at = absl::InfinitePast();
  jobs_.emplace(std::pair{at, seq_++}, std::move(job));
}

void WorkQueue::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    jobs_.clear();
  }
  stop_.Stop();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  if (timer_.joinable()) timer_.join();
  absl::MutexLock lock(&mu_);
  workers_.clear();
}

size_t WorkQueue::pending() const {
  absl::MutexLock lock(&mu_);
  return jobs_.size() + running_;
}

bool WorkQueue::WaitIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_ == 0 && (jobs_.empty() || jobs_.begin()->first.first > clock_.Now());
  };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

void WorkQueue::Work() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (!jobs_.empty() && jobs_.begin()->first.first <= now_);
      };
      mu_.Await(absl::Condition(&due));
      if (stopping_) return;
      job = std::move(jobs_.begin()->second);
      jobs_.erase(jobs_.begin());
      ++running_;
    }
    job();
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

void WorkQueue::Time() {
  while (true) {
    absl::Time next;
    {
      absl::MutexLock lock(&mu_);
      now_ = clock_.Now();
      auto future = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        for (const auto& [when, job] : jobs_) {
          if (when.first > now_) return true;
        }
        return false;
      };
      // Nothing to wait for on the clock: sleep on the queue instead (a fake clock in
      // auto-advance mode would otherwise be pushed forward by an idle timer).
      auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || future(); };
      mu_.Await(absl::Condition(&woken));
      if (stopping_) return;
      next = now_ + absl::Seconds(1);
      for (const auto& [when, job] : jobs_) {
        if (when.first > now_) {
          next = std::min(next, when.first);
          break;
        }
      }
    }
    if (!clock_.SleepUntil(next, stop_)) return;
  }
}

}  // namespace spotguard
