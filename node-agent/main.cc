// spotguard-agent: watches the cloud's eviction notices for one node.
#include <cstdio>

#include "common/flags.h"
#include "common/log.h"
#include "node-agent/config.h"

int main(int argc, char** argv) {
  using namespace spotguard;
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
  log::Info("starting", {{"version", SPOTGUARD_VERSION}, {"config", flags.ResolvedConfig()}});
  return 0;
}
