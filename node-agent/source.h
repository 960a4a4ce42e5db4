// Source: one kind of eviction signal from one metadata service (Azure Scheduled Events,
// AWS spot instance-action, AWS rebalance recommendation, AWS scheduled events, GCP
// preemption). One file pair per source under sources/.
//
// Poll() fetches once — no loop, no sleep — and returns every notice the service shows right
// now (not a delta). The Poller owns the period, jitter, backoff, de-duplication and the
// error metric, and decides when a notice has disappeared (withdrawn).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "node-agent/notice.h"

namespace spotguard::agent {

class Source {
 public:
  virtual ~Source() = default;

  // The notices visible now. An error (see PollError) means "no information this time":
  // nothing is withdrawn because of it.
  virtual absl::StatusOr<std::vector<Notice>> Poll() = 0;

  // Stable name, used as a metric label and in logs: "aws-spot-itn", ...
  virtual absl::string_view Kind() const = 0;

  // Tells the cloud to go ahead with an event now (Azure StartRequests). Only called for
  // notices marked acknowledgeable.
  virtual absl::Status Acknowledge(const Notice& notice) { return absl::OkStatus(); }

  // How long the Poller waits before polling again after a successful poll; sources that
  // must go slower (rate limits) override it. Zero = the Poller's interval.
  virtual absl::Duration MinInterval() const { return absl::ZeroDuration(); }

  // Where Poll reports a problem with one entry of a payload (a bad date, a wrong type, a
  // duplicate id) that does not fail the whole poll. Set by the Poller, which logs and
  // counts it (spotguard_agent_payload_problems_total{source,reason}).
  using ProblemSink = std::function<void(absl::string_view reason, absl::string_view message)>;
  void set_problem_sink(ProblemSink sink) { problem_sink_ = std::move(sink); }

 protected:
  void Problem(absl::string_view reason, absl::string_view message) const {
    if (problem_sink_) problem_sink_(reason, message);
  }

 private:
  ProblemSink problem_sink_;
};

// Why a poll failed, as a low-cardinality metric label:
//   unreachable, timeout, throttled, server_error, http_error, too_large, malformed, stale, auth
// Sources return PollError(...) so the Poller can count and back off per reason.
absl::Status PollError(absl::string_view reason, absl::string_view message, absl::Duration retry_after = absl::ZeroDuration());
std::string PollErrorReason(const absl::Status& s);
// A server-requested wait (429 Retry-After), or zero.
absl::Duration PollRetryAfter(const absl::Status& s);

// The PollError for a transport failure of HttpClient::Send.
absl::Status TransportError(const absl::Status& s, absl::string_view what);
// The PollError for an unexpected HTTP status (429 → throttled, 5xx → server_error, ...).
absl::Status HttpStatusError(int status, absl::string_view retry_after_header, absl::string_view what);

}  // namespace spotguard::agent
