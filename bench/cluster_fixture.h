// Synthetic clusters for the extender benchmarks: N nodes (80 % spot, 4 pools × 4 zones),
// the Snapshot the handlers read, and kube-scheduler's request bodies in both modes, with
// Node objects shaped like a kubelet's (labels, taints, capacity, conditions, images).
#pragma once

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "extender/risk/snapshot.h"
#include "nlohmann/json.hpp"

namespace spotguard::bench {

namespace risk = ::spotguard::extender::risk;

inline std::string NodeName(int i) { return absl::StrCat("aks-spot", i % 4, "-12345678-vmss", 100000 + i); }

inline nlohmann::json NodeObject(int i) {
  const bool spot = i % 5 != 0;
  nlohmann::json labels = {
      {"agentpool", absl::StrCat("spot", i % 4)}, {"kubernetes.azure.com/agentpool", absl::StrCat("spot", i % 4)},
      {"beta.kubernetes.io/arch", "amd64"}, {"beta.kubernetes.io/instance-type", "Standard_D8s_v5"},
      {"beta.kubernetes.io/os", "linux"}, {"kubernetes.azure.com/cluster", "MC_rg_cluster_westeurope"},
      {"kubernetes.azure.com/mode", "user"}, {"kubernetes.azure.com/node-image-version", "AKSUbuntu-2204gen2containerd-202410.09.0"},
      {"kubernetes.io/arch", "amd64"}, {"kubernetes.io/hostname", NodeName(i)}, {"kubernetes.io/os", "linux"},
      {"node.kubernetes.io/instance-type", "Standard_D8s_v5"}, {"topology.disk.csi.azure.com/zone", absl::StrCat("westeurope-", i % 4)},
      {"topology.kubernetes.io/region", "westeurope"}, {"topology.kubernetes.io/zone", absl::StrCat("westeurope-", i % 4)}};
  if (spot) labels["kubernetes.azure.com/scalesetpriority"] = "spot";
  nlohmann::json conditions = nlohmann::json::array();
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}) {
    conditions.push_back({{"type", t}, {"status", std::string(t) == "Ready" ? "True" : "False"},
                          {"lastHeartbeatTime", "2026-11-22T07:00:00Z"}, {"lastTransitionTime", "2026-11-20T07:00:00Z"},
                          {"reason", absl::StrCat("Kubelet", t)}, {"message", "kubelet is posting ready status"}});
  }
  nlohmann::json images = nlohmann::json::array();
  for (int k = 0; k < 8; ++k) {
    images.push_back({{"names", {absl::StrCat("mcr.microsoft.com/oss/kubernetes/image-", k, "@sha256:0123456789abcdef0123456789abcdef"),
                                 absl::StrCat("mcr.microsoft.com/oss/kubernetes/image-", k, ":v1.2.", k)}},
                      {"sizeBytes", 12345678 + k}});
  }
  nlohmann::json node = {
      {"metadata", {{"name", NodeName(i)}, {"uid", absl::StrCat("0b0a2a1f-51aa-4389-b1c4-", 100000000000 + i)},
                    {"resourceVersion", absl::StrCat(1000 + i)}, {"creationTimestamp", "2026-11-20T07:00:00Z"},
                    {"labels", labels},
                    {"annotations", {{"node.alpha.kubernetes.io/ttl", "0"},
                                     {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
      {"spec", {{"providerID", absl::StrCat("azure:///subscriptions/0000/resourceGroups/mc_rg/providers/Microsoft.Compute/"
                                            "virtualMachineScaleSets/aks-spot", i % 4, "-vmss/virtualMachines/", i)},
                {"podCIDR", "10.244.0.0/24"}}},
      {"status", {{"capacity", {{"cpu", "8"}, {"memory", "32863000Ki"}, {"pods", "110"}, {"ephemeral-storage", "129886128Ki"}}},
                  {"allocatable", {{"cpu", "7820m"}, {"memory", "28273000Ki"}, {"pods", "110"}}},
                  {"conditions", conditions},
                  {"addresses", {{{"type", "InternalIP"}, {"address", absl::StrCat("10.224.", i / 250, ".", i % 250)}},
                                 {{"type", "Hostname"}, {"address", NodeName(i)}}}},
                  {"nodeInfo", {{"kubeletVersion", "v1.36.3"}, {"containerRuntimeVersion", "containerd://1.7.22"},
                                {"osImage", "Ubuntu 22.04.5 LTS"}, {"kernelVersion", "5.15.0-1073-azure"}}},
                  {"images", images}}}};
  if (spot) {
    node["spec"]["taints"] = {{{"key", "kubernetes.azure.com/scalesetpriority"}, {"value", "spot"}, {"effect", "NoSchedule"}}};
  }
  return node;
}

inline std::shared_ptr<const risk::Snapshot> SyntheticSnapshot(int n) {
  std::vector<std::shared_ptr<const risk::NodeInfo>> nodes;
  for (int i = 0; i < n; ++i) {
    auto info = std::make_shared<risk::NodeInfo>();
    info->name = NodeName(i);
    info->spot = i % 5 != 0;
    info->pool_id = i % 4;
    info->zone_id = i % 4;
    info->risk = 0.005 * (i % 7);
    info->doomed = i % 97 == 0;
    if (info->doomed) info->notice_id = "n";
    nodes.push_back(info);
  }
  auto apps = std::make_shared<risk::AppTable>();
  risk::AppSpread s;
  s.total = 8;
  s.per_pool = {{0, 4}, {1, 4}};
  s.per_zone = {{0, 2}, {1, 6}};
  apps->emplace("spark-app-1", std::make_shared<const risk::AppSpread>(s));
  auto snap = std::make_shared<risk::Snapshot>();
  snap->nodes = std::make_shared<const risk::NodeTable>(std::move(nodes));
  snap->apps = apps;
  return snap;
}

constexpr char kExecutorPod[] = R"({"metadata":{"name":"exec-7","namespace":"spark","uid":"5f1c",
"labels":{"spark-role":"executor","spark-app-selector":"spark-app-1","spark-exec-id":"7","spark-app-name":"etl"},
"annotations":{}},"spec":{"schedulerName":"spotguard-scheduler","containers":[{"name":"spark-kubernetes-executor",
"image":"apache/spark:3.5.1","resources":{"requests":{"cpu":"1","memory":"2Gi"}}}]}})";

// kube-scheduler's ExtenderArgs for `n` candidates, in the NodeNames or the full-Nodes form.
inline std::string RequestBody(int n, bool full_nodes) {
  std::string body = absl::StrCat(R"({"Pod":)", kExecutorPod);
  if (full_nodes) {
    body += R"(,"Nodes":{"metadata":{},"items":[)";
    for (int i = 0; i < n; ++i) absl::StrAppend(&body, i ? "," : "", NodeObject(i).dump());
    body += R"(]},"NodeNames":null})";
  } else {
    body += R"(,"Nodes":null,"NodeNames":[)";
    for (int i = 0; i < n; ++i) absl::StrAppend(&body, i ? "," : "", "\"", NodeName(i), "\"");
    body += "]}";
  }
  return body;
}

}  // namespace spotguard::bench
