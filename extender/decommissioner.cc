#include "extender/decommissioner.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kube/patch.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::extender {
namespace {

constexpr char kDecommissioningLabel[] = "spotguard.io/decommissioning";
constexpr char kClaimAnnotation[] = "spotguard.io/decommission-claim";
constexpr char kDecommissionedAnnotation[] = "spotguard.io/decommissioned";

// The notice's deadline; without notBefore, `unknown_deadline` after first sight (Start()
// makes sure the record has one).
absl::Time DeadlineOf(const NoticeRecord& n, const DecommissionerOptions& o) {
  if (n.not_before != absl::InfinitePast()) return n.not_before;
  return n.detected_at + o.unknown_deadline;
}

std::string PodPath(const PodRef& p) { return absl::StrCat("/api/v1/namespaces/", p.namespace_, "/pods/", p.name); }

// "<notice> <replica> <RFC 3339 time>"
struct ClaimInfo {
  std::string notice, replica;
  absl::Time at = absl::InfinitePast();
};
ClaimInfo ParseClaim(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ' ');
  ClaimInfo c;
  if (parts.size() != 3) return c;
  c.notice = parts[0];
  c.replica = parts[1];
  if (auto t = kube::ParseApiTime(parts[2]); t.ok()) c.at = *t;
  return c;
}

}  // namespace

int64_t GraceSeconds(const NoticeRecord& notice, absl::Time now, const DecommissionerOptions& o) {
  absl::Duration left = DeadlineOf(notice, o) - now - o.margin;
  absl::Duration grace = std::clamp(left, o.min_grace, o.max_grace);
  return absl::ToInt64Seconds(grace);
}

Decommissioner::Decommissioner(DecommissionerOptions options, Clock& clock, kube::KubeClient& kube, ClusterState& state,
                               ExtenderMetrics& metrics)
    : options_(std::move(options)), clock_(clock), kube_(kube), state_(state), metrics_(metrics) {}

Decommissioner::~Decommissioner() { Stop(); }

void Decommissioner::Start(const NoticeRecord& original) {
  NoticeRecord notice = original;
  if (notice.detected_at == absl::InfinitePast()) notice.detected_at = clock_.Now();
  const std::string key = notice.Key();
  absl::MutexLock lock(&mu_);
  if (stop_.stopped()) return;
  // A withdrawal can overtake the start (they arrive on different threads): honour it.
  if (cancelled_.contains(key)) return;
  // Reap finished tasks.
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (it->second.done->load()) {
      it->second.thread.join();
      tasks_.erase(it++);
    } else {
      ++it;
    }
  }
  if (tasks_.contains(key)) return;  // already at work on it
  Task task;
  auto stop = task.stop;
  auto done = task.done;
  task.thread = std::thread([this, notice, stop, done] {
    Run(notice, *stop);
    absl::MutexLock lock(&mu_);  // under the lock, so WaitIdle wakes
    *done = true;
  });
  tasks_.emplace(key, std::move(task));
}

void Decommissioner::Cancel(const NoticeRecord& notice) {
  absl::MutexLock lock(&mu_);
  cancelled_.insert(notice.Key());
  if (auto it = tasks_.find(notice.Key()); it != tasks_.end()) {
    it->second.stop->Stop();
    log::Info("decommission cancelled: the notice was withdrawn", {{"node", notice.node}, {"notice_id", notice.id}});
  }
}

void Decommissioner::Stop() {
  stop_.Stop();
  absl::flat_hash_map<std::string, Task> tasks;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, t] : tasks_) t.stop->Stop();
    tasks.swap(tasks_);
  }
  for (auto& [id, t] : tasks) t.thread.join();
}

bool Decommissioner::WaitIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [id, t] : tasks_) {
      if (!t.done->load()) return false;
    }
    return true;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

bool Decommissioner::WaitForOutcomes(const std::string& key, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto sent = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcomes_.contains(key); };
  return mu_.AwaitWithTimeout(absl::Condition(&sent), timeout);
}

std::vector<Decommissioner::PodOutcome> Decommissioner::Outcomes(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = outcomes_.find(key);
  return it == outcomes_.end() ? std::vector<PodOutcome>{} : it->second;
}

