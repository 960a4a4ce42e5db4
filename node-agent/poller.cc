#include "node-agent/poller.h"

#include <thread>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace spotguard::agent {

Poller::Poller(Clock& clock, PollerOptions options, AgentMetrics& metrics, NoticeSink& sink)
    : clock_(clock), options_(options), metrics_(metrics), sink_(sink) {}

void Poller::Add(std::unique_ptr<Source> source, std::vector<Notice> known) {
  auto ps = std::make_unique<PerSource>();
  const std::string kind(source->Kind());
  source->set_problem_sink([this, kind](absl::string_view reason, absl::string_view message) {
    metrics_.RecordPayloadProblem(kind, reason);
    log::Warn("metadata payload problem", {{"source", kind}, {"reason", reason}, {"detail", message}});
  });
  ps->source = std::move(source);
  for (Notice& n : known) {
    std::string id = n.id;  // the right-hand side is evaluated first: copy the key before moving
    ps->known[id] = Known{std::move(n)};
  }
  sources_.push_back(std::move(ps));
}

absl::Duration Poller::Jittered(absl::Duration d) {
  if (options_.jitter <= 0) return d;
  absl::MutexLock lock(&mu_);
  return d * absl::Uniform(rng_, 1.0 - options_.jitter, 1.0 + options_.jitter);
}

absl::Duration Poller::PollOnce(size_t i) {
  PerSource& ps = *sources_[i];
  const std::string kind(ps.source->Kind());
  const absl::Time start = clock_.Now();
  absl::StatusOr<std::vector<Notice>> result = ps.source->Poll();
  const absl::Time end = clock_.Now();
  metrics_.RecordPoll(kind, end - start);
  {
    absl::MutexLock lock(&mu_);
    ps.last_round = end;
    if (result.ok()) ps.answered = true;
  }
  if (!result.ok()) {
    const std::string reason = PollErrorReason(result.status());
    metrics_.RecordPollError(kind, reason);
    // One line when the failure starts or changes, then one a minute-ish: IMDS outages
    // must not flood the logs.
    if (reason != ps.last_error_reason || ps.consecutive_errors % 60 == 0) {
      log::Warn("metadata poll failed",
                {{"source", kind}, {"reason", reason}, {"error", result.status()}, {"consecutive", ps.consecutive_errors + 1}});
    }
    ps.last_error_reason = reason;
    ++ps.consecutive_errors;
    if (!ps.backoff.has_value()) {
      absl::MutexLock lock(&mu_);
      ps.backoff.emplace(options_.backoff, rng_);
    }
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);  // the Backoff draws from rng_
      wait = ps.backoff->Next();
    }
    return std::min(std::max(wait, PollRetryAfter(result.status())), options_.max_error_wait);
  }
  if (ps.consecutive_errors > 0) {
    log::Info("metadata poll recovered", {{"source", kind}, {"after_errors", ps.consecutive_errors}});
  }
  ps.consecutive_errors = 0;
  ps.last_error_reason.clear();
  if (ps.backoff.has_value()) ps.backoff->Reset();

  absl::flat_hash_map<std::string, bool> present;
  for (Notice& n : *result) {
    if (!present.emplace(n.id, true).second) continue;  // a source repeating an id
    auto it = ps.known.find(n.id);
    if (it == ps.known.end()) {
      if (n.detected_at == absl::InfinitePast()) n.detected_at = start;
      if (n.not_before == absl::InfinitePast()) n.not_before = notice::AssumedDeadline(n, n.detected_at);
      metrics_.RecordNotice(n);
      log::Info("new notice", {{"source", kind}, {"notice_id", n.id}, {"cloud", CloudName(n.cloud)},
                               {"kind", KindName(n.kind)}, {"raw_action", n.raw_action},
                               {"not_before", n.not_before}, {"action", ActionName(n.action)}});
      ps.known[n.id] = Known{n};
      sink_.OnNotice(n);
      continue;
    }
    Known& k = it->second;
    k.missing = 0;
    n.detected_at = k.notice.detected_at;  // first sight stays first sight
    if (n.not_before == absl::InfinitePast()) n.not_before = k.notice.not_before;  // and its deadline
    if (!(n == k.notice)) {
      log::Info("notice changed", {{"source", kind}, {"notice_id", n.id}, {"not_before", n.not_before}});
      k.notice = n;
      sink_.OnNotice(n);
    }
  }
  for (auto it = ps.known.begin(); it != ps.known.end();) {
    if (present.contains(it->first) || ++it->second.missing < options_.withdraw_after) {
      ++it;
      continue;
    }
    Notice gone = std::move(it->second.notice);
    ps.known.erase(it++);
    metrics_.RecordWithdrawn(gone);
    log::Info("notice withdrawn", {{"source", kind}, {"notice_id", gone.id}, {"kind", KindName(gone.kind)}});
    sink_.OnWithdrawn(gone);
  }
  return Jittered(std::max(options_.interval, ps.source->MinInterval()));
}

void Poller::Run(const StopSignal& stop) {
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sources_.size(); ++i) {
    threads.emplace_back([this, i, &stop] {
      while (!stop.stopped()) {
        absl::Duration wait = PollOnce(i);
        if (!clock_.SleepFor(wait, stop)) break;
      }
    });
  }
  for (auto& t : threads) t.join();
}

absl::Status Poller::Healthy() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  for (const auto& ps : sources_) {
    // Before the first round the loop is starting (Azure's first call may take 2 minutes).
    if (ps->last_round != absl::InfinitePast() && now - ps->last_round > options_.stall_after) {
      return absl::UnavailableError(absl::StrCat("poll loop of ", ps->source->Kind(), " has not come round for ",
                                                 absl::FormatDuration(now - ps->last_round)));
    }
  }
  return absl::OkStatus();
}

absl::Status Poller::Ready() const {
  absl::MutexLock lock(&mu_);
  for (const auto& ps : sources_) {
    if (!ps->answered) return absl::UnavailableError(absl::StrCat(ps->source->Kind(), " has not answered yet"));
  }
  return absl::OkStatus();
}

}  // namespace spotguard::agent
