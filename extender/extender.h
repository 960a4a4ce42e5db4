// Extender: spotguard-extender's whole job, wired from its parts — ClusterState (watches,
// notices, risk), the Decommissioner, the scheduler HTTP API and the EvictionService — plus
// its readiness. main.cc only parses flags and calls this.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/http_server.h"
#include "common/kube/client.h"
#include "extender/agent_pods.h"
#include "extender/authenticator.h"
#include "extender/cluster_state.h"
#include "extender/config.h"
#include "extender/decommissioner.h"
#include "extender/eviction_service.h"
#include "extender/http_api.h"
#include "extender/metrics.h"
#include "extender/token_verifier.h"

namespace spotguard::extender {

class Extender {
 public:
  // `auth_kube`: the client for TokenReviews, the issuer's keys and agent pod reads (a rate
  // budget apart from `kube`'s, which evictions use).
  Extender(const Config& config, Clock& clock, kube::KubeClient& kube, kube::KubeClient& auth_kube);
  ~Extender();

  // Starts the servers and the watches; returns once they listen. The scheduler API and the
  // gRPC server use TLS unless config.insecure_plaintext; /metrics, the probes and /debug/*
  // are plain HTTP on their own port.
  absl::Status Start();
  // Serves until `stop`, then shuts down (servers first, then watches and decommissions).
  void Run(const StopSignal& stop);

  std::string http_address() const { return http_ ? http_->BoundAddress() : ""; }
  std::string metrics_address() const { return metrics_http_.BoundAddress(); }
  std::string grpc_address() const;
  absl::Status Ready() const;

  ClusterState& state() { return state_; }
  Decommissioner& decommissioner() { return decommissioner_; }
  MetricsRegistry& registry() { return registry_; }

 private:
  const Config config_;
  Clock& clock_;
  MetricsRegistry registry_;
  ExtenderMetrics metrics_;
  ClusterState state_;
  Decommissioner decommissioner_;
  TokenVerifier verifier_;
  AgentPods agent_pods_;
  Authenticator auth_;
  EvictionService service_;
  HttpApi api_;
  std::unique_ptr<HttpServer> http_;  // the scheduler API, made in Start() once its TLS files load
  HttpServer metrics_http_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  StopSignal state_stop_;
  std::thread state_thread_;
  std::vector<std::thread> auth_threads_;  // the issuer's keys, the agent pods' watch
};

// The policy the flags describe (Validate() has checked them).
risk::PolicyConfig PolicyFrom(const Config& config);

}  // namespace spotguard::extender
