// Running the real spotguard-extender binary against the e2e control plane under the
// ServiceAccount and RBAC of manifests/base/extender-rbac.yaml, and a real kube-scheduler
// configured to call it. Shared by the extender's e2e tests, the whole-chain tests and the
// benchmarks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/credentials.h"
#include "common/tls.h"
#include "httplib.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/process.h"

namespace spotguard::e2e {

// The TLS material of scripts/make-certs.sh, made once per control plane under its dir.
struct SpotguardCerts {
  tls::Files extender;   // the extender's server certificate; ca_file = the CA of all three
  tls::Files scheduler;  // kube-scheduler's client certificate
  tls::Files agent;      // an agent's client certificate
};
absl::StatusOr<SpotguardCerts> MakeSpotguardCerts(ControlPlane& cp);

struct RunningExtender {
  std::unique_ptr<Process> process;
  std::string http_address;     // host:port of /filter, /prioritize, /bind (HTTPS, client certificate)
  std::string grpc_address;     // host:port of the EvictionService (TLS)
  std::string metrics_address;  // host:port of /metrics, probes, /debug/* (HTTP)
  SpotguardCerts certs;
};

// A client of the scheduler API presenting kube-scheduler's certificate.
std::unique_ptr<httplib::SSLClient> SchedulerApiClient(const RunningExtender& ext);
// The extender's /metrics.
std::string ScrapeExtender(const RunningExtender& ext);
// Reporter channel options an agent uses for this extender (TLS, verified against the CA).
grpc_tls::ChannelOptions AgentChannel(const RunningExtender& ext);

// Applies manifests/base/namespace.yaml and extender-rbac.yaml (idempotent).
absl::Status ApplyExtenderRbac(ControlPlane& cp);

// A kubeconfig for the spotguard-extender ServiceAccount (a bound token of its own pod).
absl::StatusOr<std::string> ExtenderKubeconfig(ControlPlane& cp);

// Starts build/bin/spotguard-extender and waits until it serves and has synced its watches.
// `flags` add to (or override) --http_address=127.0.0.1:0 --grpc_address=127.0.0.1:0
// --metrics_address=127.0.0.1:0 --namespace=spotguard-system --identity=<unique> and the TLS
// files of MakeSpotguardCerts.
absl::StatusOr<RunningExtender> StartExtender(ControlPlane& cp, const std::vector<std::string>& flags = {});

// A KubeSchedulerConfiguration for the profile `scheduler_name` calling `ext` over HTTPS with
// kube-scheduler's client certificate (kubeconfig left as __KUBECONFIG__ for
// scripts/controlplane.sh).
std::string SchedulerConfig(const RunningExtender& ext, bool node_cache_capable, int weight = 10,
                            const std::string& scheduler_name = "spotguard-scheduler");

}  // namespace spotguard::e2e
