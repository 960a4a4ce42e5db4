#include "node-agent/config.h"

#include "absl/strings/str_cat.h"
#include "node-agent/notice.h"

namespace spotguard::agent {

void RegisterFlags(FlagSet& f, Config& c) {
  f.Add("node_name", &c.node_name, "Kubernetes node this agent runs on").Env("NODE_NAME");
  f.Add("cloud", &c.cloud, "auto (from the node's providerID), azure, aws or gcp");
  f.Add("imds_endpoint", &c.imds_endpoint, "Base URL of the instance metadata service");
  f.Add("azure_endpoint", &c.azure_endpoint, "Azure metadata base URL (default: --imds_endpoint)");
  f.Add("aws_endpoint", &c.aws_endpoint, "AWS metadata base URL (default: --imds_endpoint)");
  f.Add("gcp_endpoint", &c.gcp_endpoint, "GCP metadata base URL (default: --imds_endpoint)");
  f.Add("poll_interval", &c.poll_interval, "How often to poll the metadata service");
  f.Add("resync_interval", &c.resync_interval,
        "How often the node is read afresh and made to match the active notices again (0: never)");
  f.Add("extender_address", &c.extender_address, "host:port of spotguard-extender's gRPC service");
  f.Add("token_path", &c.token_path, "Projected ServiceAccount token sent to the extender");
  f.Add("extender_ca_file", &c.extender_ca_file, "CA bundle (PEM) the extender's TLS certificate must chain to");
  f.Add("extender_server_name", &c.extender_server_name,
        "Name the extender's certificate must carry (default: the host of --extender_address)");
  f.Add("tls_cert_file", &c.tls_cert_file, "Client certificate (PEM) presented to the extender (mutual TLS); with --tls_key_file");
  f.Add("tls_key_file", &c.tls_key_file, "Private key (PEM) of --tls_cert_file");
  f.Add("insecure_plaintext", &c.insecure_plaintext,
        "Report to the extender without TLS: the token travels in the clear (tests only)");
  f.Add("kubeconfig", &c.kubeconfig, "kubeconfig file (default: in-cluster)").Env("KUBECONFIG");
  f.Add("listen_address", &c.listen_address, "Address for /metrics, /healthz and /readyz");
  f.Add("imds_timeout", &c.imds_timeout, "Timeout of one metadata request");
  f.Add("dry_run", &c.dry_run, "Log and count what would be done; change nothing");
  f.Add("taint_effect", &c.taint_effect, "Effect of the eviction-notice taint: NoSchedule, PreferNoSchedule or NoExecute");
  f.Add("azure_reboot_action", &c.azure_reboot_action, "Azure Reboot events: cordon, label or report");
  f.Add("azure_redeploy_action", &c.azure_redeploy_action, "Azure Redeploy events: cordon, label or report");
  f.Add("azure_freeze_action", &c.azure_freeze_action, "Azure Freeze events: cordon, label or report");
  f.Add("aws_maintenance_action", &c.aws_maintenance_action,
        "AWS scheduled reboots and system-maintenance: cordon, label or report");
  f.Add("rebalance_action", &c.rebalance_action, "AWS rebalance recommendations: cordon, label or report");
  f.Add("azure_ack", &c.azure_ack,
        "Approve Azure events early (StartRequests) once the extender has decommissioned the node's executors");
  f.Add("aws_imdsv1", &c.aws_imdsv1, "Use IMDSv1 (no session token); only where IMDSv2 is unavailable");
  f.Add("report_timeout", &c.report_timeout, "Timeout of one report to the extender");
  f.Add("log_level", &c.log_level, "debug, info, warn or error");
}

absl::Status Validate(const Config& c) {
  if (c.node_name.empty()) return absl::InvalidArgumentError("--node_name (or NODE_NAME) is required");
  if (c.cloud != "auto" && c.cloud != "azure" && c.cloud != "aws" && c.cloud != "gcp") {
    return absl::InvalidArgumentError(absl::StrCat("--cloud must be auto, azure, aws or gcp, not '", c.cloud, "'"));
  }
  if (c.poll_interval < absl::Milliseconds(250)) {
    return absl::InvalidArgumentError("--poll_interval must be at least 250ms (Azure IMDS allows about 5 requests/s)");
  }
  if (c.imds_timeout <= absl::ZeroDuration() || c.report_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--imds_timeout and --report_timeout must be positive");
  }
  for (auto [name, value] : {std::pair{"azure_reboot_action", &c.azure_reboot_action},
                             std::pair{"azure_redeploy_action", &c.azure_redeploy_action},
                             std::pair{"azure_freeze_action", &c.azure_freeze_action},
                             std::pair{"aws_maintenance_action", &c.aws_maintenance_action},
                             std::pair{"rebalance_action", &c.rebalance_action}}) {
    if (auto a = ParseAction(*value); !a.ok()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", a.status().message()));
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (!c.insecure_plaintext && !c.extender_address.empty() && c.extender_ca_file.empty()) {
    return absl::InvalidArgumentError("--extender_ca_file is required to verify the extender (or --insecure_plaintext)");
  }
  if (c.taint_effect != "NoSchedule" && c.taint_effect != "NoExecute" && c.taint_effect != "PreferNoSchedule") {
    return absl::InvalidArgumentError(
        absl::StrCat("--taint_effect must be NoSchedule, PreferNoSchedule or NoExecute, not '", c.taint_effect, "'"));
  }
  return absl::OkStatus();
}

}  // namespace spotguard::agent
