// spotguard-extender: kube-scheduler extender and EvictionService.
#include <cstdio>

#include "common/flags.h"
#include "common/log.h"
#include "extender/config.h"

int main(int argc, char** argv) {
  using namespace spotguard;
  extender::Config config;
  FlagSet flags("spotguard-extender", "Risk-aware scheduler extender and Spark decommissioner.", SPOTGUARD_VERSION);
  extender::RegisterFlags(flags, config);
  auto outcome = flags.Parse(argc, argv);
  if (!outcome.ok()) {
    std::fprintf(stderr, "spotguard-extender: %s\n", std::string(outcome.status().message()).c_str());
    return 2;
  }
  if (*outcome == FlagSet::Outcome::kExit) return 0;
  log::SetComponent("spotguard-extender");
  log::Info("starting", {{"version", SPOTGUARD_VERSION}, {"config", flags.ResolvedConfig()}});
  return 0;
}