std::vector<PodRef> Decommissioner::Targets(const NoticeRecord& notice) {
  std::vector<PodRef> out;
  for (PodRef& p : state_.SparkPodsOn(notice.node)) {
    if (p.terminating || p.finished) continue;
    // Executors only; a driver that ended up here stays unless draining.
    if (!options_.executor_selector.Matches(p.labels) && !options_.drain_all) continue;
    out.push_back(std::move(p));
  }
  if (!options_.drain_all) return out;
  auto all = kube_.Get(absl::StrCat("/api/v1/pods?fieldSelector=", UrlEncode("spec.nodeName=" + notice.node)));
  if (!all.ok()) {
    log::Warn("drain: cannot list the node's pods", {{"node", notice.node}, {"error", all.status()}});
    return out;
  }
  for (const Json& j : (*all)["items"]) {
    const Json& meta = j["metadata"];
    if (meta.contains("deletionTimestamp")) continue;
    if (kube::StringAt(j, {"metadata", "annotations", "kubernetes.io/config.mirror"}) != "") continue;
    bool daemonset = false;
    for (const Json& o : meta.value("ownerReferences", Json::array())) daemonset |= o.value("kind", "") == "DaemonSet";
    if (daemonset) continue;
    std::string phase = kube::StringAt(j, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    PodRef p = PodFrom(j);
    if (std::any_of(out.begin(), out.end(), [&](const PodRef& q) { return q.uid == p.uid; })) continue;
    out.push_back(std::move(p));
  }
  return out;
}

void Decommissioner::Run(const NoticeRecord& notice, const StopSignal& stop) {
  const absl::Time start = clock_.Now();
  std::vector<PodRef> pods = Targets(notice);
  log::Info("decommissioning the node's executors",
            {{"node", notice.node}, {"notice_id", notice.id}, {"pods", pods.size()},
             {"grace_s", GraceSeconds(notice, start, options_)}, {"dry_run", options_.dry_run}});
  std::vector<PodOutcome> outcomes(pods.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < pods.size();) outcomes[i] = DecommissionPod(notice, pods[i], stop);
  };
  std::vector<std::thread> workers;
  const size_t n = std::min<size_t>(pods.size(), std::max(1, options_.parallelism));
  for (size_t i = 1; i < n; ++i) workers.emplace_back(worker);
  if (!pods.empty()) worker();
  for (auto& t : workers) t.join();
  int sent = 0;
  for (const PodOutcome& o : outcomes) {
    metrics_.RecordDecommission(o.result);
    sent += o.result == "evicted" || o.result == "deleted";
  }
  if (sent > 0) {
    absl::Time first_sight = notice.detected_at == absl::InfinitePast() ? start : notice.detected_at;
    metrics_.RecordNoticeToDecommission(clock_.Now() - first_sight);
  }
  log::Info("executor evictions sent", {{"node", notice.node}, {"notice_id", notice.id}, {"sent", sent},
                                        {"pods", pods.size()}, {"took_s", clock_.Now() - start}});
  // The Events after the evictions: they are for people, and must not hold up an eviction
  // (nor spend the API budget before it) while the notice's seconds run out.
  int announced = 0;
  for (size_t i = 0; i < pods.size() && !stop.stopped(); ++i) {
    const PodOutcome& o = outcomes[i];
    if (o.result != "evicted" && o.result != "deleted") continue;
    ++announced;
    const bool deleted = o.result == "deleted";
    PodEvent(pods[i], "Normal", "SparkExecutorDecommission",
             absl::StrCat(deleted ? "Deleted" : "Evicted", " with a grace period of ", o.grace_seconds, "s: node ",
                          notice.node, " has a ", notice.cloud, " ", notice.kind, " notice ", notice.id,
                          notice.not_before == absl::InfinitePast()
                              ? std::string()
                              : absl::StrCat(", not before ", kube::FormatApiTime(notice.not_before)),
                          deleted ? " (a PodDisruptionBudget blocked eviction)" : ""));
  }
  if (announced > 0) log::Info("executor decommissions announced", {{"node", notice.node}, {"notice_id", notice.id}, {"events", announced}});
  {
    absl::MutexLock lock(&mu_);
    outcomes_[notice.Key()] = outcomes;
  }
  if (stop.stopped() || options_.dry_run) return;
  // Done once no executor is left running on the node (or the node is gone by then).
  const absl::Time wait_until = DeadlineOf(notice, options_) + absl::Minutes(1);
  bool empty = state_.WaitForPods(
      notice.node,
      [this](const std::vector<PodRef>& left) {
        return std::none_of(left.begin(), left.end(), [this](const PodRef& p) {
          return !p.finished && options_.executor_selector.Matches(p.labels);
        });
      },
      wait_until, stop);
  if (empty && !stop.stopped()) MarkNodeDone(notice);
}

