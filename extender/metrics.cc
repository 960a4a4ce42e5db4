#include "extender/metrics.h"

#include "absl/strings/str_cat.h"

namespace spotguard::extender {

ExtenderMetrics::ExtenderMetrics(MetricsRegistry& r)
    : requests_(prometheus::BuildCounter()
                    .Name("spotguard_extender_requests_total")
                    .Help("Scheduler extender requests, by verb and HTTP code")
                    .Register(r.registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("spotguard_extender_request_duration_seconds")
                    .Help("Time to answer a scheduler extender request, by verb")
                    .Register(r.registry())),
      filtered_(prometheus::BuildCounter()
                    .Name("spotguard_extender_filtered_nodes_total")
                    .Help("Nodes /filter rejected, by reason")
                    .Register(r.registry())),
      unknown_(prometheus::BuildCounter()
                   .Name("spotguard_extender_unknown_nodes_total")
                   .Help("Candidate nodes not yet in the extender's cache (passed, scored 0), by verb")
                   .Register(r.registry())),
      notices_(prometheus::BuildCounter()
                   .Name("spotguard_notices_received_total")
                   .Help("Notices received, by cloud, kind and channel (grpc or watch); each notice once")
                   .Register(r.registry())),
      refused_(prometheus::BuildCounter()
                   .Name("spotguard_notices_refused_total")
                   .Help("Notices refused, by reason (id, cloud, kind, action, time, not_object: invalid; stale; full) "
                         "and channel")
                   .Register(r.registry())),
      grpc_(prometheus::BuildCounter()
                .Name("spotguard_extender_grpc_requests_total")
                .Help("EvictionService calls, by method and gRPC code")
                .Register(r.registry())),
      tls_refused_(prometheus::BuildCounter()
                       .Name("spotguard_extender_tls_handshakes_refused_total")
                       .Help("TLS handshakes refused, by server and the alert sent (a missing or untrusted client certificate)")
                       .Register(r.registry())),
      auth_failures_(prometheus::BuildCounter()
                         .Name("spotguard_extender_auth_failures_total")
                         .Help("EvictionService callers refused, by reason (no_token, malformed, bad_signature, "
                               "unknown_key, wrong_issuer, wrong_audience, expired, not_yet_valid, "
                               "not_service_account, not_allowed, pod_gone, pod_uid_mismatch, wrong_node, rejected, "
                               "unavailable, rate_limited)")
                         .Register(r.registry())),
      authentications_(prometheus::BuildCounter()
                           .Name("spotguard_extender_authentications_total")
                           .Help("EvictionService callers let in, by how the token was checked (jwks: the issuer's "
                                 "keys here; token_review: the API server; cache: an earlier check)")
                           .Register(r.registry())),
      decommissions_(prometheus::BuildCounter()
                         .Name("spotguard_decommissions_total")
                         .Help("Executor decommissions, by result")
                         .Register(r.registry())),
      notice_to_decommission_(prometheus::BuildHistogram()
                                  .Name("spotguard_notice_to_decommission_seconds")
                                  .Help("Notice first seen by the agent to every executor eviction sent")
                                  .Register(r.registry())
                                  .Add({}, OperationLatencyBuckets())),
      eviction_rate_(prometheus::BuildGauge()
                         .Name("spotguard_eviction_rate")
                         .Help("Modelled evictions per spot node-hour, by domain kind (pool, zone, type) and domain")
                         .Register(r.registry())),
      nodes_(prometheus::BuildGauge()
                 .Name("spotguard_extender_nodes")
                 .Help("Nodes in the extender's cache, by capacity (spot, on_demand) and doomed")
                 .Register(r.registry())),
      state_size_(prometheus::BuildGauge()
                      .Name("spotguard_extender_state_size")
                      .Help("Entries in the extender's bounded maps and queues, by what they hold")
                      .Register(r.registry())) {}

void ExtenderMetrics::RecordNoticeRefused(absl::string_view reason, absl::string_view channel) {
  refused_.Add({{"reason", std::string(reason)}, {"channel", std::string(channel)}}).Increment();
}

void ExtenderMetrics::SetStateSize(absl::string_view what, double size) {
  state_size_.Add({{"what", std::string(what)}}).Set(size);
}

void ExtenderMetrics::RecordRequest(absl::string_view verb, int code, absl::Duration took) {
  requests_.Add({{"verb", std::string(verb)}, {"code", absl::StrCat(code)}}).Increment();
  duration_.Add({{"verb", std::string(verb)}}, RequestLatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
}

void ExtenderMetrics::RecordFiltered(absl::string_view reason, int count) {
  if (count > 0) filtered_.Add({{"reason", std::string(reason)}}).Increment(count);
}

void ExtenderMetrics::RecordUnknownNodes(absl::string_view verb, int count) {
  if (count > 0) unknown_.Add({{"verb", std::string(verb)}}).Increment(count);
}

void ExtenderMetrics::RecordNoticeReceived(absl::string_view cloud, absl::string_view kind, absl::string_view channel) {
  notices_.Add({{"cloud", std::string(cloud)}, {"kind", std::string(kind)}, {"channel", std::string(channel)}}).Increment();
}

void ExtenderMetrics::RecordGrpc(absl::string_view method, absl::string_view code) {
  grpc_.Add({{"method", std::string(method)}, {"code", std::string(code)}}).Increment();
}

void ExtenderMetrics::RecordTlsRefused(absl::string_view server, absl::string_view alert) {
  tls_refused_.Add({{"server", std::string(server)}, {"alert", std::string(alert)}}).Increment();
}

void ExtenderMetrics::RecordAuthFailure(absl::string_view reason) {
  auth_failures_.Add({{"reason", std::string(reason)}}).Increment();
}

void ExtenderMetrics::RecordAuthentication(absl::string_view method) {
  authentications_.Add({{"method", std::string(method)}}).Increment();
}

void ExtenderMetrics::RecordDecommission(absl::string_view result) {
  decommissions_.Add({{"result", std::string(result)}}).Increment();
}

void ExtenderMetrics::RecordNoticeToDecommission(absl::Duration d) {
  notice_to_decommission_.Observe(absl::ToDoubleSeconds(d));
}

void ExtenderMetrics::SetEvictionRate(absl::string_view kind, absl::string_view domain, double per_hour) {
  eviction_rate_.Add({{"domain_kind", std::string(kind)}, {"domain", std::string(domain)}}).Set(per_hour);
}

void ExtenderMetrics::SetNodes(int spot, int on_demand, int doomed) {
  nodes_.Add({{"capacity", "spot"}}).Set(spot);
  nodes_.Add({{"capacity", "on_demand"}}).Set(on_demand);
  nodes_.Add({{"capacity", "doomed"}}).Set(doomed);
}

}  // namespace spotguard::extender
