// Builds the sources for the node's cloud: Azure Scheduled Events; AWS spot instance-action,
// rebalance recommendation and scheduled events (sharing one IMDSv2 token); GCP preemption.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/kube/node_facts.h"
#include "node-agent/config.h"
#include "node-agent/source.h"

namespace spotguard::agent::sources {

// The cloud to watch: --cloud, or from the node's providerID when --cloud=auto.
absl::StatusOr<std::string> ResolveCloud(const Config& config, const kube::NodeFacts& node);

absl::StatusOr<std::vector<std::unique_ptr<Source>>> MakeSources(const Config& config, const kube::NodeFacts& node,
                                                                 Clock& clock);

}  // namespace spotguard::agent::sources
