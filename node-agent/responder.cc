#include "node-agent/responder.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::agent {

Responder::Responder(ResponderOptions options, Clock& clock, kube::KubeClient& kube, Reporter* reporter,
                     AgentMetrics& metrics)
    : options_(std::move(options)), clock_(clock), kube_(kube), reporter_(reporter), metrics_(metrics) {}

Responder::~Responder() { Stop(); }

std::vector<Notice> Responder::Start(const Json& node) {
  facts_ = kube::FactsOf(node);
  std::vector<Notice> restored;
  auto record = ReadRecord(node);
  if (!record.ok()) {
    log::Warn("ignoring an unreadable record of a previous run", {{"node", options_.node_name}, {"error", record.status()}});
  } else {
    restored = record->notices;
  }
  {
    absl::MutexLock lock(&mu_);
    node_ = node;
    for (const Notice& n : restored) {
      active_[n.id] = n;
      StartReport(n, /*withdraw=*/false);
    }
    metrics_.SetActiveNotices(static_cast<int>(active_.size()));
    // Make sure the node matches (a previous run may have died between patches).
    dirty_ = !restored.empty();
  }
  if (!restored.empty()) {
    log::Info("carrying on with notices from a previous run", {{"node", options_.node_name}, {"notices", restored.size()}});
  }
  worker_ = std::thread([this] { NodeWorker(); });
  return restored;
}

void Responder::OnNotice(const Notice& notice) {
  absl::MutexLock lock(&mu_);
  const bool is_new = !active_.contains(notice.id);
  active_[notice.id] = notice;
  if (is_new) to_announce_.push_back(notice);
  dirty_ = true;
  metrics_.SetActiveNotices(static_cast<int>(active_.size()));
  StartReport(notice, /*withdraw=*/false);
}

void Responder::OnWithdrawn(const Notice& notice) {
  absl::MutexLock lock(&mu_);
  if (active_.erase(notice.id) == 0) return;
  to_withdraw_.push_back(notice);
  dirty_ = true;
  metrics_.SetActiveNotices(static_cast<int>(active_.size()));
  StartReport(notice, /*withdraw=*/true);
}

std::vector<Notice> Responder::active() const {
  absl::MutexLock lock(&mu_);
  std::vector<Notice> out;
  for (const auto& [id, n] : active_) out.push_back(n);
  std::sort(out.begin(), out.end(), [](const Notice& a, const Notice& b) { return a.id < b.id; });
  return out;
}

Json Responder::node() const {
  absl::MutexLock lock(&mu_);
  return node_;
}

bool Responder::WaitIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (dirty_ || working_) return false;
    for (const auto& [id, task] : reports_) {
      if (!task.done->load()) return false;
    }
    return true;
  };
  // Report threads finish without touching mu_, so re-check now and then.
  const absl::Time end = absl::Now() + timeout;
  while (!idle()) {
    if (absl::Now() >= end) return false;
    mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Milliseconds(20));
  }
  return true;
}

void Responder::Stop() {
  stop_.Stop();
  {
    absl::MutexLock lock(&mu_);
    dirty_ = true;  // wakes the worker
    for (auto& [id, task] : reports_) task.stop->Stop();
  }
  if (worker_.joinable()) worker_.join();
  absl::flat_hash_map<std::string, ReportTask> reports;
  std::vector<ReportTask> finished;
  {
    absl::MutexLock lock(&mu_);
    reports.swap(reports_);
    finished.swap(finished_);
  }
  for (auto& [id, task] : reports) task.thread.join();
  for (auto& task : finished) task.thread.join();
}

// --- The node ---------------------------------------------------------------------------

