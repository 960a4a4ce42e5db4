#include "node-agent/metrics.h"

namespace spotguard::agent {

AgentMetrics::AgentMetrics(MetricsRegistry& r)
    : notices_(prometheus::BuildCounter()
                   .Name("spotguard_agent_notices_total")
                   .Help("Notices first seen, by cloud and kind")
                   .Register(r.registry())),
      withdrawn_(prometheus::BuildCounter()
                     .Name("spotguard_agent_withdrawn_total")
                     .Help("Notices that disappeared from the metadata service and were undone")
                     .Register(r.registry())),
      poll_errors_(prometheus::BuildCounter()
                       .Name("spotguard_agent_poll_errors_total")
                       .Help("Failed metadata polls, by source and reason")
                       .Register(r.registry())),
      payload_problems_(prometheus::BuildCounter()
                            .Name("spotguard_agent_payload_problems_total")
                            .Help("Entries of metadata payloads that were malformed, by source and reason")
                            .Register(r.registry())),
      poll_duration_(prometheus::BuildHistogram()
                         .Name("spotguard_agent_poll_duration_seconds")
                         .Help("Duration of one metadata poll, by source")
                         .Register(r.registry())),
      notice_to_cordon_(prometheus::BuildHistogram()
                            .Name("spotguard_agent_notice_to_cordon_seconds")
                            .Help("First sight of a notice to the cordon acknowledged by the API server")
                            .Register(r.registry())
                            .Add({}, RequestLatencyBuckets())),
      lead_(prometheus::BuildHistogram()
                .Name("spotguard_agent_notice_lead_seconds")
                .Help("Notice lead time: the cloud's notBefore minus first sight, by cloud and kind")
                .Register(r.registry())),
      node_updates_(prometheus::BuildCounter()
                        .Name("spotguard_agent_node_updates_total")
                        .Help("Node updates (cordon, taint, labels, annotations), by result")
                        .Register(r.registry())),
      reports_(prometheus::BuildCounter()
                   .Name("spotguard_agent_reports_total")
                   .Help("Reports to the extender, by result")
                   .Register(r.registry())),
      active_(prometheus::BuildGauge()
                  .Name("spotguard_agent_active_notices")
                  .Help("Notices currently active on this node")
                  .Register(r.registry())
                  .Add({})) {}

void AgentMetrics::RecordNotice(const Notice& n) {
  prometheus::Labels labels{{"cloud", std::string(CloudName(n.cloud))}, {"kind", std::string(KindName(n.kind))}};
  notices_.Add(labels).Increment();
  if (n.not_before != absl::InfinitePast()) {
    lead_.Add(labels, OperationLatencyBuckets()).Observe(absl::ToDoubleSeconds(n.not_before - n.detected_at));
  }
}

void AgentMetrics::RecordWithdrawn(const Notice& n) {
  withdrawn_.Add({{"cloud", std::string(CloudName(n.cloud))}, {"kind", std::string(KindName(n.kind))}}).Increment();
}

void AgentMetrics::RecordPoll(absl::string_view source, absl::Duration took) {
  poll_duration_.Add({{"source", std::string(source)}}, RequestLatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
}

void AgentMetrics::RecordPollError(absl::string_view source, absl::string_view reason) {
  poll_errors_.Add({{"source", std::string(source)}, {"reason", std::string(reason)}}).Increment();
}

void AgentMetrics::RecordPayloadProblem(absl::string_view source, absl::string_view reason) {
  payload_problems_.Add({{"source", std::string(source)}, {"reason", std::string(reason)}}).Increment();
}

void AgentMetrics::RecordCordon(absl::Duration since_first_sight) {
  notice_to_cordon_.Observe(absl::ToDoubleSeconds(since_first_sight));
}

void AgentMetrics::RecordNodeUpdate(absl::string_view result) {
  node_updates_.Add({{"result", std::string(result)}}).Increment();
}

void AgentMetrics::RecordReport(absl::string_view result) { reports_.Add({{"result", std::string(result)}}).Increment(); }

void AgentMetrics::SetActiveNotices(int n) { active_.Set(n); }

}  // namespace spotguard::agent
