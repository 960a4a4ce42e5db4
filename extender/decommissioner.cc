#include "extender/decommissioner.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kube/patch.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::extender {
namespace {

using notice::kClaimAnnotation;
using notice::kDecommissionedAnnotation;
using notice::kDecommissioningLabel;

// Done notices are remembered until withdrawn, at most this long after their deadline (a
// resync meanwhile finds them done).
constexpr absl::Duration kRememberDone = absl::Minutes(10);

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

absl::Time StartTime(const NoticeRecord& notice, const DecommissionerOptions& o) {
  const absl::Duration lead = o.lead > absl::ZeroDuration() ? o.lead : o.max_grace + o.margin;
  return DeadlineOf(notice, o) - lead;
}

Decommissioner::Decommissioner(DecommissionerOptions options, Clock& clock, kube::KubeClient& kube, ClusterState& state,
                               ExtenderMetrics& metrics)
    : options_(std::move(options)),
      clock_(clock),
      kube_(kube),
      state_(state),
      metrics_(metrics),
      evictions_(clock, std::max(1, options_.parallelism), "evictions"),
      notices_(clock, std::max(1, options_.workers), "decommissions") {}

Decommissioner::~Decommissioner() { Stop(); }

void Decommissioner::Start(const NoticeRecord& original) {
  NoticeRecord notice = original;
  if (notice.detected_at == absl::InfinitePast()) notice.detected_at = clock_.Now();
  // A withdrawal can overtake the start (they arrive on different threads): honour it.
  if (!state_.NoticeActive(original)) return;
  const std::string key = notice.Key();
  const absl::Time now = clock_.Now();
  const absl::Time at = StartTime(notice, options_);
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    if (stop_.stopped()) return;
    ForgetDoneLocked(now);
    auto it = tasks_.find(key);
    if (it != tasks_.end() && it->second.notice.detected_at == notice.detected_at) {
      Task& t = it->second;
      // Already at work on it, or done; or waiting for a start that has not moved.
      if (t.state != Task::kScheduled || StartTime(t.notice, options_) == at) return;
      t.notice = notice;
    } else {
      if (it != tasks_.end()) it->second.stop->Stop();  // an earlier occurrence
      Task t;
      t.notice = notice;
      it = tasks_.insert_or_assign(key, std::move(t)).first;
      outcomes_.erase(key);
    }
    generation = it->second.generation = ++generation_;
    metrics_.SetStateSize("decommissions", tasks_.size());
  }
  if (at > now) {
    log::Info("decommission scheduled: the notice is far ahead",
              {{"node", notice.node}, {"notice_id", notice.id}, {"start_at", at}, {"not_before", notice.not_before}});
    notices_.PostAt(at, [this, key, generation] { Begin(key, generation); });
  } else {
    notices_.Post([this, key, generation] { Begin(key, generation); });
  }
}

void Decommissioner::Begin(const std::string& key, uint64_t generation) {
  NoticeRecord notice;
  std::shared_ptr<StopSignal> stop;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(key);
    if (it == tasks_.end() || it->second.generation != generation || it->second.state != Task::kScheduled) return;
    if (it->second.stop->stopped() || stop_.stopped()) {
      it->second.state = Task::kDone;
      return;
    }
    it->second.state = Task::kRunning;
    notice = it->second.notice;
    stop = it->second.stop;
  }
  // Withdrawn while it waited (the Cancel may have raced the schedule).
  const bool active = state_.NoticeActive(notice);
  if (active) Run(notice, *stop);
  const absl::Time until = DeadlineOf(notice, options_) + absl::Minutes(1);
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(key);
  if (it == tasks_.end() || it->second.generation != generation) return;
  it->second.forget_after = until + kRememberDone;
  if (!active || stop->stopped()) {
    it->second.state = Task::kDone;
    return;
  }
  if (std::exchange(it->second.again, false)) {
    RestartLocked(key, it->second, /*unmark=*/false);
    return;
  }
  if (options_.dry_run) {
    it->second.state = Task::kDone;
    return;
  }
  it->second.state = Task::kEmptying;
  notices_.Post([this, key, generation, until] { CheckEmpty(key, generation, until); });
}

