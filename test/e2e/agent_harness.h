// Running the real spotguard-agent binary against the e2e control plane, the way the
// DaemonSet does: its own pod on the node, the spotguard-agent ServiceAccount bound to the
// RBAC in manifests/base/agent-rbac.yaml under the admission policy beside it
// (agent-admission-policy.yaml), and two projected tokens (one for the API server, one with
// audience "spotguard" for the extender). Shared by the agent's e2e tests, the whole-chain
// tests and the benchmarks.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/process.h"

namespace spotguard::e2e {

struct AgentCredentials {
  std::string kubeconfig;         // API server access as the agent's ServiceAccount
  std::string api_token;          // the token in it, bound to the agent's pod (and so its node)
  std::string report_token_path;  // audience "spotguard", bound to the agent's pod
  std::string pod;                // the agent's pod on the node
};

// Applies manifests/base/namespace.yaml, agent-rbac.yaml and agent-admission-policy.yaml
// (idempotent), and returns once the API server enforces the policy.
absl::Status ApplyAgentRbac(ControlPlane& cp);

// The ValidatingAdmissionPolicy (and its binding) in manifests/base/agent-admission-policy.yaml.
inline constexpr char kAgentPolicy[] = "spotguard-agent-own-node";
// Whether the API server refused a request by that policy: 403, the message naming it.
bool RefusedByAgentPolicy(const absl::Status& s);
// Repeats `request` until the policy refuses it: OK then, DeadlineExceeded with the last
// answer once `timeout` passes. For what the API server takes in a moment after it is
// created (a policy, a RoleBinding): the caller paces `request`, e.g. by its client's qps.
absl::Status RetryUntilRefusedByAgentPolicy(const std::function<absl::Status()>& request,
                                            absl::Duration timeout = absl::Seconds(30));

// Creates the node, the agent's pod on it and its credentials (files under cp.dir()).
absl::StatusOr<AgentCredentials> ProvisionAgent(ControlPlane& cp, const NodeSpec& node);

// Starts build/bin/spotguard-agent for `node` and waits until it watches the node.
// `flags` add to (or override) the defaults: --listen_address=127.0.0.1:0,
// --poll_interval=250ms, --extender_ca_file of MakeSpotguardCerts.
absl::StatusOr<std::unique_ptr<Process>> StartAgent(ControlPlane& cp, const std::string& node,
                                                    const AgentCredentials& creds, const std::string& extender_address,
                                                    const std::vector<std::string>& flags);

// The daemon's /metrics, from the address it logged when it started serving.
std::string ScrapeMetrics(Process& daemon);

// Starts AWS's ec2-metadata-mock on `port` (every client IP eligible) with `args` (e.g.
// {"--mock-delay-sec=3"} or {"events", "--code=system-reboot"}). With `imdsv2_only` it
// refuses requests without a session token from itself; without, it serves the token PUT
// as usual but accepts any token (or none), so clients keep working when a benchmark swaps
// one mock for another behind a proxy. Returns once it answers.
absl::StatusOr<std::unique_ptr<Process>> StartEc2MetadataMock(ControlPlane& cp, int port,
                                                               std::vector<std::string> args,
                                                               bool imdsv2_only = true);

// Runs aws-node-termination-handler (scripts/build-tools.sh builds it; bench only) in IMDS
// mode for `node`, polling `metadata_url`, as its Helm chart's DaemonSet would: the
// ServiceAccount kube-system/aws-node-termination-handler bound to the chart's ClusterRole
// (templates/clusterrole.yaml, without Events), `flags` added to --node-name,
// --metadata-url, --json-logging. NTH reaches the API server only through
// rest.InClusterConfig(): KUBERNETES_SERVICE_HOST/PORT and the token and CA at the fixed
// path /var/run/secrets/kubernetes.io/serviceaccount/ (no kubeconfig flag or variable). So
// it runs in a private mount namespace (unshare(1); unprivileged via a user namespace when
// not root) where that directory is a bind mount of files written under cp.dir(). Returns
// once NTH says it has started; fails naming what is missing otherwise. NTH does not exit
// on SIGTERM (its main loop's `break` leaves only a select): stop it with SIGKILL.
absl::StatusOr<std::unique_ptr<Process>> StartNodeTerminationHandler(ControlPlane& cp, const std::string& node,
                                                                     const std::string& metadata_url,
                                                                     const std::vector<std::string>& flags);

}  // namespace spotguard::e2e
