#include "common/kube/node_facts.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace spotguard::kube {

std::string CloudOfProviderId(absl::string_view id) {
  if (absl::StartsWith(id, "azure://")) return "azure";
  if (absl::StartsWith(id, "aws://")) return "aws";
  if (absl::StartsWith(id, "gce://")) return "gcp";
  return "";
}

NodeFacts FactsOf(const nlohmann::json& node) {
  NodeFacts f;
  const auto& meta = node.value("metadata", nlohmann::json::object());
  f.name = meta.value("name", "");
  f.provider_id = node.value("spec", nlohmann::json::object()).value("providerID", "");
  f.cloud = CloudOfProviderId(f.provider_id);
  const auto labels = meta.value("labels", nlohmann::json::object());
  auto label = [&](const char* key) -> std::string {
    auto it = labels.find(key);
    return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
  };
  f.instance_type = label("node.kubernetes.io/instance-type");
  if (f.instance_type.empty()) f.instance_type = label("beta.kubernetes.io/instance-type");
  f.zone = label("topology.kubernetes.io/zone");
  if (f.zone.empty()) f.zone = label("failure-domain.beta.kubernetes.io/zone");
  for (const char* key : {"kubernetes.azure.com/agentpool", "eks.amazonaws.com/nodegroup", "karpenter.sh/nodepool",
                          "cloud.google.com/gke-nodepool", "agentpool"}) {
    if (f.pool = label(key); !f.pool.empty()) break;
  }
  bool spot = absl::AsciiStrToLower(label("kubernetes.azure.com/scalesetpriority")) == "spot" ||
              absl::AsciiStrToUpper(label("eks.amazonaws.com/capacityType")) == "SPOT" ||
              absl::AsciiStrToLower(label("karpenter.sh/capacity-type")) == "spot" ||
              label("cloud.google.com/gke-spot") == "true" || label("cloud.google.com/gke-preemptible") == "true";
  f.capacity_type = spot ? "spot" : "on-demand";
  return f;
}

}  // namespace spotguard::kube