void Responder::NodeWorker() {
  absl::BitGen rng;
  Backoff backoff(options_.retry, rng);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&dirty_));
      if (stop_.stopped()) return;
      dirty_ = false;
      working_ = true;
      // Read the node afresh: someone may have changed it.
      if (std::exchange(resync_, false) && !options_.dry_run) node_ = Json();
    }
    // Until the node matches its notices: the cloud does not give up, and neither does the
    // agent (a withdrawal during an API outage must still uncordon).
    for (int attempt = 1; !ReconcileOnce(); ++attempt) {
      if (attempt % 50 == 0) {
        log::Error("the node still does not match its notices; retrying", {{"node", options_.node_name},
                                                                           {"attempts", attempt}});
      }
      if (!clock_.SleepFor(backoff.Next(), stop_)) return;
      absl::MutexLock lock(&mu_);
      dirty_ = false;  // this retry covers any change that arrived meanwhile
    }
    backoff.Reset();
    absl::MutexLock lock(&mu_);
    working_ = false;
  }
}

void Responder::Resync() {
  absl::MutexLock lock(&mu_);
  resync_ = true;
  dirty_ = true;
}

bool Responder::ReconcileOnce() {
  std::vector<Notice> active, announced, withdrawn;
  Json cached;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, n] : active_) active.push_back(n);
    announced = to_announce_;
    withdrawn = to_withdraw_;
    cached = node_;
  }
  std::sort(active.begin(), active.end(), [](const Notice& a, const Notice& b) { return a.id < b.id; });

  if (options_.dry_run) {
    NodePlan plan = PlanNode(cached, active, options_.taint_effect);
    metrics_.RecordNodeUpdate("dry_run");  // count before logging: observers wait on the log
    log::Info("dry run: would patch the node", {{"node", options_.node_name}, {"ops", plan.ops.dump()}});
    absl::MutexLock lock(&mu_);
    to_announce_.erase(to_announce_.begin(), to_announce_.begin() + announced.size());
    to_withdraw_.erase(to_withdraw_.begin(), to_withdraw_.begin() + withdrawn.size());
    return true;
  }

  NodePlan plan;
  // One GET is saved when the cached node is still current; a conflict re-reads it.
  auto updated = kube::UpdateNodeGuarded(
      kube_, options_.node_name,
      [&](const Json& node) -> std::optional<Json> {
        plan = PlanNode(node, active, options_.taint_effect);
        return plan.ops;
      },
      cached.is_object() && !cached.empty() ? std::optional<Json>(cached) : std::nullopt, /*max_conflicts=*/10,
      {.max_attempts = 2});
  if (!updated.ok()) {
    metrics_.RecordNodeUpdate("error");
    log::Warn("node update failed; retrying", {{"node", options_.node_name}, {"error", updated.status()}});
    absl::MutexLock lock(&mu_);
    if (absl::IsNotFound(updated.status())) node_ = Json();  // re-read next time
    return false;
  }
  const absl::Time now = clock_.Now();
  // "unchanged": the node already matched (a resync that found no drift) and nothing was written.
  metrics_.RecordNodeUpdate(plan.ops.empty() ? "unchanged" : "ok");
  for (const Notice& n : announced) {
    if (n.action != Action::kCordon) continue;
    metrics_.RecordCordon(now - n.detected_at);
    log::Info("node cordoned and tainted", {{"node", options_.node_name}, {"notice_id", n.id},
                                            {"since_first_sight_s", now - n.detected_at},
                                            {"cordoned_by_spotguard", plan.record.cordoned}});
  }
  if (plan.uncordons) log::Info("node uncordoned: its notices are withdrawn", {{"node", options_.node_name}});
  {
    absl::MutexLock lock(&mu_);
    node_ = *updated;
    to_announce_.erase(to_announce_.begin(), to_announce_.begin() + announced.size());
    to_withdraw_.erase(to_withdraw_.begin(), to_withdraw_.begin() + withdrawn.size());
  }
  PostEvents(announced, withdrawn);
  return true;
}

