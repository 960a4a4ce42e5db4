#include "extender/cluster_state.h"

#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/kube/watch.h"
#include "common/log.h"

namespace spotguard::extender {
namespace {


risk::Domains DomainsOf(const kube::NodeFacts& f) { return {f.pool, f.zone, f.instance_type}; }

}  // namespace

ClusterState::ClusterState(ClusterStateOptions options, Clock& clock, kube::KubeClient& kube, ExtenderMetrics& metrics)
    : options_(std::move(options)),
      clock_(clock),
      kube_(kube),
      metrics_(metrics),
      risk_({.risk = options_.risk,
             .configmap_namespace = options_.configmap_namespace,
             .configmap_name = options_.configmap_name},
            clock, kube) {}

bool ClusterState::Synced() const {
  absl::MutexLock lock(&mu_);
  return nodes_synced_ && pods_synced_;
}

std::shared_ptr<const risk::Snapshot> ClusterState::snapshot() const {
  return publisher_.Current();
}

risk::RiskModel ClusterState::Model() const {
  return risk_.Model();
}

int ClusterState::IdLocked(absl::flat_hash_map<std::string, int>& ids, const std::string& key) {
  auto [it, inserted] = ids.emplace(key, static_cast<int>(ids.size()));
  return it->second;
}

// --- Nodes -----------------------------------------------------------------------------------

bool ClusterState::UpsertNodeLocked(const Json& node, Changes* ch) {
  NodeEntry e;
  e.facts = kube::FactsOf(node);
  e.rebalance = kube::StringAt(node, {"metadata", "labels", notice::kRebalanceLabel}) == "true";
  std::vector<NoticeProblem> problems;
  std::vector<NoticeRecord> notices = NoticesFromNode(node, &problems);
  for (const NoticeRecord& n : notices) e.annotated.emplace_back(n.id, n.detected_at);
  std::sort(e.annotated.begin(), e.annotated.end());
  for (const NoticeProblem& p : problems) e.problems.push_back(p.message);
  std::sort(e.problems.begin(), e.problems.end());
  auto old = nodes_.find(e.facts.name);
  if (old != nodes_.end() && old->second == e) return false;
  for (const NoticeProblem& p : problems) {
    if (old != nodes_.end() && std::binary_search(old->second.problems.begin(), old->second.problems.end(), p.message)) {
      continue;  // refused already
    }
    metrics_.RecordNoticeRefused(p.reason, "watch");
    log::Warn("refusing an invalid notice on the node", {{"node", e.facts.name}, {"reason", p.reason}, {"error", p.message}});
    ch->refused.emplace_back(e.facts.name, p);
  }
  if (old != nodes_.end()) {
    // Notices the agent no longer lists on the node are withdrawn (the durable channel).
    for (const auto& [id, detected_at] : old->second.annotated) {
      bool listed = std::any_of(e.annotated.begin(), e.annotated.end(), [&](const auto& a) { return a.first == id; });
      if (listed) continue;
      if (auto w = registry_.Withdraw(e.facts.name, id, clock_.Now()); w.has_value()) {
        log::Info("notice withdrawn", {{"node", w->node}, {"notice_id", w->id}, {"channel", "watch"}});
        ch->withdrawn.push_back(std::move(*w));
      }
    }
  }
  IdLocked(pool_ids_, e.facts.pool);
  IdLocked(zone_ids_, e.facts.zone);
  const std::string name = e.facts.name;
  nodes_[name] = std::move(e);
  for (NoticeRecord& n : notices) ReportLocked(std::move(n), "watch", ch);
  // Eviction evidence heard over gRPC before the node was known counts now (once).
  for (const NoticeRecord* n : registry_.OnNode(name)) CountEvidenceLocked(*n);
  return true;
}

void ClusterState::ReplaceNodes(std::vector<Json> nodes) {
  Changes ch;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_set<std::string> present;
    for (const Json& n : nodes) {
      UpsertNodeLocked(n, &ch);
      present.insert(kube::StringAt(n, {"metadata", "name"}));
    }
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      if (present.contains(it->first)) {
        ++it;
      } else {
        registry_.ForgetNode(it->first);
        nodes_.erase(it++);
      }
    }
    nodes_synced_ = true;
    PublishNodesLocked();
    PublishAppsLocked();  // pods listed before their nodes count now
  }
  Dispatch(std::move(ch));
}

