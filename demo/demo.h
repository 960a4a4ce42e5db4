// The spotguard demo: the whole system on one machine, on an embedded default, with a
// readable timeline. Runs the real control plane (kube-apiserver, kube-scheduler as
// spotguard-scheduler calling the extender, kwok nodes), spotguard-extender, one
// spotguard-agent per spot node with its own metadata simulator (ec2-metadata-mock for AWS
// nodes, the Azure Scheduled Events fake for Azure nodes), Spark-shaped applications; then
// injects an AWS spot interruption and an Azure Preempt and narrates what happens. Then the
// real thing: a real Spark job through each eviction, with spotguard and without, side by side.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace spotguard::demo {

struct Options {
  int nodes = 1;    // spot nodes per pool and zone (2 pools × 2 zones × 2 clouds)
  int apps = 2;     // Spark applications
  int executors = 4;  // executors per application
  bool keep = false;  // leave everything running afterwards, until Ctrl-C
  // Then a real Spark job through an AWS interruption and an Azure Preempt, with spotguard and,
  // beside it, without (test/spark/scenario.h); false: the kwok-only part alone.
  bool spark = true;
};

absl::Status Run(const Options& options);

}  // namespace spotguard::demo
