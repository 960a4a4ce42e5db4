// The Responder acts on what the Poller learns, on two channels at once:
//   - the node, through the API server: one guarded JSON patch makes the node match its
//     active notices (node_state.h: cordon, taint, labels, annotations), then an Event;
//     retried until it lands, however long the API server is away; on Resync() the node is
//     read afresh and put right again (a patch only if something drifted);
//   - the extender, over gRPC: ReportNotice / WithdrawNotice, retried with backoff until
//     acknowledged or past the deadline (the extender is idempotent by notice id).
// A slow or unreachable extender never delays the cordon, and vice versa.
//
// Thread-safety: OnNotice/OnWithdrawn may be called from any thread; the node is patched
// by one worker thread (changes coalesce), each report runs on a thread of its own.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/kube/client.h"
#include "common/kube/node_facts.h"
#include "node-agent/metrics.h"
#include "node-agent/node_state.h"
#include "node-agent/poller.h"
#include "node-agent/reporter.h"

namespace spotguard::agent {

struct ResponderOptions {
  std::string node_name;
  std::string taint_effect = "NoSchedule";
  bool dry_run = false;
  BackoffPolicy retry{.initial = absl::Milliseconds(200), .max = absl::Seconds(5)};
  // Reports keep trying at least this long after first sight, even past notBefore: the
  // extender's risk model still wants to know.
  absl::Duration min_report_window = absl::Minutes(5);
};

class Responder : public NoticeSink {
 public:
  // `reporter` may be null: no extender configured, reports are off (counted as "disabled").
  Responder(ResponderOptions options, Clock& clock, kube::KubeClient& kube, Reporter* reporter, AgentMetrics& metrics);
  ~Responder() override;

  // Adopts the state a previous run left on `node` (read at start-up) and starts the node
  // worker. Returns the notices already acted on, for the Poller's `known` set; they are
  // re-reported (the extender ignores repeats), not re-announced with Events.
  std::vector<Notice> Start(const Json& node);

  void OnNotice(const Notice& notice) override;
  void OnWithdrawn(const Notice& notice) override;
  // Reads the node afresh and makes it match the active notices again (the Agent calls it
  // every --resync_interval): drift is put right, and a patch lost in an outage is retried.
  void Resync();

  // Stops retries and joins every thread. Idempotent.
  void Stop();

  std::vector<Notice> active() const;
  const kube::NodeFacts& facts() const { return facts_; }
  // The node as the last successful read or patch left it.
  Json node() const;
  // Blocks (real time, bounded) until no node update or report is pending. For tests.
  bool WaitIdle(absl::Duration timeout) const;

 private:
  struct ReportTask {
    std::thread thread;
    std::shared_ptr<StopSignal> stop = std::make_shared<StopSignal>();
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };

  void NodeWorker();
  // One reconcile attempt; true when the node matches the active notices.
  bool ReconcileOnce();
  void PostEvents(const std::vector<Notice>& announced, const std::vector<Notice>& withdrawn);
  void StartReport(const Notice& notice, bool withdraw) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReapReports() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ResponderOptions options_;
  Clock& clock_;
  kube::KubeClient& kube_;
  Reporter* reporter_;
  AgentMetrics& metrics_;
  kube::NodeFacts facts_;
  StopSignal stop_;
  std::thread worker_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Notice> active_ ABSL_GUARDED_BY(mu_);
  std::vector<Notice> to_announce_ ABSL_GUARDED_BY(mu_);  // Events not yet posted
  std::vector<Notice> to_withdraw_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool working_ ABSL_GUARDED_BY(mu_) = false;
  bool resync_ ABSL_GUARDED_BY(mu_) = false;  // the next reconcile reads the node first
  Json node_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ReportTask> reports_ ABSL_GUARDED_BY(mu_);  // by notice id
  std::vector<ReportTask> finished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::agent
