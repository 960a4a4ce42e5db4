#include "node-agent/config.h"

#include "absl/strings/str_cat.h"

namespace spotguard::agent {

void RegisterFlags(FlagSet& f, Config& c) {
  f.Add("node_name", &c.node_name, "Kubernetes node this agent runs on").Env("NODE_NAME");
  f.Add("cloud", &c.cloud, "auto (from the node's providerID), azure, aws or gcp");
  f.Add("imds_endpoint", &c.imds_endpoint, "Base URL of the instance metadata service");
  f.Add("azure_endpoint", &c.azure_endpoint, "Azure metadata base URL (default: --imds_endpoint)");
  f.Add("aws_endpoint", &c.aws_endpoint, "AWS metadata base URL (default: --imds_endpoint)");
  f.Add("gcp_endpoint", &c.gcp_endpoint, "GCP metadata base URL (default: --imds_endpoint)");
  f.Add("poll_interval", &c.poll_interval, "How often to poll the metadata service");
  f.Add("extender_address", &c.extender_address, "host:port of spotguard-extender's gRPC service");
  f.Add("token_path", &c.token_path, "Projected ServiceAccount token sent to the extender");
  f.Add("kubeconfig", &c.kubeconfig, "kubeconfig file (default: in-cluster)").Env("KUBECONFIG");
  f.Add("listen_address", &c.listen_address, "Address for /metrics, /healthz and /readyz");
  f.Add("dry_run", &c.dry_run, "Log and count what would be done; change nothing");
  f.Add("taint_effect", &c.taint_effect, "Effect of the eviction-notice taint: NoSchedule or NoExecute");
  f.Add("log_level", &c.log_level, "debug, info, warn or error");
}

absl::Status Validate(const Config& c) {
  if (c.node_name.empty()) return absl::InvalidArgumentError("--node_name (or NODE_NAME) is required");
  if (c.cloud != "auto" && c.cloud != "azure" && c.cloud != "aws" && c.cloud != "gcp") {
    return absl::InvalidArgumentError(absl::StrCat("--cloud must be auto, azure, aws or gcp, not '", c.cloud, "'"));
  }
  if (c.poll_interval < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError("--poll_interval must be at least 100ms (IMDS rate limits)");
  }
  if (c.taint_effect != "NoSchedule" && c.taint_effect != "NoExecute" && c.taint_effect != "PreferNoSchedule") {
    return absl::InvalidArgumentError(
        absl::StrCat("--taint_effect must be NoSchedule, PreferNoSchedule or NoExecute, not '", c.taint_effect, "'"));
  }
  return absl::OkStatus();
}

}  // namespace spotguard::agent