absl::StatusOr<Decommissioner::ClaimResult> Decommissioner::Claim(const NoticeRecord& notice, const PodRef& cached) {
  PodRef pod = cached;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (pod.terminating) return ClaimResult{ClaimResult::kTerminating};  // on its way out: never act twice
    if (auto it = pod.annotations.find(kClaimAnnotation); it != pod.annotations.end()) {
      ClaimInfo c = ParseClaim(it->second);
      if (c.notice == notice.id && c.replica != options_.identity && clock_.Now() - c.at < options_.stale_claim) {
        return ClaimResult{ClaimResult::kTheirs, c.at + options_.stale_claim};
      }
    }
    Json obj = {{"metadata", {{"resourceVersion", pod.resource_version}}}};
    if (!pod.labels.empty()) obj["metadata"]["labels"] = Json::object();
    for (const auto& [k, v] : pod.labels) obj["metadata"]["labels"][k] = v;
    if (!pod.annotations.empty()) obj["metadata"]["annotations"] = Json::object();
    for (const auto& [k, v] : pod.annotations) obj["metadata"]["annotations"][k] = v;
    Json ops = kube::MetadataOps(obj, "labels", {{kDecommissioningLabel, "true"}});
    for (const Json& op : kube::MetadataOps(
             obj, "annotations",
             {{kClaimAnnotation, absl::StrCat(notice.id, " ", options_.identity, " ", kube::FormatApiTime(clock_.Now()))}})) {
      ops.push_back(op);
    }
    auto res = kube_.Patch(PodPath(pod), kube::PatchType::kJson, kube::GuardedPatch(obj, ops), {.max_attempts = 2});
    if (res.ok()) return ClaimResult{ClaimResult::kOurs};
    if (absl::IsNotFound(res.status())) return ClaimResult{ClaimResult::kGone};
    int http = kube::HttpStatusOf(res.status());
    if (http != 409 && http != 422) return res.status();
    // Someone else wrote the pod: look again.
    auto fresh = kube_.Get(PodPath(pod));
    if (!fresh.ok()) {
      if (absl::IsNotFound(fresh.status())) return ClaimResult{ClaimResult::kGone};
      return fresh.status();
    }
    pod = PodFrom(*fresh);
  }
  return absl::AbortedError("could not claim the pod: too many concurrent writers");
}

void Decommissioner::PodEvent(const PodRef& pod, const char* type, const char* reason, const std::string& message) {
  absl::Status s = kube::CreateEvent(kube_,
                                     {.object = {.kind = "Pod", .namespace_ = pod.namespace_, .name = pod.name, .uid = pod.uid},
                                      .type = type,
                                      .reason = reason,
                                      .message = message,
                                      .component = "spotguard-extender"},
                                     clock_.Now());
  if (!s.ok()) log::Warn("could not create Event", {{"pod", pod.name}, {"reason", reason}, {"error", s}});
}

