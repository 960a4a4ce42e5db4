// spotguard-extender's Prometheus metrics. Call sites say what happened; only this class
// touches prometheus-cpp. Labels are low-cardinality: no node, pod or application names.
// The per-domain eviction-rate gauge is labelled by pool, zone and instance type: bounded by
// the cluster's shape, not by its churn.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace spotguard::extender {

class ExtenderMetrics {
 public:
  explicit ExtenderMetrics(MetricsRegistry& registry);

  void RecordRequest(absl::string_view verb, int code, absl::Duration took);
  void RecordFiltered(absl::string_view reason, int count);
  void RecordUnknownNodes(absl::string_view verb, int count);
  void RecordNoticeReceived(absl::string_view cloud, absl::string_view kind, absl::string_view channel);
  // A notice refused: invalid (the contract's RejectReason), stale (an occurrence already
  // withdrawn) or full (too many active), by channel.
  void RecordNoticeRefused(absl::string_view reason, absl::string_view channel);
  void RecordGrpc(absl::string_view method, absl::string_view code);
  // A TLS handshake this side refused, by server and the alert it sent ("certificate required").
  void RecordTlsRefused(absl::string_view server, absl::string_view alert);
  // An EvictionService caller refused, by reason (Authenticator: no_token, bad_signature,
  // expired, wrong_node, rate_limited, ...), and one let in, by how its token was checked
  // (jwks, token_review, cache).
  void RecordAuthFailure(absl::string_view reason);
  void RecordAuthentication(absl::string_view method);
  void RecordDecommission(absl::string_view result);
  void RecordNoticeToDecommission(absl::Duration d);
  void SetEvictionRate(absl::string_view domain_kind, absl::string_view domain, double per_hour);
  void SetNodes(int spot, int on_demand, int doomed);
  // The size of one of the extender's bounded maps and queues (spotguard_extender_state_size).
  void SetStateSize(absl::string_view what, double size);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& filtered_;
  prometheus::Family<prometheus::Counter>& unknown_;
  prometheus::Family<prometheus::Counter>& notices_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& grpc_;
  prometheus::Family<prometheus::Counter>& tls_refused_;
  prometheus::Family<prometheus::Counter>& auth_failures_;
  prometheus::Family<prometheus::Counter>& authentications_;
  prometheus::Family<prometheus::Counter>& decommissions_;
  prometheus::Histogram& notice_to_decommission_;
  prometheus::Family<prometheus::Gauge>& eviction_rate_;
  prometheus::Family<prometheus::Gauge>& nodes_;
  prometheus::Family<prometheus::Gauge>& state_size_;
};

}  // namespace spotguard::extender
