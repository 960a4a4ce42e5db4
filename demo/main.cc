// spotguard-demo: `make demo` (see demo.h). Only flag parsing here.
#include <cstdio>

#include "common/flags.h"
#include "common/log.h"
#include "demo/demo.h"

int main(int argc, char** argv) {
  spotguard::demo::Options o;
  spotguard::FlagSet flags("spotguard-demo",
                           "spotguard on one machine: real control plane, agents, extender, two spot evictions.");
  flags.Add("nodes", &o.nodes, "Spot nodes per pool and zone (2 pools x 2 zones x 2 clouds)");
  flags.Add("apps", &o.apps, "Spark applications");
  flags.Add("executors", &o.executors, "Executors per application");
  flags.Add("keep", &o.keep, "Leave it all running to explore (kubectl, /metrics) until Ctrl-C");
  bool kwok_only = false;
  flags.Add("kwok_only", &kwok_only, "Skip the real Spark jobs (Spark-shaped pods on kwok nodes only; about 15 s)");
  auto parsed = flags.Parse(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "spotguard-demo: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (*parsed == spotguard::FlagSet::Outcome::kExit) return 0;
  if (o.nodes < 1 || o.nodes > 10 || o.apps < 1 || o.apps > 20 || o.executors < 1 || o.executors > 50) {
    std::fprintf(stderr, "spotguard-demo: --nodes 1..10, --apps 1..20, --executors 1..50\n");
    return 2;
  }
  o.spark = !kwok_only;
  spotguard::log::SetLevel(spotguard::log::Level::kError);  // the demo narrates; daemons log to files
  absl::Status s = spotguard::demo::Run(o);
  if (!s.ok()) {
    std::fprintf(stderr, "\nspotguard-demo failed: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
