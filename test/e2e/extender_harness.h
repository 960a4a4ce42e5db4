// Running the real spotguard-extender binary against the e2e control plane under the
// ServiceAccount and RBAC of manifests/base/extender-rbac.yaml, and a real kube-scheduler
// configured to call it. Shared by the extender's e2e tests, the whole-chain tests and the
// benchmarks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/process.h"

namespace spotguard::e2e {

struct RunningExtender {
  std::unique_ptr<Process> process;
  std::string http_address;  // host:port of /filter, /prioritize, /metrics
  std::string grpc_address;  // host:port of the EvictionService
};

// Applies manifests/base/namespace.yaml and extender-rbac.yaml (idempotent).
absl::Status ApplyExtenderRbac(ControlPlane& cp);

// A kubeconfig for the spotguard-extender ServiceAccount (a bound token of its own pod).
absl::StatusOr<std::string> ExtenderKubeconfig(ControlPlane& cp);

// Starts build/bin/spotguard-extender and waits until it serves and has synced its watches.
// `flags` add to (or override) --http_address=127.0.0.1:0 --grpc_address=127.0.0.1:0
// --namespace=spotguard-system --identity=<unique>.
absl::StatusOr<RunningExtender> StartExtender(ControlPlane& cp, const std::vector<std::string>& flags = {});

// A KubeSchedulerConfiguration for the profile `scheduler_name` calling the extender at
// `http_address` (kubeconfig left as __KUBECONFIG__ for scripts/controlplane.sh).
std::string SchedulerConfig(const std::string& http_address, bool node_cache_capable, int weight = 10,
                            const std::string& scheduler_name = "spotguard-scheduler");

}  // namespace spotguard::e2e
