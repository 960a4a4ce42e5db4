// spotguard-agent: watches the cloud's eviction notices for one node. Only wiring here.
#include <malloc.h>

#include <cstdio>

#include "common/http_server.h"
#include "common/kube/client.h"
#include "common/kube/config.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/tls.h"
#include "node-agent/agent.h"
#include "node-agent/config.h"
#include "node-agent/sources/factory.h"

namespace {
int Fail(const absl::Status& s) {
  spotguard::log::Error("cannot start", {{"error", s}});
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace spotguard;
  // One malloc arena: a dozen mostly idle threads do not contend, and each extra arena
  // would keep its own partly used pages resident (bench/RESULTS.md, "Agent").
  mallopt(M_ARENA_MAX, 1);
  StopSignal stop;
  StopOnSignals(stop);
  agent::Config config;
  FlagSet flags("spotguard-agent", "Watches cloud eviction notices for one Kubernetes node.", SPOTGUARD_VERSION);
  agent::RegisterFlags(flags, config);
  auto outcome = flags.Parse(argc, argv);
  if (!outcome.ok()) {
    std::fprintf(stderr, "spotguard-agent: %s\n", std::string(outcome.status().message()).c_str());
    return 2;
  }
  if (*outcome == FlagSet::Outcome::kExit) return 0;
  if (absl::Status s = agent::Validate(config); !s.ok()) {
    std::fprintf(stderr, "spotguard-agent: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  log::SetComponent("spotguard-agent");
  (void)log::SetLevel(config.log_level);
  log::Info("starting", {{"version", SPOTGUARD_VERSION}, {"node", config.node_name}, {"config", flags.ResolvedConfig()}});

  auto kube_config = kube::ResolveConfig(config.kubeconfig, ProcessEnv());
  if (!kube_config.ok()) return Fail(kube_config.status());
  // One API call at a time, nearly always: one idle TLS connection is enough to keep.
  auto kube = kube::KubeClient::Create(*kube_config, RealClock::Get(),
                                       {.user_agent = "spotguard-agent", .max_idle_connections = 1});
  if (!kube.ok()) return Fail(kube.status());
  std::unique_ptr<agent::Reporter> reporter;
  if (config.extender_address.empty()) {
    log::Warn("no --extender_address: notices are acted on locally, reports to the extender are off");
  } else {
    tls::Files files{.cert_file = config.tls_cert_file, .key_file = config.tls_key_file,
                     .ca_file = config.extender_ca_file};
    if (config.insecure_plaintext) {
      log::Warn("reporting to the extender in plaintext (--insecure_plaintext): the token travels in the clear",
                {{"extender_address", config.extender_address}});
    } else if (absl::Status s = tls::Check(files); !s.ok()) {
      return Fail(s);
    }
    reporter = agent::NewGrpcReporter({.address = config.extender_address,
                                       .token_path = config.token_path,
                                       .timeout = config.report_timeout,
                                       .channel = {.tls = files,
                                                   .server_name = config.extender_server_name,
                                                   .plaintext = config.insecure_plaintext}});
  }

  MetricsRegistry registry;
  agent::AgentMetrics metrics(registry);
  agent::Agent agent(config, RealClock::Get(), **kube, reporter.get(), metrics, [&](const kube::NodeFacts& node) {
    return agent::sources::MakeSources(config, node, RealClock::Get());
  });

  HttpServer server({.address = config.listen_address, .threads = 4});
  server.ServeMetrics(registry);
  server.ServeProbes([&] { return agent.Healthy(); }, [&] { return agent.Ready(); });
  if (absl::Status s = server.Start(); !s.ok()) return Fail(s);
  log::Info("serving /metrics, /healthz, /readyz", {{"address", server.BoundAddress()}});

  if (absl::Status s = agent.Start(stop); !s.ok()) {
    if (stop.stopped()) return 0;
    return Fail(s);
  }
  agent.Run(stop);
  server.Stop();
  return 0;
}
