// ClusterState: the extender's node and pod cache, kept in step with the API server, and the
// wiring of the parts that each do one job with what it sees:
//   - NoticeRegistry (notice_registry.h): which notices are active, new, changed or stale —
//     one occurrence heard on both channels is counted once and acted on once;
//   - RiskStore (risk_store.h): the eviction-risk model, fed by eviction notices and spot
//     node-hours of exposure, persisted in a ConfigMap so a restart keeps its history;
//   - risk::SnapshotPublisher (risk/snapshot.h): the immutable view /filter and /prioritize
//     read — node infos and application spread, rebuilt aside and swapped in.
//
// Sources of truth:
//   - a watch on nodes: facts (pool, zone, type, spot), the rebalance label, and the
//     spotguard.io/notice annotation the agent writes — the durable channel, so a notice
//     whose gRPC report was lost, or that arrived before a restart, is still acted on;
//   - a watch on Spark pods (label spark-role): executors per node, per application;
//   - ReportNotice/WithdrawNotice from the EvictionService — the fast channel.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/kube/client.h"
#include "common/kube/node_facts.h"
#include "extender/notice_registry.h"
#include "extender/records.h"
#include "extender/risk_store.h"
#include "extender/metrics.h"
#include "extender/risk/model.h"
#include "extender/risk/policy.h"
#include "extender/risk/snapshot.h"

namespace spotguard::extender {

using kube::Json;

struct ClusterStateOptions {
  risk::RiskParams risk;
  risk::PolicyConfig policy;                // selectors used to tell executors and apps apart
  std::string spark_pod_selector = "spark-role";
  absl::Duration refresh = absl::Seconds(30);  // risk recomputed, exposure accrued
  // Risk history persisted here (namespace empty: not persisted).
  std::string configmap_namespace;
  std::string configmap_name = "spotguard-risk";
  absl::Duration persist_every = absl::Minutes(1);
};

class ClusterState {
 public:
  using NoticeHandler = std::function<void(const NoticeRecord&)>;
  using WithdrawHandler = std::function<void(const NoticeRecord&)>;

  ClusterState(ClusterStateOptions options, Clock& clock, kube::KubeClient& kube, ExtenderMetrics& metrics);

  // Called (on the watch's or the gRPC thread) for each notice that dooms its node, once it
  // is new or changes (and again at each resync: the handler must be idempotent per
  // occurrence), only after both watches have synced. Set before Run().
  void OnDoomed(NoticeHandler handler) { on_doomed_ = std::move(handler); }
  void OnWithdrawn(WithdrawHandler handler) { on_withdrawn_ = std::move(handler); }
  // Called (on the watch's thread) with a node's dooming notice when a Spark pod that is not
  // on its way out reaches that node after the notice: the pod watch is a separate stream, so
  // an executor can arrive after the node's decommission ran. Set before Run().
  void OnPodLanded(NoticeHandler handler) { on_pod_landed_ = std::move(handler); }

  // Loads the persisted risk history, then watches until `stop`.
  void Run(const StopSignal& stop);

  // Both watches have delivered their first list.
  bool Synced() const;
  std::shared_ptr<const risk::Snapshot> snapshot() const;

  // A notice from either channel. Returns true when it is new or changed (NoticeRegistry).
  bool ReportNotice(NoticeRecord notice, absl::string_view channel);
  // Returns true if the notice was active.
  bool WithdrawNotice(const std::string& node, const std::string& notice_id);
  // True while this occurrence (node, id, detectedAt) is active.
  bool NoticeActive(const NoticeRecord& notice) const;
  // The active notices that doom their node.
  std::vector<NoticeRecord> DoomingNotices() const;

  // Records a binding the extender made itself, ahead of the watch (which confirms it). If
  // the watch has not delivered the pod yet, `labels` (from the scheduler's request) stand in.
  void AssumeBound(const PodRef& pod);

  // The Spark pods on `node`: watched, and bound by the extender but not yet watched (those
  // have no resourceVersion).
  std::vector<PodRef> SparkPodsOn(const std::string& node) const;
  // Blocks until `pred(SparkPodsOn(node))` holds, `deadline` passes or `stop` fires.
  bool WaitForPods(const std::string& node, const std::function<bool(const std::vector<PodRef>&)>& pred,
                   absl::Time deadline, const StopSignal& stop) const;
  std::optional<kube::NodeFacts> Facts(const std::string& node) const;

  // The risk model right now (a copy), for tests and the demo's summary.
  risk::RiskModel Model() const;
  // One refresh round (exposure, risk, metrics, old withdrawals forgotten); Run calls it
  // every `refresh`.
  void Refresh();
  // Hands every dooming notice to OnDoomed again, so work lost (a failed start, a restart of
  // the handler) is finished; Run calls it after each Refresh.
  void Resync();
  // Merge-and-write the risk history to its ConfigMap now; Run does it every persist_every.
  absl::Status Persist();
  // Merge the persisted risk history into the model; Run does it at start.
  void LoadPersisted();

  // Watch handlers, public for tests.
  void ReplaceNodes(std::vector<Json> nodes);
  void ApplyNode(bool deleted, const Json& node);
  void ReplacePods(std::vector<Json> pods);
  void ApplyPod(bool deleted, const Json& pod);

