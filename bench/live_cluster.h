// Helpers for the benchmarks that drive the real control plane (bench/scheduler_throughput.cc,
// bench/eviction_storm.cc): a realistic node mix, a parallel loop for setting clusters up, and
// a watch that timestamps when each object first reaches a state.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/kube/resources.h"
#include "common/kube/watch.h"
#include "test/e2e/controlplane.h"

namespace spotguard::bench {

// Node i of a cluster: AKS and EKS, spot and on-demand, four pools, three zones.
inline e2e::NodeSpec Spec(int i, const std::string& prefix = "bench-node-") {
  static const e2e::NodeKind kinds[] = {e2e::NodeKind::kAksSpot, e2e::NodeKind::kEksSpot, e2e::NodeKind::kAksSpot,
                                        e2e::NodeKind::kEksSpot, e2e::NodeKind::kAksOnDemand};
  return {.name = absl::StrCat(prefix, i), .kind = kinds[i % 5], .zone = absl::StrCat("zone-", i % 3),
          .pool = absl::StrCat("pool", i % 4)};
}

// Runs fn(0..n-1) on `threads` threads; the first error.
inline absl::Status Parallel(int n, int threads, const std::function<absl::Status(int)>& fn) {
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        if (absl::Status s = fn(i); !s.ok()) {
          absl::MutexLock lock(&mu);
          if (first.ok()) first = s;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return first;
}

// Records when a watch first sees each object of a collection (e.g. "/api/v1/nodes",
// "/api/v1/namespaces/x/pods") satisfy `reached`. Lists in pages and keeps one timestamp per
// object, so it stays cheap at thousands of objects (e2e::WaitForList re-checks its whole set
// on every event).
class ObjectWatch {
 public:
  ObjectWatch(kube::KubeClient& client, const std::string& collection, std::function<bool(const e2e::Json&)> reached)
      : reached_(std::move(reached)),
        reflector_(client, {.path = collection},
                   {.replace = [this](std::vector<e2e::Json> items) { for (auto& p : items) Observe(p); },
                    .apply = [this](kube::WatchEvent::Type, const e2e::Json& p) { Observe(p); }}),
        thread_([this] { reflector_.Run(stop_); }) {}
  ~ObjectWatch() {
    stop_.Stop();
    thread_.join();
  }
  // Waits until `n` objects (of those `counts` accepts, by name) have reached the state;
  // when each did.
  absl::StatusOr<std::vector<absl::Time>> WaitFor(size_t n, absl::Duration timeout,
                                                  const std::function<bool(const std::string&)>& counts = nullptr) {
    absl::MutexLock lock(&mu_);
    std::vector<absl::Time> times;
    auto done = [&] {
      times.clear();
      for (const auto& [name, t] : reached_at_) {
        if (!counts || counts(name)) times.push_back(t);
      }
      return times.size() >= n;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(times.size(), " of ", n, " objects got there"));
    }
    return times;
  }

  // When the object first reached the state, if it did.
  std::optional<absl::Time> When(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto it = reached_at_.find(name);
    if (it == reached_at_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void Observe(const e2e::Json& p) {
    if (!reached_(p)) return;
    absl::MutexLock lock(&mu_);
    reached_at_.emplace(kube::StringAt(p, {"metadata", "name"}), absl::Now());
  }
  std::function<bool(const e2e::Json&)> reached_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> reached_at_ ABSL_GUARDED_BY(mu_);
  StopSignal stop_;
  kube::Reflector reflector_;
  std::thread thread_;
};

}  // namespace spotguard::bench
