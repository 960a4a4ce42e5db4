// spotguard-agent's Prometheus metrics. Call sites say what happened
// (metrics.RecordNotice(n)); only this class touches prometheus-cpp. Labels are
// low-cardinality: cloud, kind, source, reason, result — never node names or event ids.
#pragma once

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "node-agent/notice.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace spotguard::agent {

class AgentMetrics {
 public:
  explicit AgentMetrics(MetricsRegistry& registry);

  void RecordNotice(const Notice& n);     // first sight; also the notice's lead time
  void RecordWithdrawn(const Notice& n);
  void RecordPoll(absl::string_view source, absl::Duration took);
  void RecordPollError(absl::string_view source, absl::string_view reason);
  void RecordPayloadProblem(absl::string_view source, absl::string_view reason);
  void RecordCordon(absl::Duration since_first_sight);
  void RecordNodeUpdate(absl::string_view result);  // ok | error | dry_run
  void RecordReport(absl::string_view result);      // ok | error | expired | dry_run
  void SetActiveNotices(int n);

 private:
  prometheus::Family<prometheus::Counter>& notices_;
  prometheus::Family<prometheus::Counter>& withdrawn_;
  prometheus::Family<prometheus::Counter>& poll_errors_;
  prometheus::Family<prometheus::Counter>& payload_problems_;
  prometheus::Family<prometheus::Histogram>& poll_duration_;
  prometheus::Histogram& notice_to_cordon_;
  prometheus::Family<prometheus::Histogram>& lead_;
  prometheus::Family<prometheus::Counter>& node_updates_;
  prometheus::Family<prometheus::Counter>& reports_;
  prometheus::Gauge& active_;
};

}  // namespace spotguard::agent