void ClusterState::ApplyNode(bool deleted, const Json& node) {
  Changes ch;
  {
    absl::MutexLock lock(&mu_);
    const std::string name = kube::StringAt(node, {"metadata", "name"});
    auto old = nodes_.find(name);
    const bool existed = old != nodes_.end();
    const std::string pool = existed ? old->second.facts.pool : "", zone = existed ? old->second.facts.zone : "";
    if (deleted) {
      // Its notices are over: the node is gone (as the notice said it would be).
      nodes_.erase(name);
      registry_.ForgetNode(name);
    } else if (!UpsertNodeLocked(node, &ch)) {
      return;  // a heartbeat or status change: nothing the scheduler sees
    }
    dirty_nodes_.insert(name);
    PublishDirtyNodesLocked();
    // Executors count where their node is: recount when a node comes, goes or moves domain
    // (not for a taint, label or annotation).
    auto now = nodes_.find(name);
    if (!existed || now == nodes_.end() || pool != now->second.facts.pool || zone != now->second.facts.zone) {
      PublishAppsLocked();
    }
  }
  Dispatch(std::move(ch));
}

// --- Notices ---------------------------------------------------------------------------------

void ClusterState::CountEvidenceLocked(const NoticeRecord& n) {
  if (n.kind != v1::NOTICE_KIND_EVICTION) return;
  auto node = nodes_.find(n.node);
  if (node == nodes_.end()) return;  // counted once the node is known
  // One occurrence is one piece of evidence, whichever channel brought it.
  const std::string id = absl::StrCat(n.Key(), "@", absl::ToUnixSeconds(n.detected_at));
  if (risk_.RecordEviction(id, DomainsOf(node->second.facts))) risk_stale_ = true;
}

bool ClusterState::ReportLocked(NoticeRecord n, absl::string_view channel, Changes* ch) {
  n.channel = std::string(channel);
  const std::string node = n.node, id = n.id;
  NoticeRegistry::Result r = registry_.Report(n, clock_.Now());
  switch (r.outcome) {
    case NoticeRegistry::Outcome::kDuplicate:
      return false;
    case NoticeRegistry::Outcome::kStale:
      metrics_.RecordNoticeRefused("stale", channel);
      log::Info("ignoring a notice already withdrawn", {{"node", node}, {"notice_id", id}, {"channel", channel}});
      return false;
    case NoticeRegistry::Outcome::kFull:
      metrics_.RecordNoticeRefused("full", channel);
      log::Error("refusing a notice: too many active notices", {{"node", node}, {"notice_id", id}});
      return false;
    case NoticeRegistry::Outcome::kChanged:
      log::Info("notice changed", {{"node", node}, {"notice_id", id}, {"channel", channel},
                                   {"not_before", n.not_before}, {"action", notice::ActionName(n.action)}});
      break;
    case NoticeRegistry::Outcome::kNew:
      metrics_.RecordNoticeReceived(notice::CloudName(n.cloud), notice::KindName(n.kind), channel);
      log::Info("notice received", {{"node", node}, {"notice_id", id}, {"kind", notice::KindName(n.kind)},
                                    {"cloud", notice::CloudName(n.cloud)}, {"channel", channel},
                                    {"not_before", n.not_before}});
      if (r.replaced.has_value()) ch->withdrawn.push_back(std::move(*r.replaced));
      break;
  }
  const NoticeRecord& stored = *registry_.Find(n.Key());
  CountEvidenceLocked(stored);
  if (stored.Dooms()) ch->doomed.push_back(stored);
  return true;
}

bool ClusterState::ReportNotice(NoticeRecord notice, absl::string_view channel) {
  Changes ch;
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    const std::string node = notice.node;
    changed = ReportLocked(std::move(notice), channel, &ch);
    if (changed) dirty_nodes_.insert(node);
  }
  if (changed) PublishDirtyNodes();
  Dispatch(std::move(ch));
  return changed;
}

