// What a node should look like given its active notices, and the JSON patch that gets it
// there from what it looks like now. Pure functions: tested without a server.
//
// The node's state is a function of the set of active notices:
//   - a notice with Action::kCordon makes the node doomed: spec.unschedulable, the taint
//     spotguard.io/eviction-notice=<raw action>:<effect>, the label spotguard.io/evicting=true
//     and the annotation spotguard.io/notice (DESIGN.md's JSON, of the most severe notice);
//   - a rebalance recommendation (kLabel) sets spotguard.io/rebalance-recommended=true;
//   - a maintenance notice with kLabel sets spotguard.io/maintenance=<raw action>;
//   - spotguard.io/agent records every active notice and whether spotguard cordoned the
//     node, so a restarted agent carries on and a withdrawal undoes exactly what was done:
//     a node someone else cordoned is never uncordoned.
//
// Example:
//   NodePlan p = PlanNode(node, {preempt}, "NoSchedule");
//   // p.ops: add /spec/unschedulable, add the taint, the labels, the annotations
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/kube/patch.h"
#include "node-agent/notice.h"

namespace spotguard::agent {

// What the agent did to the node, as kept in the spotguard.io/agent annotation.
struct NodeRecord {
  std::vector<Notice> notices;
  bool cordoned = false;  // spotguard set spec.unschedulable (it was schedulable before)
};

// Reads the record; an empty record when the annotation is absent. A malformed annotation
// is an error (the caller logs it and starts afresh).
absl::StatusOr<NodeRecord> ReadRecord(const Json& node);

// The notice that decides the node's taint and annotation: the most severe kCordon notice
// (eviction before maintenance, then the earliest notBefore), or nullopt.
std::optional<Notice> PrimaryNotice(const std::vector<Notice>& active);

struct NodePlan {
  Json ops;            // JSON patch ops (without the resourceVersion guard); empty = nothing to do
  NodeRecord record;   // the record after the patch
  bool cordons = false;     // the patch sets spec.unschedulable
  bool uncordons = false;   // the patch clears it
};

NodePlan PlanNode(const Json& node, const std::vector<Notice>& active, const std::string& taint_effect);

// A taint or label value from a cloud's word: [A-Za-z0-9._-], at most 63 characters.
std::string LabelValue(absl::string_view raw);

}  // namespace spotguard::agent