 private:
  struct NodeEntry {
    kube::NodeFacts facts;
    bool rebalance = false;
    // The notices the node's annotations list (id, detectedAt), sorted, and the messages of
    // the ones refused.
    std::vector<std::pair<std::string, absl::Time>> annotated;
    std::vector<std::string> problems;

    bool operator==(const NodeEntry&) const = default;
  };
  // What one update changed, handed on outside the lock (Dispatch).
  struct Changes {
    std::vector<NoticeRecord> doomed, withdrawn;
    std::vector<NoticeRecord> landed;  // a pod reached the notice's node after it (OnPodLanded)
    std::vector<std::pair<std::string, NoticeProblem>> refused;  // by node
  };

  // Returns whether anything the snapshot shows changed (heartbeats change nothing).
  bool UpsertNodeLocked(const Json& node, Changes* ch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns whether the notice is new or changed.
  bool ReportLocked(NoticeRecord notice, absl::string_view channel, Changes* ch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds an eviction notice's evidence to the risk model once its node is known; once per
  // occurrence.
  void CountEvidenceLocked(const NoticeRecord& n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every node's info recomputed (a sync, a refresh, new eviction evidence caught up).
  void PublishNodesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Only the infos of dirty_nodes_ recomputed; the others reused. A notice or a node update
  // changes one node: rebuilding all of them for each made a storm of N notices cost
  // O(N × nodes) (bench/RESULTS.md, "Eviction storm"). Risk from new eviction evidence
  // reaches the other nodes in the next full publish (risk_stale_, within a second).
  void PublishDirtyNodesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For callers that changed notices concurrently (gRPC reports): they add to dirty_nodes_
  // under mu_, then come here. One publish covers every change marked before it started;
  // each caller still returns only once a snapshot with its change is published.
  void PublishDirtyNodes() ABSL_LOCKS_EXCLUDED(mu_, publish_mu_);
  std::shared_ptr<const risk::NodeInfo> NodeInfoLocked(const std::string& name, const NodeEntry& e, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes infos_ as the snapshot's node table.
  void PublishInfosLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every application's executor spread, from all pods (a sync, a node change).
  void PublishAppsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Only `apps`' spread, from their pods in app_pods_ (one pod's change: O(its app's pods),
  // not O(all pods) — a bind storm is otherwise quadratic).
  void PublishAppsLocked(const std::vector<std::string>& apps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds `p` to its application's spread if it counts there: a live executor on a known node.
  void CountPodLocked(const PodRef& p, absl::flat_hash_map<std::string, risk::AppSpread>& apps) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The application `p` belongs to (its app label), or "" for none.
  const std::string& AppOf(const PodRef& p) const;
  // Records `p` in app_pods_ (it is in pods_ or assumed_ now).
  void IndexPodLocked(const PodRef& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the dooming notices of `p`'s node to ch->landed when `p` is live and newly there
  // (`before`: the pod as known until now, or null).
  void LandedLocked(const PodRef& p, const PodRef* before, Changes* ch) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int IdLocked(absl::flat_hash_map<std::string, int>& ids, const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands doomed and withdrawn notices to the handlers (doomed ones held until synced) and
  // posts a NoticeRefused Event for each refused one — outside the lock.
  void Dispatch(Changes ch);

  const ClusterStateOptions options_;
  Clock& clock_;
  kube::KubeClient& kube_;
  ExtenderMetrics& metrics_;
  NoticeHandler on_doomed_;
  NoticeHandler on_pod_landed_;
  WithdrawHandler on_withdrawn_;

  absl::Mutex publish_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // one PublishDirtyNodes rebuild at a time
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, NodeEntry> nodes_ ABSL_GUARDED_BY(mu_);
  NoticeRegistry registry_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, PodRef> pods_ ABSL_GUARDED_BY(mu_);          // by uid
  // Pods the extender bound before the watch delivered them, by uid (until it does); at most
  // kMaxAssumed.
  static constexpr size_t kMaxAssumed = 10000;
  absl::flat_hash_map<std::string, PodRef> assumed_ ABSL_GUARDED_BY(mu_);
  // Application → uids of its pods in pods_ or assumed_. May keep uids of pods that left or
  // changed application; PublishAppsLocked(apps) drops those as it meets them.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> app_pods_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> pool_ids_ ABSL_GUARDED_BY(mu_), zone_ids_ ABSL_GUARDED_BY(mu_);
  RiskStore risk_;
  absl::Time last_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool nodes_synced_ ABSL_GUARDED_BY(mu_) = false;
  bool pods_synced_ ABSL_GUARDED_BY(mu_) = false;
  bool announced_sync_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<NoticeRecord> held_ ABSL_GUARDED_BY(mu_);  // doomed before both watches synced
  int64_t pods_version_ ABSL_GUARDED_BY(mu_) = 0;
  // The published node infos, by name, and the nodes whose info is out of date.
  absl::flat_hash_map<std::string, std::shared_ptr<const risk::NodeInfo>> infos_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> dirty_nodes_ ABSL_GUARDED_BY(mu_);
  bool risk_stale_ ABSL_GUARDED_BY(mu_) = false;  // eviction evidence not yet in every node's risk
  risk::SnapshotPublisher publisher_;
};

}  // namespace spotguard::extender