bool ClusterState::WithdrawNotice(const std::string& node, const std::string& id) {
  std::optional<NoticeRecord> w;
  {
    absl::MutexLock lock(&mu_);
    w = registry_.Withdraw(node, id, clock_.Now());
    if (w.has_value()) dirty_nodes_.insert(node);
  }
  if (!w.has_value()) return false;
  log::Info("notice withdrawn", {{"node", node}, {"notice_id", id}, {"channel", "grpc"}});
  PublishDirtyNodes();
  Changes ch;
  ch.withdrawn.push_back(std::move(*w));
  Dispatch(std::move(ch));
  return true;
}

bool ClusterState::NoticeActive(const NoticeRecord& notice) const {
  absl::MutexLock lock(&mu_);
  return registry_.Active(notice);
}

std::vector<NoticeRecord> ClusterState::DoomingNotices() const {
  absl::MutexLock lock(&mu_);
  std::vector<NoticeRecord> out;
  for (const auto& [key, n] : registry_.active()) {
    if (n.Dooms()) out.push_back(n);
  }
  return out;
}

void ClusterState::Dispatch(Changes ch) {
  {
    absl::MutexLock lock(&mu_);
    if (nodes_synced_ && pods_synced_ && !announced_sync_) {
      announced_sync_ = true;
      log::Info("watches synced", {{"nodes", nodes_.size()}, {"spark_pods", pods_.size()}});
    }
    if (!(nodes_synced_ && pods_synced_)) {
      // Decommissioning needs the pods: hold the notices until both lists are in.
      for (auto& n : ch.doomed) held_.push_back(std::move(n));
      ch.doomed.clear();
      ch.landed.clear();  // the held notices' decommission finds the pods
    } else if (!held_.empty()) {
      for (auto& n : held_) {
        if (registry_.Active(n)) ch.doomed.insert(ch.doomed.begin(), std::move(n));
      }
      held_.clear();
    }
    metrics_.SetStateSize("notices_active", registry_.active().size());
    metrics_.SetStateSize("notices_withdrawn", registry_.withdrawn_size());
  }
  for (const auto& [node, problem] : ch.refused) {
    absl::Status s = kube::CreateEvent(kube_,
                                       {.object = {.kind = "Node", .name = node},
                                        .type = "Warning",
                                        .reason = "NoticeRefused",
                                        .message = absl::StrCat("spotguard refused a notice on this node (", problem.reason,
                                                                "): ", problem.message),
                                        .component = "spotguard-extender"},
                                       clock_.Now());
    if (!s.ok()) log::Warn("could not create Event", {{"node", node}, {"reason", "NoticeRefused"}, {"error", s}});
  }
  if (on_withdrawn_) {
    for (const NoticeRecord& n : ch.withdrawn) on_withdrawn_(n);
  }
  if (on_doomed_) {
    for (const NoticeRecord& n : ch.doomed) on_doomed_(n);
  }
  if (on_pod_landed_) {
    for (const NoticeRecord& n : ch.landed) on_pod_landed_(n);
  }
}

// --- Pods ------------------------------------------------------------------------------------

void ClusterState::ReplacePods(std::vector<Json> pods) {
  Changes ch;  // besides what this adds, Dispatch releases notices held until the pods were known
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, PodRef> before = std::move(pods_);
    pods_.clear();
    app_pods_.clear();
    for (const auto& [uid, p] : assumed_) IndexPodLocked(p);
    for (const Json& j : pods) {
      PodRef p = PodFrom(j);
      const PodRef* known = nullptr;
      if (auto a = assumed_.find(p.uid); a != assumed_.end()) {
        if (p.node.empty()) p.node = a->second.node;
        known = &a->second;
      } else if (auto b = before.find(p.uid); b != before.end()) {
        known = &b->second;
      }
      if (pods_synced_) LandedLocked(p, known, &ch);
      assumed_.erase(p.uid);
      IndexPodLocked(p);
      pods_[p.uid] = std::move(p);
    }
    pods_synced_ = true;
    ++pods_version_;
    PublishAppsLocked();
  }
  Dispatch(std::move(ch));
}

