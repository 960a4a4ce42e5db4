#include "extender/config.h"

namespace spotguard::extender {

void RegisterFlags(FlagSet& f, Config& c) {
  f.Add("http_address", &c.http_address, "Address of the scheduler extender API, /metrics and probes");
  f.Add("grpc_address", &c.grpc_address, "Address of the EvictionService gRPC server");
  f.Add("kubeconfig", &c.kubeconfig, "kubeconfig file (default: in-cluster)").Env("KUBECONFIG");
  f.Add("dry_run", &c.dry_run, "Log and count evictions instead of sending them");
  f.Add("log_level", &c.log_level, "debug, info, warn or error");
}

absl::Status Validate(const Config& c) { return absl::OkStatus(); }

}  // namespace spotguard::extender
