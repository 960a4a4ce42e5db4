// Agent: spotguard-agent's whole job for one node, wired from its parts:
// read the node (facts, cloud, the record of a previous run) → build the sources →
// Poller → Responder (node + extender), plus the optional Azure acknowledgement and the
// /healthz and /readyz answers.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/kube/client.h"
#include "node-agent/config.h"
#include "node-agent/metrics.h"
#include "node-agent/poller.h"
#include "node-agent/reporter.h"
#include "node-agent/responder.h"

namespace spotguard::agent {

using SourceFactory =
    std::function<absl::StatusOr<std::vector<std::unique_ptr<Source>>>(const kube::NodeFacts& node)>;

class Agent {
 public:
  // `reporter` may be null (no extender: reports off).
  Agent(const Config& config, Clock& clock, kube::KubeClient& kube, Reporter* reporter, AgentMetrics& metrics,
        SourceFactory make_sources);
  ~Agent();

  // Reads the node (retrying until `stop`), builds the sources and restores the state of a
  // previous run. Fails fast on what retrying cannot fix (unknown cloud, node not found
  // after a minute).
  absl::Status Start(const StopSignal& stop);
  // Polls and responds until `stop`, then shuts down cleanly.
  void Run(const StopSignal& stop);

  absl::Status Healthy() const;
  absl::Status Ready() const;

  Responder& responder() { return *responder_; }
  Poller& poller() { return *poller_; }

 private:
  void AcknowledgeLoop(const StopSignal& stop);

  const Config config_;
  Clock& clock_;
  kube::KubeClient& kube_;
  AgentMetrics& metrics_;
  SourceFactory make_sources_;
  std::unique_ptr<Responder> responder_;
  std::unique_ptr<Poller> poller_;
  std::atomic<bool> started_{false};
};

}  // namespace spotguard::agent