void ClusterState::ApplyPod(bool deleted, const Json& pod) {
  Changes ch;
  {
    absl::MutexLock lock(&mu_);
    PodRef p = PodFrom(pod);
    std::vector<std::string> changed = {AppOf(p)};
    auto old = pods_.find(p.uid);
    const PodRef* before = nullptr;
    if (old != pods_.end()) {
      changed.push_back(AppOf(old->second));
      before = &old->second;
    }
    auto assumed = assumed_.find(p.uid);
    if (assumed != assumed_.end()) {
      changed.push_back(AppOf(assumed->second));
      if (p.node.empty() && !deleted) p.node = assumed->second.node;  // bound by us, not yet seen bound
      if (before == nullptr) before = &assumed->second;
    }
    if (!deleted) LandedLocked(p, before, &ch);
    if (assumed != assumed_.end() && (!p.node.empty() || deleted)) assumed_.erase(assumed);
    if (deleted) {
      pods_.erase(p.uid);
    } else {
      IndexPodLocked(p);
      pods_[p.uid] = std::move(p);
    }
    ++pods_version_;
    PublishAppsLocked(changed);
  }
  if (!ch.landed.empty()) Dispatch(std::move(ch));
}

void ClusterState::LandedLocked(const PodRef& p, const PodRef* before, Changes* ch) const {
  if (p.node.empty() || p.terminating || p.finished) return;
  if (before != nullptr && before->node == p.node) return;
  for (const NoticeRecord* n : registry_.OnNode(p.node)) {
    if (!n->Dooms()) continue;
    const bool listed = std::any_of(ch->landed.begin(), ch->landed.end(),
                                    [&](const NoticeRecord& l) { return l.Key() == n->Key(); });
    if (!listed) ch->landed.push_back(*n);
  }
}

void ClusterState::AssumeBound(const PodRef& pod) {
  absl::MutexLock lock(&mu_);
  const PodRef* bound;
  if (auto it = pods_.find(pod.uid); it != pods_.end()) {
    if (!it->second.node.empty()) return;  // the watch was faster
    it->second.node = pod.node;
    bound = &it->second;
  } else if (!pod.labels.empty()) {
    if (assumed_.size() >= kMaxAssumed) {  // bounded: the watch normally catches up in ms
      assumed_.clear();
      PublishAppsLocked();
    }
    bound = &(assumed_[pod.uid] = pod);
    IndexPodLocked(*bound);
  } else {
    return;
  }
  metrics_.SetStateSize("assumed_pods", assumed_.size());
  ++pods_version_;
  PublishAppsLocked({AppOf(*bound)});
}

std::vector<PodRef> ClusterState::SparkPodsOn(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  std::vector<PodRef> out;
  for (const auto& [uid, p] : pods_) {
    if (p.node == node) out.push_back(p);
  }
  for (const auto& [uid, p] : assumed_) {
    if (p.node == node && !pods_.contains(uid)) out.push_back(p);
  }
  return out;
}

bool ClusterState::WaitForPods(const std::string& node, const std::function<bool(const std::vector<PodRef>&)>& pred,
                               absl::Time deadline, const StopSignal& stop) const {
  // Pod changes bump pods_version_; re-check on each. Stop wakes the wait at once; the
  // timeout only bounds how late the deadline (on `clock_`) is noticed.
  auto handle = stop.Subscribe([this] { absl::MutexLock lock(&mu_); });
  bool ok = false;
  while (!stop.stopped() && clock_.Now() < deadline) {
    if ((ok = pred(SparkPodsOn(node)))) break;
    absl::MutexLock lock(&mu_);
    int64_t seen = pods_version_;
    auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pods_version_ != seen || stop.stopped(); };
    mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Seconds(1));
  }
  stop.Unsubscribe(handle);
  return ok || pred(SparkPodsOn(node));
}

std::optional<kube::NodeFacts> ClusterState::Facts(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.facts;
}

// --- Publishing --------------------------------------------------------------------------------

void ClusterState::PublishDirtyNodes() {
  absl::MutexLock publishing(&publish_mu_);
  absl::MutexLock lock(&mu_);
  if (!dirty_nodes_.empty()) PublishDirtyNodesLocked();  // else a caller queued ahead published it
}

