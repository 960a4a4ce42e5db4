#include "extender/config.h"

#include "absl/strings/str_cat.h"
#include "extender/risk/policy.h"

namespace spotguard::extender {

void RegisterFlags(FlagSet& f, Config& c) {
  f.Add("http_address", &c.http_address,
        "Address of the scheduler extender API (/filter, /prioritize, /bind): HTTPS, kube-scheduler's client certificate required");
  f.Add("http_threads", &c.http_threads, "Connections served at once (kube-scheduler keeps one alive per scheduler)");
  f.Add("max_body_bytes", &c.max_body_bytes, "Largest scheduler request accepted (413 beyond)");
  f.Add("keep_alive", &c.keep_alive, "HTTP keep-alive; must outlive Go's 90s idle timeout");
  f.Add("grpc_address", &c.grpc_address, "Address of the EvictionService gRPC server (TLS)");
  f.Add("metrics_address", &c.metrics_address, "Address of /metrics, /healthz, /readyz and /debug/* (plain HTTP)");
  f.Add("debug_endpoints", &c.debug_endpoints, "Serve /debug/nodes (the node inventory) on --metrics_address");
  f.Add("tls_cert_file", &c.tls_cert_file, "TLS certificate (PEM) of the scheduler API and the gRPC server; re-read on rotation");
  f.Add("tls_key_file", &c.tls_key_file, "Private key (PEM) of --tls_cert_file");
  f.Add("scheduler_ca_file", &c.scheduler_ca_file, "CA bundle (PEM) kube-scheduler's client certificate must chain to");
  f.Add("agent_ca_file", &c.agent_ca_file,
        "CA bundle (PEM) agents' client certificates must chain to (empty: agents authenticate by token alone)");
  f.Add("insecure_plaintext", &c.insecure_plaintext,
        "Serve the scheduler API and gRPC without TLS or client certificates (tests only)");
  f.Add("kubeconfig", &c.kubeconfig, "kubeconfig file (default: in-cluster)").Env("KUBECONFIG");
  f.Add("kube_qps", &c.kube_qps, "API requests per second (<= 0: unlimited)");
  f.Add("kube_burst", &c.kube_burst, "API request burst (one node's decommission of 50 executors is 150 requests)");
  f.Add("namespace", &c.namespace_, "Namespace of the risk ConfigMap (empty: do not persist)").Env("POD_NAMESPACE");
  f.Add("identity", &c.identity, "This replica's name, written into pod claims").Env("POD_NAME");
  f.Add("token_audience", &c.token_audience, "Audience the agents' tokens must carry");
  f.Add("agent_service_accounts", &c.agent_service_accounts,
        "namespace/name of the ServiceAccounts allowed to report (empty: any)");
  f.Add("local_token_verification", &c.local_token_verification,
        "Check agent tokens here against the service-account issuer's keys (false: a TokenReview for each)");
  f.Add("agent_pod_selector", &c.agent_pod_selector,
        "Label selector of the agent pods watched to check a token's bound pod (in the agents' namespace)");
  f.Add("token_keys_refresh", &c.token_keys_refresh, "How often the service-account issuer's keys are re-read");
  f.Add("token_review_qps", &c.token_review_qps,
        "API requests per second for TokenReviews, issuer keys and agent pod reads (their own budget; <= 0: unlimited)");
  f.Add("token_review_burst", &c.token_review_burst, "Burst of those requests");
  f.Add("auth_failure_ttl", &c.auth_failure_ttl, "How long a refused token is refused again without being checked");
  f.Add("auth_peer_failure_qps", &c.auth_peer_failure_qps,
        "Failed authentications per second one address may cause before it is refused unchecked (<= 0: no limit)");
  f.Add("auth_peer_failure_burst", &c.auth_peer_failure_burst, "Burst of failed authentications per address");
  f.Add("driver_selector", &c.driver_selector, "Label selector of Spark drivers (kept off spot nodes)");
  f.Add("executor_selector", &c.executor_selector, "Label selector of Spark executors (scored, decommissioned)");
  f.Add("app_label", &c.app_label, "Label naming a pod's Spark application (spread)");
  f.Add("risk_cap", &c.risk_cap, "Eviction probability over the horizon at which a spot node scores 0");
  f.Add("on_demand_score", &c.on_demand_score, "Score (0-10) of on-demand nodes for executors");
  f.Add("spread_weight", &c.spread_weight, "Most points taken from a node crowded with the application's executors");
  f.Add("score_all_pods", &c.score_all_pods, "Score every pod by risk, not only Spark executors");
  f.Add("risk_half_life", &c.risk_half_life, "Half-life of eviction evidence");
  f.Add("risk_horizon", &c.risk_horizon, "Horizon of the scored eviction probability");
  f.Add("risk_prior_evictions", &c.risk_prior_evictions, "Prior evictions ...");
  f.Add("risk_prior_hours", &c.risk_prior_hours, "... per this many spot node-hours");
  f.Add("rebalance_risk", &c.rebalance_risk, "Eviction probability floor of a node with a rebalance recommendation");
  f.Add("risk_configmap", &c.risk_configmap, "ConfigMap holding the risk history");
  f.Add("persist_interval", &c.persist_interval, "How often the risk history is written");
  f.Add("margin", &c.margin, "Time kept between an executor's grace period and the node's end");
  f.Add("min_grace", &c.min_grace, "Shortest grace period given to an executor");
  f.Add("max_grace", &c.max_grace, "Longest grace period given to an executor");
  f.Add("delete_fallback", &c.delete_fallback,
        "When a PodDisruptionBudget blocks eviction, delete this long before the deadline");
  f.Add("drain", &c.drain, "Also evict every other pod on a doomed node (not DaemonSets)");
  f.Add("eviction_parallelism", &c.eviction_parallelism, "Evictions in flight, all notices together");
  f.Add("decommission_lead", &c.decommission_lead,
        "Decommission executors this long before a notice's deadline (0: --max_grace + --margin); "
        "far-ahead notices wait until then");
  f.Add("decommission_workers", &c.decommission_workers, "Notices decommissioned at once");
  f.Add("dry_run", &c.dry_run, "Log and count evictions instead of sending them");
  f.Add("capture_dir", &c.capture_dir, "Save the first scheduler requests here (test fixtures)");
  f.Add("log_level", &c.log_level, "debug, info, warn or error");
}

absl::Status Validate(const Config& c) {
  for (const auto& [name, sel] : {std::pair{"driver_selector", &c.driver_selector},
                                  std::pair{"executor_selector", &c.executor_selector}}) {
    auto parsed = risk::LabelSelector::Parse(*sel);
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", parsed.status().message()));
    if (parsed->empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " must not be empty"));
  }
  if (c.risk_cap <= 0 || c.risk_cap > 1) return absl::InvalidArgumentError("--risk_cap must be in (0, 1]");
  if (c.on_demand_score < 0 || c.on_demand_score > 10) return absl::InvalidArgumentError("--on_demand_score must be 0..10");
  if (c.spread_weight < 0 || c.spread_weight > 10) return absl::InvalidArgumentError("--spread_weight must be 0..10");
  if (c.risk_half_life <= absl::ZeroDuration() || c.risk_horizon <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--risk_half_life and --risk_horizon must be positive");
  }
  if (c.risk_prior_evictions < 0 || c.risk_prior_hours <= 0) {
    return absl::InvalidArgumentError("--risk_prior_evictions must be >= 0 and --risk_prior_hours > 0");
  }
  if (c.rebalance_risk < 0 || c.rebalance_risk > 1) return absl::InvalidArgumentError("--rebalance_risk must be 0..1");
  if (c.min_grace < absl::ZeroDuration() || c.max_grace < c.min_grace) {
    return absl::InvalidArgumentError("--min_grace must be >= 0 and <= --max_grace");
  }
  if (c.max_body_bytes < 1024) return absl::InvalidArgumentError("--max_body_bytes must be at least 1024");
  if (c.keep_alive <= absl::Seconds(90)) {
    return absl::InvalidArgumentError("--keep_alive must be longer than 90s: Go's client does not retry a POST on a closed connection");
  }
  if (c.kube_qps > 0 && c.kube_burst < 1) return absl::InvalidArgumentError("--kube_burst must be >= 1");
  if (c.token_review_qps > 0 && c.token_review_burst < 1) {
    return absl::InvalidArgumentError("--token_review_burst must be >= 1");
  }
  if (auto sel = risk::LabelSelector::Parse(c.agent_pod_selector); !sel.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--agent_pod_selector: ", sel.status().message()));
  }
  if (c.token_keys_refresh < absl::Seconds(10)) return absl::InvalidArgumentError("--token_keys_refresh must be >= 10s");
  if (c.auth_failure_ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("--auth_failure_ttl must be >= 0");
  if (c.auth_peer_failure_qps > 0 && c.auth_peer_failure_burst < 1) {
    return absl::InvalidArgumentError("--auth_peer_failure_burst must be >= 1");
  }
  if (c.http_threads < 2 || c.eviction_parallelism < 1 || c.decommission_workers < 1) {
    return absl::InvalidArgumentError(
        "--http_threads must be >= 2, --eviction_parallelism and --decommission_workers >= 1");
  }
  if (c.decommission_lead < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--decommission_lead must be >= 0");
  }
  if (!c.insecure_plaintext && (c.tls_cert_file.empty() || c.tls_key_file.empty() || c.scheduler_ca_file.empty())) {
    return absl::InvalidArgumentError(
        "--tls_cert_file, --tls_key_file and --scheduler_ca_file are required (or --insecure_plaintext)");
  }
  return absl::OkStatus();
}

}  // namespace spotguard::extender
