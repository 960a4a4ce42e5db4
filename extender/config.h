// spotguard-extender's configuration: every flag, its environment variable and its default.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "extender/risk/model.h"

namespace spotguard::extender {

struct Config {
  // Serving
  std::string http_address = ":8888";  // kube-scheduler extender API (HTTPS, client certificate required)
  int http_threads = 16;
  int64_t max_body_bytes = 64 << 20;
  absl::Duration keep_alive = absl::Seconds(120);  // longer than Go's 90 s idle timeout
  std::string grpc_address = ":8889";              // EvictionService (TLS)
  std::string metrics_address = ":9102";           // /metrics, probes, /debug/* (plain HTTP)
  bool debug_endpoints = false;                    // serve /debug/* on metrics_address
  // Both servers' certificate; the CA kube-scheduler's client certificate must chain to; the
  // CA agents' client certificates must chain to ("" = agents authenticate by token alone).
  std::string tls_cert_file = "/etc/spotguard/tls/tls.crt";
  std::string tls_key_file = "/etc/spotguard/tls/tls.key";
  std::string scheduler_ca_file = "/etc/spotguard/tls/ca.crt";
  std::string agent_ca_file;
  bool insecure_plaintext = false;  // both servers without TLS (tests only)
  std::string kubeconfig;
  // API rate as client-go's QPS/Burst: binding goes through the extender (bindVerb), so match
  // kube-scheduler's clientConnection (its defaults are 50/100 too).
  double kube_qps = 100;
  int kube_burst = 300;
  std::string namespace_ = "spotguard-system";     // where the risk ConfigMap lives
  std::string identity;                            // this replica, for claims (POD_NAME)
  // Who may report
  std::string token_audience = "spotguard";
  std::vector<std::string> agent_service_accounts = {"spotguard-system/spotguard-agent"};
  // How their tokens are checked: here against the issuer's keys, with the agent pods from a
  // watch; TokenReviews (and pod reads) on a client of their own, never the evictions' budget.
  bool local_token_verification = true;
  std::string agent_pod_selector = "app.kubernetes.io/name=spotguard-agent";
  absl::Duration token_keys_refresh = absl::Minutes(5);
  double token_review_qps = 20;
  int token_review_burst = 40;
  absl::Duration auth_failure_ttl = absl::Seconds(30);
  double auth_peer_failure_qps = 2;
  int auth_peer_failure_burst = 20;
  // Scheduling policy
  std::string driver_selector = "spark-role=driver";
  std::string executor_selector = "spark-role=executor";
  std::string app_label = "spark-app-selector";
  double risk_cap = 0.2;
  int on_demand_score = 5;
  int spread_weight = 4;
  bool score_all_pods = false;
  // Risk model (defaults: risk::RiskParams)
  absl::Duration risk_half_life = risk::RiskParams{}.half_life;
  absl::Duration risk_horizon = risk::RiskParams{}.horizon;
  double risk_prior_evictions = risk::RiskParams{}.prior_evictions;
  double risk_prior_hours = risk::RiskParams{}.prior_hours;
  double rebalance_risk = 0.5;
  std::string risk_configmap = "spotguard-risk";
  absl::Duration persist_interval = absl::Minutes(1);
  // Decommissioning
  absl::Duration margin = absl::Seconds(5);
  absl::Duration min_grace = absl::Seconds(2);
  absl::Duration max_grace = absl::Minutes(10);
  absl::Duration delete_fallback = absl::Seconds(10);
  bool drain = false;
  int eviction_parallelism = 32;
  absl::Duration decommission_lead = absl::ZeroDuration();  // zero: max_grace + margin
  int decommission_workers = 4;
  bool dry_run = false;
  std::string capture_dir;  // save scheduler requests (fixtures)
  std::string log_level = "info";
};

void RegisterFlags(FlagSet& flags, Config& config);
absl::Status Validate(const Config& config);

}  // namespace spotguard::extender