std::shared_ptr<const risk::NodeInfo> ClusterState::NodeInfoLocked(const std::string& name, const NodeEntry& e,
                                                                   absl::Time now) const {
  auto info = std::make_shared<risk::NodeInfo>();
  info->name = name;
  info->cloud = e.facts.cloud;
  info->pool = e.facts.pool;
  info->zone = e.facts.zone;
  info->instance_type = e.facts.instance_type;
  info->spot = e.facts.capacity_type == "spot";
  info->pool_id = pool_ids_.at(e.facts.pool);
  info->zone_id = zone_ids_.at(e.facts.zone);
  info->rebalance = e.rebalance;
  const NoticeRecord* doom = nullptr;
  for (const NoticeRecord* n : registry_.OnNode(name)) {
    if (n->Dooms() && doom == nullptr) doom = n;
    if (n->kind == v1::NOTICE_KIND_REBALANCE) info->rebalance = true;
  }
  if (doom != nullptr) {
    info->doomed = true;
    info->notice_id = doom->id;
    info->notice_kind = std::string(notice::KindName(doom->kind));
    info->not_before = doom->not_before;
    info->risk = 1.0;
  } else if (info->spot) {
    info->risk = risk_.Risk(DomainsOf(e.facts), info->rebalance, now);
  }
  return info;
}

void ClusterState::PublishNodesLocked() {
  const absl::Time now = clock_.Now();
  infos_.clear();
  for (const auto& [name, e] : nodes_) infos_[name] = NodeInfoLocked(name, e, now);
  dirty_nodes_.clear();
  risk_stale_ = false;
  PublishInfosLocked();
}

void ClusterState::PublishDirtyNodesLocked() {
  const absl::Time now = clock_.Now();
  for (const std::string& name : dirty_nodes_) {
    if (auto e = nodes_.find(name); e != nodes_.end()) {
      infos_[name] = NodeInfoLocked(name, e->second, now);
    } else {
      infos_.erase(name);
    }
  }
  dirty_nodes_.clear();
  PublishInfosLocked();
}

void ClusterState::PublishInfosLocked() {
  std::vector<std::shared_ptr<const risk::NodeInfo>> table;
  table.reserve(infos_.size());
  int spot = 0, on_demand = 0, doomed = 0;
  for (const auto& [name, info] : infos_) {
    (info->spot ? spot : on_demand)++;
    doomed += info->doomed;
    table.push_back(info);
  }
  metrics_.SetNodes(spot, on_demand, doomed);
  publisher_.PublishNodes(std::make_shared<const risk::NodeTable>(std::move(table)));
}

const std::string& ClusterState::AppOf(const PodRef& p) const {
  static const std::string* const kNone = new std::string();
  auto app = p.labels.find(options_.policy.app_label);
  return app == p.labels.end() ? *kNone : app->second;
}

void ClusterState::IndexPodLocked(const PodRef& p) {
  if (const std::string& app = AppOf(p); !app.empty()) app_pods_[app].insert(p.uid);
}

void ClusterState::CountPodLocked(const PodRef& p, absl::flat_hash_map<std::string, risk::AppSpread>& apps) const {
  if (p.terminating || p.finished || p.node.empty()) return;
  if (!options_.policy.executor_selector.Matches(p.labels)) return;
  const std::string& app = AppOf(p);
  auto node = nodes_.find(p.node);
  if (app.empty() || node == nodes_.end()) return;
  risk::AppSpread& s = apps[app];
  ++s.total;
  ++s.per_pool[pool_ids_.at(node->second.facts.pool)];
  ++s.per_zone[zone_ids_.at(node->second.facts.zone)];
}

void ClusterState::PublishAppsLocked() {
  absl::flat_hash_map<std::string, risk::AppSpread> apps;
  for (const auto& [uid, p] : pods_) CountPodLocked(p, apps);
  for (const auto& [uid, p] : assumed_) {
    if (!pods_.contains(uid)) CountPodLocked(p, apps);
  }
  auto table = std::make_shared<risk::AppTable>();
  for (auto& [app, s] : apps) table->emplace(app, std::make_shared<const risk::AppSpread>(std::move(s)));
  publisher_.PublishApps(std::move(table));
}

