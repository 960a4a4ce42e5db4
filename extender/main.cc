// spotguard-extender: kube-scheduler extender and EvictionService. Only wiring here.
#include <cstdio>

#include "common/kube/client.h"
#include "common/kube/config.h"
#include "common/log.h"
#include "common/malloc.h"
#include "common/signals.h"
#include "extender/config.h"
#include "extender/extender.h"

int main(int argc, char** argv) {
  using namespace spotguard;
  KeepFreedMemory(size_t{32} << 20);  // request and answer buffers, reused request after request
  StopSignal stop;
  StopOnSignals(stop);
  extender::Config config;
  FlagSet flags("spotguard-extender", "Risk-aware kube-scheduler extender and Spark executor decommissioner.",
                SPOTGUARD_VERSION);
  extender::RegisterFlags(flags, config);
  auto outcome = flags.Parse(argc, argv);
  if (!outcome.ok()) {
    std::fprintf(stderr, "spotguard-extender: %s\n", std::string(outcome.status().message()).c_str());
    return 2;
  }
  if (*outcome == FlagSet::Outcome::kExit) return 0;
  if (absl::Status s = extender::Validate(config); !s.ok()) {
    std::fprintf(stderr, "spotguard-extender: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  log::SetComponent("spotguard-extender");
  (void)log::SetLevel(config.log_level);
  log::Info("starting", {{"version", SPOTGUARD_VERSION}, {"config", flags.ResolvedConfig()}});

  auto kube_config = kube::ResolveConfig(config.kubeconfig, ProcessEnv());
  if (!kube_config.ok()) {
    log::Error("cannot start", {{"error", kube_config.status()}});
    return 1;
  }
  auto kube = kube::KubeClient::Create(*kube_config, RealClock::Get(),
                                       {.qps = config.kube_qps, .burst = config.kube_burst,
                                        .user_agent = "spotguard-extender"});
  if (!kube.ok()) {
    log::Error("cannot start", {{"error", kube.status()}});
    return 1;
  }
  // TokenReviews, the issuer's keys and agent pod reads: a budget of their own, so a flood of
  // bad tokens never delays an eviction.
  auto auth_kube = kube::KubeClient::Create(*kube_config, RealClock::Get(),
                                            {.qps = config.token_review_qps, .burst = config.token_review_burst,
                                             .max_attempts = 2, .timeout = absl::Seconds(10),
                                             .user_agent = "spotguard-extender/auth", .max_idle_connections = 2,
                                             .max_connections = 8});
  if (!auth_kube.ok()) {
    log::Error("cannot start", {{"error", auth_kube.status()}});
    return 1;
  }
  extender::Extender extender(config, RealClock::Get(), **kube, **auth_kube);
  if (absl::Status s = extender.Start(); !s.ok()) {
    log::Error("cannot start", {{"error", s}});
    return 1;
  }
  extender.Run(stop);
  return 0;
}
