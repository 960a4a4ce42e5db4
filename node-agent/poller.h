// The Poller owns the polling of every Source: the period (with jitter), per-source backoff
// on errors and 429s (capped at `max_error_wait`, so a notice is seen within seconds even
// after an outage or a long Retry-After), one request in flight per source,
// de-duplication by notice id, and deciding that a notice has been withdrawn (absent from
// `withdraw_after` successful polls in a row — an error never withdraws anything).
//
// A notice keeps one identity and one deadline from first sight: when the source gives no
// time (none given, unparseable, or an Azure event that turned Started), the deadline is the
// one it had, or at first sight that plus the kind's minimum notice (common/notice/kinds.h).
// A poll that shows the same notice again tells the sink nothing.
//
// Each source polls on its own thread, so a slow service (Azure's first call can take two
// minutes) never delays another. What it learns goes to a NoticeSink (the Responder).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "node-agent/metrics.h"
#include "node-agent/source.h"

namespace spotguard::agent {

class NoticeSink {
 public:
  virtual ~NoticeSink() = default;
  // A notice seen for the first time, or seen again with changed details (same id).
  virtual void OnNotice(const Notice& notice) = 0;
  virtual void OnWithdrawn(const Notice& notice) = 0;
};

struct PollerOptions {
  absl::Duration interval = absl::Seconds(1);
  double jitter = 0.1;     // each wait is interval × U(1 − jitter, 1 + jitter)
  int withdraw_after = 2;  // successful polls without a notice before it counts as withdrawn
  BackoffPolicy backoff{.initial = absl::Seconds(1), .max = absl::Seconds(5)};
  // The longest wait after an error, a server's Retry-After included.
  absl::Duration max_error_wait = absl::Seconds(5);
  // /healthz fails when a source's loop has not come round for this long.
  absl::Duration stall_after = absl::Seconds(90);
};

class Poller {
 public:
  Poller(Clock& clock, PollerOptions options, AgentMetrics& metrics, NoticeSink& sink);

  // Adds a source before Run(). `known` are notices already acted on (restored after a
  // restart): not announced again, withdrawn if the source no longer shows them.
  void Add(std::unique_ptr<Source> source, std::vector<Notice> known = {});

  // Polls every source on its own thread until `stop`; returns when all have finished.
  void Run(const StopSignal& stop);

  // One poll of source `i`; returns how long to wait before the next. Used by Run and tests.
  absl::Duration PollOnce(size_t i);

  // OK while every source loop keeps coming round (for /healthz).
  absl::Status Healthy() const;
  // OK once every source has answered successfully at least once (for /readyz).
  absl::Status Ready() const;

  size_t size() const { return sources_.size(); }
  Source& source(size_t i) { return *sources_[i]->source; }

 private:
  struct Known {
    Notice notice;
    int missing = 0;
  };
  struct PerSource {
    std::unique_ptr<Source> source;
    absl::flat_hash_map<std::string, Known> known;  // touched only by the source's thread
    std::optional<Backoff> backoff;
    std::string last_error_reason;
    int consecutive_errors = 0;
    absl::Time last_round = absl::InfinitePast();   // guarded by mu_
    bool answered = false;                          // guarded by mu_
  };

  absl::Duration Jittered(absl::Duration d);

  Clock& clock_;
  const PollerOptions options_;
  AgentMetrics& metrics_;
  NoticeSink& sink_;
  std::vector<std::unique_ptr<PerSource>> sources_;
  mutable absl::Mutex mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::agent