void ClusterState::PublishAppsLocked(const std::vector<std::string>& changed) {
  absl::flat_hash_map<std::string, risk::AppSpread> apps;
  absl::flat_hash_set<std::string> done;
  for (const std::string& app : changed) {
    if (app.empty() || !done.insert(app).second) continue;
    auto uids = app_pods_.find(app);
    if (uids == app_pods_.end()) continue;
    for (auto it = uids->second.begin(); it != uids->second.end();) {
      auto live = pods_.find(*it);
      const PodRef* p = live != pods_.end() ? &live->second : nullptr;
      if (p == nullptr) {
        auto a = assumed_.find(*it);
        p = a != assumed_.end() ? &a->second : nullptr;
      }
      if (p == nullptr || AppOf(*p) != app) {
        uids->second.erase(it++);  // gone, or now in another application
        continue;
      }
      CountPodLocked(*p, apps);
      ++it;
    }
    if (uids->second.empty()) app_pods_.erase(uids);
  }
  if (done.empty()) return;
  std::shared_ptr<const risk::Snapshot> current = snapshot();
  auto table = std::make_shared<risk::AppTable>(*current->apps);
  for (const std::string& app : done) {
    if (auto s = apps.find(app); s != apps.end()) {
      (*table)[app] = std::make_shared<const risk::AppSpread>(std::move(s->second));
    } else {
      table->erase(app);
    }
  }
  publisher_.PublishApps(std::move(table));
}

void ClusterState::Resync() {
  if (!Synced() || !on_doomed_) return;
  // The handler is idempotent per occurrence: this only restarts work that was lost.
  for (const NoticeRecord& n : DoomingNotices()) on_doomed_(n);
}

void ClusterState::Refresh() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  registry_.Prune(now);
  metrics_.SetStateSize("spark_pods", pods_.size());
  metrics_.SetStateSize("notices_withdrawn", registry_.withdrawn_size());
  if (last_refresh_ != absl::InfinitePast()) {
    const absl::Duration elapsed = now - last_refresh_;
    absl::flat_hash_set<std::string> doomed;
    for (const auto& [key, n] : registry_.active()) {
      if (n.Dooms()) doomed.insert(n.node);
    }
    for (const auto& [name, e] : nodes_) {
      if (e.facts.capacity_type == "spot" && !doomed.contains(name)) risk_.AddExposure(DomainsOf(e.facts), elapsed);
    }
  }
  last_refresh_ = now;
  for (const auto& [kind, domain, rate] : risk_.Rates(now)) metrics_.SetEvictionRate(kind, domain, rate);
  PublishNodesLocked();
}

// --- Persistence ------------------------------------------------------------------------------

void ClusterState::LoadPersisted() { risk_.Load(); }

absl::Status ClusterState::Persist() { return risk_.Persist(); }

void ClusterState::Run(const StopSignal& stop) {
  LoadPersisted();
  kube::Reflector nodes(kube_, {.path = "/api/v1/nodes"},
                        {.replace = [this](std::vector<Json> items) { ReplaceNodes(std::move(items)); },
                         .apply = [this](kube::WatchEvent::Type t, const Json& n) {
                           ApplyNode(t == kube::WatchEvent::Type::kDeleted, n);
                         }});
  kube::Reflector pods(kube_, {.path = "/api/v1/pods", .label_selector = options_.spark_pod_selector},
                       {.replace = [this](std::vector<Json> items) { ReplacePods(std::move(items)); },
                        .apply = [this](kube::WatchEvent::Type t, const Json& p) {
                          ApplyPod(t == kube::WatchEvent::Type::kDeleted, p);
                        }});
  std::thread node_thread([&] { nodes.Run(stop); });
  std::thread pod_thread([&] { pods.Run(stop); });
  absl::Time last_persist = clock_.Now(), last_refresh = clock_.Now();
  Refresh();
  // Each second: new eviction evidence into every node's risk. Each `refresh`: exposure too.
  while (clock_.SleepFor(std::min(options_.refresh, absl::Seconds(1)), stop)) {
    if (clock_.Now() - last_refresh < options_.refresh) {
      absl::MutexLock lock(&mu_);
      if (risk_stale_) PublishNodesLocked();
      continue;
    }
    last_refresh = clock_.Now();
    Refresh();
    Resync();
    if (clock_.Now() - last_persist >= options_.persist_every) {
      if (absl::Status s = Persist(); !s.ok()) log::Warn("cannot persist the risk history", {{"error", s}});
      last_persist = clock_.Now();
    }
  }
  if (absl::Status s = Persist(); !s.ok()) log::Warn("cannot persist the risk history at shutdown", {{"error", s}});
  node_thread.join();
  pod_thread.join();
}

}  // namespace spotguard::extender