void Decommissioner::RestartLocked(const std::string& key, Task& task, bool unmark) {
  task.state = Task::kScheduled;
  const uint64_t generation = task.generation = ++generation_;
  notices_.Post([this, key, generation, unmark, notice = task.notice] {
    if (unmark) UnmarkNode(notice);
    Begin(key, generation);
  });
}

void Decommissioner::Revisit(const NoticeRecord& notice) {
  if (!state_.NoticeActive(notice)) return;
  absl::MutexLock lock(&mu_);
  if (stop_.stopped()) return;
  auto it = tasks_.find(notice.Key());
  if (it == tasks_.end()) return;
  if (notice.detected_at != absl::InfinitePast() && it->second.notice.detected_at != notice.detected_at) return;
  Task& t = it->second;
  if (t.stop->stopped()) return;
  switch (t.state) {
    case Task::kScheduled:
      return;
    case Task::kRunning:
      t.again = true;  // its targets may have been taken before the pod arrived
      return;
    case Task::kEmptying:
    case Task::kDone:
      log::Info("an executor reached a node being decommissioned: decommissioning it too",
                {{"node", notice.node}, {"notice_id", notice.id}});
      // The node may be marked decommissioned already: not any more, or the agent would let
      // an Azure VM go with the new executor on it. Marked again once it is empty.
      RestartLocked(it->first, t, /*unmark=*/true);
      return;
  }
}

void Decommissioner::CheckEmpty(const std::string& key, uint64_t generation, absl::Time until) {
  NoticeRecord notice;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(key);
    if (it == tasks_.end() || it->second.generation != generation || it->second.state != Task::kEmptying) return;
    if (it->second.stop->stopped() || stop_.stopped()) {
      it->second.state = Task::kDone;
      return;
    }
    notice = it->second.notice;
  }
  // Done once no executor is left running on the node (or the node is gone by then).
  std::vector<PodRef> left = state_.SparkPodsOn(notice.node);
  const bool empty = std::none_of(left.begin(), left.end(), [this](const PodRef& p) {
    return !p.finished && options_.executor_selector.Matches(p.labels);
  });
  if (empty) MarkNodeDone(notice);
  const bool again = !empty && clock_.Now() < until;
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(key);
  if (it == tasks_.end() || it->second.generation != generation || it->second.state != Task::kEmptying) return;
  if (!again) {
    it->second.state = Task::kDone;
    return;
  }
  notices_.PostAt(clock_.Now() + absl::Seconds(1), [this, key, generation, until] { CheckEmpty(key, generation, until); });
}

void Decommissioner::ForgetDoneLocked(absl::Time now) {
  absl::erase_if(tasks_, [&](const auto& kv) {
    if (kv.second.state != Task::kDone || now < kv.second.forget_after) return false;
    outcomes_.erase(kv.first);
    return true;
  });
}

void Decommissioner::Cancel(const NoticeRecord& notice) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(notice.Key());
  if (it == tasks_.end()) return;
  if (notice.detected_at != absl::InfinitePast() && it->second.notice.detected_at != notice.detected_at) return;
  if (it->second.state == Task::kDone) {
    // Over: nothing left to remember it for.
    outcomes_.erase(it->first);
    tasks_.erase(it);
    metrics_.SetStateSize("decommissions", tasks_.size());
    return;
  }
  it->second.stop->Stop();
  log::Info("decommission cancelled: the notice was withdrawn", {{"node", notice.node}, {"notice_id", notice.id}});
}

void Decommissioner::Stop() {
  stop_.Stop();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, t] : tasks_) t.stop->Stop();
  }
  notices_.Stop();  // first: a running notice waits for its evictions
  evictions_.Stop();
}

