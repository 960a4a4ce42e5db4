// The facts about a node that spotguard keys on, read from the labels and providerID that
// AKS, EKS (managed node groups) and Karpenter put on their nodes.
//
// Example:
//   NodeFacts f = FactsOf(node);
//   // AKS spot: f.cloud == "azure", f.pool == "spot1", f.capacity_type == "spot",
//   //           f.zone == "westeurope-1", f.instance_type == "Standard_D8s_v5"
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace spotguard::kube {

struct NodeFacts {
  std::string name;
  std::string provider_id;
  std::string cloud;          // azure | aws | gcp | "" (from the providerID scheme)
  std::string instance_type;  // node.kubernetes.io/instance-type
  std::string zone;           // topology.kubernetes.io/zone
  std::string pool;           // agentpool / nodegroup / karpenter nodepool / GKE nodepool
  std::string capacity_type;  // "spot" or "on-demand"

  bool operator==(const NodeFacts&) const = default;
};

NodeFacts FactsOf(const nlohmann::json& node);

// "azure", "aws" or "gcp" for azure:///..., aws:///..., gce://...; "" otherwise.
std::string CloudOfProviderId(absl::string_view provider_id);

}  // namespace spotguard::kube
