// The eviction-risk model: how likely a spot node is to be taken within the next `horizon`.
//
// Each domain — node pool, zone, instance type — keeps an exponentially decayed count of
// evictions seen in it and of spot node-hours exposed in it (the exposure). Its rate is
//   λ_d = (evictions_d + prior_evictions) / (exposure_hours_d + prior_hours)
// (the prior keeps a domain with little history near a sane default). A node's rate is the
// mean of its three domains' rates, and its risk over the horizon H is
//   p = 1 − e^(−λ·H).
// A rebalance recommendation on the node raises p to at least `rebalance_risk`.
//
// Pure and deterministic: every call takes the time; decay is applied lazily. Not
// thread-safe (ClusterState serialises access).
//
// Example:
//   RiskModel m({.half_life = absl::Hours(6), .horizon = absl::Hours(1)});
//   m.AddExposure(domains, absl::Hours(10), t);      // ten spot node-hours in these domains
//   m.RecordEviction("notice-1", domains, t);        // one eviction
//   double p = m.Risk(domains, /*rebalance=*/false, t);
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace spotguard::extender::risk {

struct RiskParams {
  absl::Duration half_life = absl::Hours(6);  // evidence halves in weight every half_life
  absl::Duration horizon = absl::Hours(1);    // the p we score: eviction within the horizon
  double prior_evictions = 1.0;               // prior: 1 eviction per ...
  double prior_hours = 100.0;                 // ... 100 spot node-hours (≈ 1 %/h)
  double rebalance_risk = 0.5;                // p floor for a node with a rebalance recommendation
};

// A node's domains, as keys: "pool/<pool>", "zone/<zone>", "type/<instance type>".
struct Domains {
  std::string pool, zone, instance_type;
  std::vector<std::string> Keys() const;
};

class RiskModel {
 public:
  explicit RiskModel(RiskParams params = {});

  // Counts an eviction in the node's domains, once per notice id (gRPC and the node
  // annotation both report the same notice). Returns false if the id was already counted.
  bool RecordEviction(const std::string& notice_id, const Domains& node, absl::Time now);
  // Adds spot node-hours of exposure to the node's domains.
  void AddExposure(const Domains& node, absl::Duration node_time, absl::Time now);

  // λ (evictions per hour) and p over the horizon for a node in these domains.
  double Rate(const Domains& node, absl::Time now) const;
  double Risk(const Domains& node, bool rebalance, absl::Time now) const;

  // One domain's decayed evictions and exposure hours (for metrics and tests).
  struct DomainState {
    double evictions = 0;
    double exposure_hours = 0;
  };
  DomainState State(const std::string& key, absl::Time now) const;
  std::vector<std::string> DomainKeys() const;

  // Persisted form (a ConfigMap's data) and back; Merge keeps the larger evidence per
  // domain, so two replicas that saw the same history converge instead of double counting.
  nlohmann::json ToJson(absl::Time now) const;
  static absl::StatusOr<RiskModel> FromJson(const nlohmann::json& j, RiskParams params);
  void Merge(const RiskModel& other, absl::Time now);

  const RiskParams& params() const { return params_; }

 private:
  struct Entry {
    double evictions = 0;
    double exposure_hours = 0;
    absl::Time as_of = absl::InfinitePast();
  };
  Entry Decayed(const Entry& e, absl::Time now) const;
  double DomainRate(const std::string& key, absl::Time now) const;

  RiskParams params_;
  absl::flat_hash_map<std::string, Entry> domains_;
  // Notice ids already counted, with when (forgotten after a few half-lives).
  absl::flat_hash_map<std::string, absl::Time> counted_;
};

}  // namespace spotguard::extender::risk
