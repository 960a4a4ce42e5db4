// spotguard-extender's configuration: every flag, its environment variable and its default.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/flags.h"

namespace spotguard::extender {

struct Config {
  std::string http_address = ":8888";   // kube-scheduler extender API, /metrics, probes
  std::string grpc_address = ":8889";   // EvictionService
  std::string kubeconfig;
  bool dry_run = false;
  std::string log_level = "info";
};

void RegisterFlags(FlagSet& flags, Config& config);
absl::Status Validate(const Config& config);

}  // namespace spotguard::extender
