// Running the real spotguard-agent binary against the e2e control plane, the way the
// DaemonSet does: its own pod on the node, the spotguard-agent ServiceAccount bound to the
// RBAC in manifests/base/agent-rbac.yaml, and two projected tokens (one for the API server,
// one with audience "spotguard" for the extender). Shared by the agent's e2e tests, the
// whole-chain tests and the benchmarks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/process.h"

namespace spotguard::e2e {

struct AgentCredentials {
  std::string kubeconfig;         // API server access as the agent's ServiceAccount
  std::string report_token_path;  // audience "spotguard", bound to the agent's pod
  std::string pod;                // the agent's pod on the node
};

// Applies manifests/base/namespace.yaml and agent-rbac.yaml (idempotent).
absl::Status ApplyAgentRbac(ControlPlane& cp);

// Creates the node, the agent's pod on it and its credentials (files under cp.dir()).
absl::StatusOr<AgentCredentials> ProvisionAgent(ControlPlane& cp, const NodeSpec& node);

// Starts build/bin/spotguard-agent for `node` and waits until it watches the node.
// `flags` add to (or override) the defaults: --listen_address=127.0.0.1:0,
// --poll_interval=250ms.
absl::StatusOr<std::unique_ptr<Process>> StartAgent(ControlPlane& cp, const std::string& node,
                                                    const AgentCredentials& creds, const std::string& extender_address,
                                                    const std::vector<std::string>& flags);

// The daemon's /metrics, from the address it logged when it started serving.
std::string ScrapeMetrics(Process& daemon);

// Starts AWS's ec2-metadata-mock on `port` (IMDSv2 only, every client IP eligible) with
// `args` (e.g. {"--mock-delay-sec=3"} or {"events", "--code=system-reboot"}).
absl::StatusOr<std::unique_ptr<Process>> StartEc2MetadataMock(ControlPlane& cp, int port,
                                                               std::vector<std::string> args);

}  // namespace spotguard::e2e
