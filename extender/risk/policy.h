// The scheduling policy: pure functions from (pod, candidate nodes, Snapshot) to the
// extender's answers. No I/O, no locks, no clock: tested without a socket.
//
// Filter rejects, each with a reason:
//   - nodes with an active eviction notice — FailedAndUnresolvable (preempting pods there
//     would not help: the node is going away);
//   - spot nodes for Spark drivers (selector, default spark-role=driver) —
//     FailedAndUnresolvable: losing the driver fails the whole job;
//   - nodes whose risk exceeds the pod's annotation spotguard.io/max-eviction-risk (0..1) —
//     Failed (risk changes; a later attempt may pass).
// Nodes not in the snapshot yet (kube-scheduler knows them; our watch lags) are counted and
// pass, except for Spark drivers: a driver never lands on a node spotguard cannot vouch for.
// With full Nodes requests the node's own labels in the request decide (spot: unresolvable,
// on-demand: passes); otherwise the node fails (resolvable, so kube-scheduler retries once
// the watch has caught up).
//
// Prioritize scores 0..10 (kube-scheduler multiplies by the extender's weight × 10):
//   - Spark executors on spot nodes: 10 × (1 − p / risk_cap), minus a spread penalty of up
//     to spread_weight in proportion to the share of the application's executors already in
//     the node's pool and zone;
//   - Spark executors on on-demand nodes: on_demand_score;
//   - doomed and unknown nodes: 0; pods that are not executors: 0 everywhere (neutral),
//     unless score_all_pods.
// Example: risk_cap 0.2; p = 0.04 → 10 × (1 − 0.2) = 8; an application with 3 of its 4
// executors in that node's pool and 2 of 4 in its zone loses round(4 × (0.75 + 0.5) / 2) = 3 → 5.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/notice/notice.h"
#include "extender/risk/snapshot.h"

namespace spotguard::extender::risk {

// A tiny label selector: comma-separated requirements, all of which must hold:
// "key=value", "key!=value", "key" (exists), "!key" (absent).
class LabelSelector {
 public:
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);
  bool Matches(const absl::flat_hash_map<std::string, std::string>& labels) const;
  bool empty() const { return reqs_.empty(); }

 private:
  struct Req {
    std::string key, value;
    enum Op { kEq, kNe, kExists, kAbsent } op;
  };
  std::vector<Req> reqs_;
};

struct PodInfo {
  std::string name, namespace_, uid;
  absl::flat_hash_map<std::string, std::string> labels, annotations;
};

struct PolicyConfig {
  LabelSelector driver_selector = *LabelSelector::Parse("spark-role=driver");
  LabelSelector executor_selector = *LabelSelector::Parse("spark-role=executor");
  std::string app_label = "spark-app-selector";
  std::string max_risk_annotation = notice::kMaxRiskAnnotation;
  double risk_cap = 0.2;     // p at or above which a spot node scores 0
  int on_demand_score = 5;   // executors on on-demand nodes
  int spread_weight = 4;     // most points the spread penalty takes
  bool score_all_pods = false;
};

enum class Reason { kNotice, kDriverOnSpot, kRiskCeiling, kUnknownNode };
absl::string_view ReasonName(Reason r);  // notice | driver_on_spot | risk_ceiling | unknown_node

struct FilterResult {
  std::vector<absl::string_view> passed;
  std::vector<std::pair<absl::string_view, std::string>> failed;        // may pass later
  std::vector<std::pair<absl::string_view, std::string>> unresolvable;  // preemption will not help
  absl::flat_hash_map<Reason, int> rejected;  // per reason, for metrics
  int unknown = 0;                            // candidates not in the snapshot
  std::string error;                          // a bad pod annotation
};

// For a node not in the snapshot: whether the request says it is spot, or nullopt when the
// request does not carry the node.
using RequestSpot = std::function<std::optional<bool>(absl::string_view node)>;

FilterResult Filter(const PodInfo& pod, const std::vector<absl::string_view>& nodes, const Snapshot& snapshot,
                    const PolicyConfig& config, const RequestSpot& request_spot = nullptr);

struct PrioritizeResult {
  std::vector<std::pair<absl::string_view, int>> scores;
  int unknown = 0;
};

PrioritizeResult Prioritize(const PodInfo& pod, const std::vector<absl::string_view>& nodes, const Snapshot& snapshot,
                            const PolicyConfig& config);

// The spot-node score before the spread penalty: 10 × (1 − p / cap), clamped to 0..10.
int RiskScore(double p, double cap);

}  // namespace spotguard::extender::risk
