// RiskStore: the eviction-risk model the extender learns, and its persistence — a ConfigMap
// holding the history, merged with what other replicas wrote, so a restart or a second
// replica keeps it. The model itself (extender/risk/model.h) is pure; this adds the lock, the
// clock and the API server.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/kube/client.h"
#include "extender/risk/model.h"

namespace spotguard::extender {

struct RiskStoreOptions {
  risk::RiskParams risk;
  // The history's ConfigMap (namespace empty: not persisted).
  std::string configmap_namespace;
  std::string configmap_name = "spotguard-risk";
};

class RiskStore {
 public:
  RiskStore(RiskStoreOptions options, Clock& clock, kube::KubeClient& kube);

  // Evidence of one eviction (once per `id`); true if it was new.
  bool RecordEviction(const std::string& id, const risk::Domains& domains);
  void AddExposure(const risk::Domains& domains, absl::Duration spot_time);
  double Risk(const risk::Domains& domains, bool rebalance, absl::Time now) const;
  // Every domain's modelled rate: (kind, domain, evictions per spot node-hour).
  std::vector<std::tuple<std::string, std::string, double>> Rates(absl::Time now) const;
  risk::RiskModel Model() const;

  // Merges the persisted history into the model (a missing or unreadable one is logged).
  void Load();
  // Merges another replica's history, then writes ours, with optimistic concurrency.
  absl::Status Persist();

 private:
  const RiskStoreOptions options_;
  Clock& clock_;
  kube::KubeClient& kube_;
  mutable absl::Mutex mu_;
  risk::RiskModel model_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::extender