Decommissioner::PodOutcome Decommissioner::DecommissionPod(const NoticeRecord& notice, const PodRef& pod,
                                                           const StopSignal& stop) {
  PodOutcome out{.pod = absl::StrCat(pod.namespace_, "/", pod.name)};
  const absl::Time deadline = DeadlineOf(notice, options_);
  if (options_.dry_run) {
    out.result = "dry_run";
    out.grace_seconds = GraceSeconds(notice, clock_.Now(), options_);
    log::Info("dry run: would evict", {{"pod", out.pod}, {"node", notice.node}, {"grace_s", out.grace_seconds}});
    return out;
  }
  PodRef current = pod;
  while (true) {
    auto claimed = Claim(notice, current);
    if (!claimed.ok()) {
      // Not being able to claim must not cost the executor its graceful exit.
      log::Warn("could not claim the pod; evicting anyway", {{"pod", out.pod}, {"error", claimed.status()}});
      break;
    }
    if (claimed->state == ClaimResult::kOurs) break;
    if (claimed->state == ClaimResult::kGone) {
      out.result = "gone";
      return out;
    }
    if (claimed->state == ClaimResult::kTerminating) {
      out.result = "claimed_elsewhere";
      return out;
    }
    // Another replica claimed it moments ago and will evict it; if it died instead, its
    // claim goes stale and this replica takes over.
    if (!clock_.SleepUntil(claimed->theirs_until, stop)) {
      out.result = "cancelled";
      return out;
    }
    auto fresh = kube_.Get(PodPath(pod));
    if (!fresh.ok()) {
      out.result = absl::IsNotFound(fresh.status()) ? "gone" : "failed";
      return out;
    }
    current = PodFrom(*fresh);
  }
  absl::BitGen rng;
  Backoff backoff(options_.retry, rng);
  absl::Status last;
  bool blocked_by_pdb = false, said_refused = false;
  const absl::Time switch_at = deadline - options_.delete_fallback;
  while (!stop.stopped()) {
    const absl::Time now = clock_.Now();
    out.grace_seconds = GraceSeconds(notice, now, options_);
    // A PodDisruptionBudget may hold the eviction; close to the deadline, delete instead.
    const bool fallback = blocked_by_pdb && now >= switch_at;
    last = fallback ? kube::DeletePod(kube_, pod.namespace_, pod.name, out.grace_seconds, pod.uid, {.max_attempts = 1})
                    : kube::EvictPod(kube_, pod.namespace_, pod.name, out.grace_seconds, {.max_attempts = 1});
    if (last.ok()) {
      out.result = fallback ? "deleted" : "evicted";
      log::Info(fallback ? "executor deleted (a PodDisruptionBudget blocked eviction)" : "executor evicted",
                {{"pod", out.pod}, {"node", notice.node}, {"notice_id", notice.id}, {"grace_s", out.grace_seconds}});
      return out;  // its Event once every eviction is sent (Run)
    }
    if (kube::IsTooManyRequests(last)) blocked_by_pdb = true;
    if (now >= deadline) break;
    absl::Duration wait = backoff.Next();
    if (blocked_by_pdb && now < switch_at) wait = std::min(wait, switch_at - now);  // wake for the fallback
    wait = std::min(wait, deadline - now);  // and for one last try at the deadline
    if (!std::exchange(said_refused, true)) {  // once per pod: a budget may refuse for minutes
      log::Info("executor eviction refused; retrying until the deadline",
                {{"pod", out.pod}, {"notice_id", notice.id}, {"error", last}, {"deadline", deadline}});
    }
    if (!clock_.SleepFor(wait, stop)) break;
  }
  if (stop.stopped()) {
    out.result = "cancelled";
    return out;
  }
  out.result = "failed";
  log::Error("could not decommission the executor before the deadline", {{"pod", out.pod}, {"error", last}});
  PodEvent(pod, "Warning", "DecommissionFailed",
           absl::StrCat("Could not evict before node ", notice.node, " goes: ", last.message()));
  return out;
}

void Decommissioner::MarkNodeDone(const NoticeRecord& notice) {
  auto res = kube::PatchNode(kube_, notice.node, kube::PatchType::kMerge,
                             {{"metadata", {{"annotations", {{kDecommissionedAnnotation, notice.id}}}}}});
  if (res.ok()) {
    log::Info("node decommissioned: no executor left", {{"node", notice.node}, {"notice_id", notice.id}});
  } else if (!absl::IsNotFound(res.status())) {
    log::Warn("could not mark the node decommissioned", {{"node", notice.node}, {"error", res.status()}});
  }
}

}  // namespace spotguard::extender
