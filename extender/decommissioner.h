// The Decommissioner gets a doomed node's Spark executors off it inside the notice window.
//
// For a notice on node N, once per occurrence (node, id, detectedAt), `lead` before its
// deadline (at once for a notice shorter than that; a far-ahead one waits, and moves with
// its deadline), for every executor pod on N that is not already terminating, in parallel:
//   1. claim it: label spotguard.io/decommissioning=true and annotate
//      spotguard.io/decommission-claim="<notice> <replica> <time>" in one patch guarded by
//      the pod's resourceVersion — of two replicas acting on the same notice, one wins;
//   2. evict it (policy/v1 Eviction) with gracePeriodSeconds =
//      clamp(notBefore − now − margin, min_grace, max_grace): the kubelet runs Spark's preStop
//      /opt/decom.sh, the executor migrates its blocks and exits;
//   3. a PodDisruptionBudget (429) is retried with backoff; when the deadline is near, the pod
//      is deleted with the same grace instead; 404 means gone (done);
//   4. an Event SparkExecutorDecommission on the pod (DecommissionFailed if all else fails).
// A withdrawn notice stops whatever is still waiting or retrying. Once no executor is left on
// N, the node is annotated spotguard.io/decommissioned=<notice id> (the agent may then approve
// an Azure event early). An executor that reaches N afterwards (the pod watch is behind the
// node watch) is decommissioned the same way. Pods already terminating are never touched
// again: a restarted extender that re-reads the node's annotation resumes without evicting twice.
//
// Threads: a fixed pool runs the notices (`workers`), another the pod evictions
// (`parallelism`), whatever the number of notices.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/kube/client.h"
#include "common/work_queue.h"
#include "extender/cluster_state.h"
#include "extender/metrics.h"

namespace spotguard::extender {

struct DecommissionerOptions {
  absl::Duration margin = absl::Seconds(5);  // AWS guidance: leave ~5 s before the VM goes
  absl::Duration min_grace = absl::Seconds(2);
  absl::Duration max_grace = absl::Minutes(10);
  absl::Duration delete_fallback = absl::Seconds(10);  // switch from evict to delete this long before notBefore
  // Notices without a notBefore are treated as due this long after first sight.
  absl::Duration unknown_deadline = absl::Seconds(30);
  risk::LabelSelector executor_selector = *risk::LabelSelector::Parse("spark-role=executor");
  // Decommission this long before the deadline; zero: max_grace + margin (an executor gets
  // all the grace it may have).
  absl::Duration lead = absl::ZeroDuration();
  bool drain_all = false;  // also evict every other pod on the node (not DaemonSets, not mirror pods)
  bool dry_run = false;
  int workers = 4;         // notices decommissioned at once
  int parallelism = 32;    // evictions in flight, all notices together
  std::string identity;    // this replica (pod name), written into claims
  absl::Duration stale_claim = absl::Seconds(15);  // another replica's claim this old is taken over
  BackoffPolicy retry{.initial = absl::Milliseconds(250), .max = absl::Seconds(3)};
};

// The grace period for an eviction `now`, as the header describes.
int64_t GraceSeconds(const NoticeRecord& notice, absl::Time now, const DecommissionerOptions& options);
// When decommissioning starts for `notice`: its deadline − the lead.
absl::Time StartTime(const NoticeRecord& notice, const DecommissionerOptions& options);

class Decommissioner {
 public:
  Decommissioner(DecommissionerOptions options, Clock& clock, kube::KubeClient& kube, ClusterState& state,
                 ExtenderMetrics& metrics);
  ~Decommissioner();

  // Schedules decommissioning for an active notice (ClusterState::NoticeActive) at
  // StartTime(); returns at once. Again for the same occurrence: moves a start that has not
  // happened to the new deadline, else nothing. A later occurrence replaces an earlier one.
  void Start(const NoticeRecord& notice);
  // An executor reached the notice's node after its decommission ran (ClusterState::OnPodLanded):
  // runs the occurrence again, for the pods not yet on their way out. Nothing for an occurrence
  // not started yet (its run will find the pod) or withdrawn.
  void Revisit(const NoticeRecord& notice);
  // Stops pending work for a withdrawn notice.
  void Cancel(const NoticeRecord& notice);
  // Stops everything and joins. Idempotent.
  void Stop();
  // Blocks (real time, bounded) until no decommission is due, running, or waiting for its
  // node to empty. For tests and benchmarks.
  bool WaitIdle(absl::Duration timeout) const;

  struct PodOutcome {
    std::string pod;         // namespace/name
    std::string result;      // evicted | deleted | gone | claimed_elsewhere | failed | cancelled | dry_run
    int64_t grace_seconds = -1;
  };
  // The outcome per pod for a notice (by NoticeRecord::Key()), once its evictions are sent
  // and announced (the Events follow the last eviction).
  std::vector<PodOutcome> Outcomes(const std::string& key) const;
  // Blocks (real time, bounded) until the notice's evictions are sent and announced.
  bool WaitForOutcomes(const std::string& key, absl::Duration timeout) const;
  // Notices known (scheduled, running, waiting or done), for the state-size gauge.
  size_t tasks() const;

 private:
  struct Task {
    NoticeRecord notice;
    enum State { kScheduled, kRunning, kEmptying, kDone } state = kScheduled;
    uint64_t generation = 0;  // a rescheduled start leaves the old job a stale generation
    bool again = false;       // Revisit while running: run once more when this run ends
    std::shared_ptr<StopSignal> stop = std::make_shared<StopSignal>();
    absl::Time forget_after = absl::InfiniteFuture();
  };

  void Begin(const std::string& key, uint64_t generation);
  void Run(const NoticeRecord& notice, const StopSignal& stop);
  // Marks the node once no executor is left; re-checks every second until `until`.
  void CheckEmpty(const std::string& key, uint64_t generation, absl::Time until);
  // Schedules Begin now for the task under a new generation (after UnmarkNode when `unmark`).
  void RestartLocked(const std::string& key, Task& task, bool unmark) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PodOutcome DecommissionPod(const NoticeRecord& notice, const PodRef& pod, const StopSignal& stop);
  // The pod's claim for this notice: ours now, or another live replica's (until when), or
  // nobody's to take (gone, already terminating).
  struct ClaimResult {
    enum { kOurs, kTheirs, kTerminating, kGone } state;
    absl::Time theirs_until = absl::InfinitePast();
  };
  absl::StatusOr<ClaimResult> Claim(const NoticeRecord& notice, const PodRef& pod);
  std::vector<PodRef> Targets(const NoticeRecord& notice);
  void MarkNodeDone(const NoticeRecord& notice);
  void UnmarkNode(const NoticeRecord& notice);
  void PodEvent(const PodRef& pod, const char* type, const char* reason, const std::string& message);
  void ForgetDoneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const DecommissionerOptions options_;
  Clock& clock_;
  kube::KubeClient& kube_;
  ClusterState& state_;
  ExtenderMetrics& metrics_;
  StopSignal stop_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);  // by NoticeRecord::Key()
  absl::flat_hash_map<std::string, std::vector<PodOutcome>> outcomes_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Last: destroyed (joined) first, while what their jobs use still exists.
  WorkQueue evictions_;
  WorkQueue notices_;
};

}  // namespace spotguard::extender