void Responder::PostEvents(const std::vector<Notice>& announced, const std::vector<Notice>& withdrawn) {
  const std::string uid = kube::StringAt(node(), {"metadata", "uid"});
  auto post = [&](const Notice& n, const char* reason, const char* type, std::string message) {
    absl::Status s = kube::CreateEvent(kube_,
                                       {.object = {.kind = "Node", .name = options_.node_name, .uid = uid},
                                        .type = type,
                                        .reason = reason,
                                        .message = std::move(message),
                                        .component = "spotguard-agent",
                                        .host = options_.node_name},
                                       clock_.Now());
    if (!s.ok()) log::Warn("could not create Event", {{"node", options_.node_name}, {"reason", reason}, {"error", s}});
  };
  for (const Notice& n : announced) {
    std::string when = n.not_before == absl::InfinitePast()
                           ? std::string("no deadline given")
                           : absl::StrCat("not before ", kube::FormatApiTime(n.not_before));
    post(n, "SpotEvictionNotice", n.kind == v1::NOTICE_KIND_EVICTION ? "Warning" : "Normal",
         absl::StrCat(CloudName(n.cloud), " ", KindName(n.kind), " notice ", n.id, " (", n.raw_action, "), ", when,
                      "; spotguard: ", ActionName(n.action)));
  }
  for (const Notice& n : withdrawn) {
    post(n, "SpotNoticeWithdrawn", "Normal",
         absl::StrCat(CloudName(n.cloud), " ", KindName(n.kind), " notice ", n.id, " (", n.raw_action,
                      ") withdrawn; spotguard undid what it did"));
  }
}

// --- The extender -------------------------------------------------------------------------

void Responder::ReapReports() {
  for (auto it = reports_.begin(); it != reports_.end();) {
    if (it->second.done->load()) {
      finished_.push_back(std::move(it->second));
      reports_.erase(it++);
    } else {
      ++it;
    }
  }
  // Superseded tasks may still be inside a call; join only those that are done.
  for (auto it = finished_.begin(); it != finished_.end();) {
    if (!it->done->load()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = finished_.erase(it);
  }
}

void Responder::StartReport(const Notice& notice, bool withdraw) {
  ReapReports();
  if (auto it = reports_.find(notice.id); it != reports_.end()) {
    // A newer report about this notice supersedes the one still retrying.
    it->second.stop->Stop();
    finished_.push_back(std::move(it->second));
    reports_.erase(it);
  }
  ReportTask task;
  auto stop = task.stop;
  auto done = task.done;
  const absl::Time deadline = withdraw ? clock_.Now() + options_.min_report_window
                                       : std::max(DeadlineOf(notice), notice.detected_at + options_.min_report_window);
  task.thread = std::thread([this, notice, withdraw, deadline, stop, done] {
    const char* verb = withdraw ? "WithdrawNotice" : "ReportNotice";
    if (reporter_ == nullptr) {  // no extender configured
      metrics_.RecordReport("disabled");
      *done = true;
      return;
    }
    if (options_.dry_run) {
      metrics_.RecordReport("dry_run");
      log::Info("dry run: would report", {{"notice_id", notice.id}, {"call", verb}});
      *done = true;
      return;
    }
    absl::BitGen rng;
    Backoff backoff(options_.retry, rng);
    for (int attempt = 1;; ++attempt) {
      if (stop->stopped() || stop_.stopped()) break;
      absl::Status s = withdraw ? reporter_->Withdraw(facts_, notice) : reporter_->Report(facts_, notice);
      if (s.ok()) {
        metrics_.RecordReport("ok");
        log::Info("reported to the extender", {{"notice_id", notice.id}, {"call", verb}, {"attempts", attempt}});
        break;
      }
      metrics_.RecordReport("error");
      if (attempt == 1 || attempt % 20 == 0) {
        log::Warn("report to the extender failed; retrying", {{"notice_id", notice.id}, {"call", verb},
                                                              {"attempt", attempt}, {"error", s}});
      }
      absl::Duration wait = backoff.Next();
      if (clock_.Now() + wait > deadline) {
        metrics_.RecordReport("expired");
        log::Error("gave up reporting: past the notice's deadline", {{"notice_id", notice.id}, {"call", verb},
                                                                      {"attempts", attempt}, {"error", s}});
        break;
      }
      if (!clock_.SleepFor(wait, *stop)) break;
    }
    *done = true;
  });
  reports_.emplace(notice.id, std::move(task));
}

}  // namespace spotguard::agent