bool Decommissioner::WaitIdle(absl::Duration timeout) const {
  const absl::Time end = absl::Now() + timeout;
  while (true) {
    bool busy;
    {
      absl::MutexLock lock(&mu_);
      busy = std::any_of(tasks_.begin(), tasks_.end(), [&](const auto& kv) {
        const Task& t = kv.second;
        return t.state == Task::kRunning || t.state == Task::kEmptying ||
               (t.state == Task::kScheduled && StartTime(t.notice, options_) <= clock_.Now());
      });
    }
    if (!busy && notices_.WaitIdle(absl::ZeroDuration())) return true;
    if (absl::Now() >= end) return false;
    notices_.WaitIdle(absl::Milliseconds(20));
    evictions_.WaitIdle(absl::Milliseconds(20));
  }
}

size_t Decommissioner::tasks() const {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
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
    if (p.resource_version.empty() && !p.name.empty()) {
      // Bound by this extender moments ago, not yet seen by the watch: read it.
      auto fresh = kube_.Get(PodPath(p));
      if (!fresh.ok()) {
        if (!absl::IsNotFound(fresh.status())) {
          log::Warn("cannot read a pod just bound to the node", {{"pod", p.name}, {"error", fresh.status()}});
        }
        continue;
      }
      p = PodFrom(*fresh);
    }
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
  bool again;  // a revisit: leave alone what the earlier runs evicted (the cache may lag behind)
  {
    absl::MutexLock lock(&mu_);
    auto it = outcomes_.find(notice.Key());
    again = it != outcomes_.end();
    if (again) {
      std::erase_if(pods, [&](const PodRef& p) {
        const std::string name = absl::StrCat(p.namespace_, "/", p.name);
        return std::any_of(it->second.begin(), it->second.end(), [&](const PodOutcome& o) {
          return o.pod == name && (o.result == "evicted" || o.result == "deleted");
        });
      });
    }
  }
  log::Info("decommissioning the node's executors",
            {{"node", notice.node}, {"notice_id", notice.id}, {"pods", pods.size()},
             {"grace_s", GraceSeconds(notice, start, options_)}, {"dry_run", options_.dry_run}});
  std::vector<PodOutcome> outcomes(pods.size());
  absl::BlockingCounter pending(static_cast<int>(pods.size()));
  for (size_t i = 0; i < pods.size(); ++i) {
    evictions_.Post([&, i] {
      outcomes[i] = DecommissionPod(notice, pods[i], stop);
      pending.DecrementCount();
    });
  }
  if (!pods.empty()) pending.Wait();
  int sent = 0;
  for (const PodOutcome& o : outcomes) {
    metrics_.RecordDecommission(o.result);
    sent += o.result == "evicted" || o.result == "deleted";
  }
  if (sent > 0 && !again) {
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
                          notice.node, " has a ", notice::CloudName(notice.cloud), " ",
                          notice::KindName(notice.kind), " notice ", notice.id,
                          notice.not_before == absl::InfinitePast()
                              ? std::string()
                              : absl::StrCat(", not before ", kube::FormatApiTime(notice.not_before)),
                          deleted ? " (a PodDisruptionBudget blocked eviction)" : ""));
  }
  if (announced > 0) log::Info("executor decommissions announced", {{"node", notice.node}, {"notice_id", notice.id}, {"events", announced}});
  {
    absl::MutexLock lock(&mu_);
    std::vector<PodOutcome>& all = outcomes_[notice.Key()];  // a revisit adds to the first run's
    all.insert(all.end(), outcomes.begin(), outcomes.end());
  }
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

void Decommissioner::UnmarkNode(const NoticeRecord& notice) {
  auto res = kube::PatchNode(kube_, notice.node, kube::PatchType::kMerge,
                             {{"metadata", {{"annotations", {{kDecommissionedAnnotation, nullptr}}}}}});
  if (!res.ok() && !absl::IsNotFound(res.status())) {
    log::Warn("could not take back the node's decommissioned mark", {{"node", notice.node}, {"error", res.status()}});
  }
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
