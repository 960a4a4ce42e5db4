#include "node-agent/node_state.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace spotguard::agent {
namespace {

Json AksSpotNode(bool unschedulable = false) {
  Json n = Json::parse(R"({
    "metadata": {"name": "aks-spot1-vmss000004", "resourceVersion": "7",
                 "labels": {"kubernetes.azure.com/scalesetpriority": "spot"}},
    "spec": {"taints": [{"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}]}
  })");
  if (unschedulable) n["spec"]["unschedulable"] = true;
  return n;
}

Notice Make(std::string id, v1::NoticeKind kind, std::string raw, Action action, int not_before = 100) {
  return Notice{.id = std::move(id), .cloud = v1::CLOUD_AZURE, .kind = kind, .raw_action = std::move(raw),
                .not_before = absl::FromUnixSeconds(not_before), .detected_at = absl::FromUnixSeconds(1),
                .source = "azure-scheduled-events", .action = action};
}

const Notice kPreempt = Make("ev-1", v1::NOTICE_KIND_EVICTION, "Preempt", Action::kCordon);
const Notice kReboot = Make("mt-1", v1::NOTICE_KIND_MAINTENANCE, "Reboot", Action::kCordon, 50);
const Notice kFreeze = Make("mt-2", v1::NOTICE_KIND_MAINTENANCE, "Freeze", Action::kLabel);
const Notice kRebalance = Make("aws-rebalance", v1::NOTICE_KIND_REBALANCE, "rebalance-recommendation", Action::kLabel);

// Applies the plan as the API server would, and checks the plan is then complete.
Json Apply(const Json& node, const std::vector<Notice>& active, const std::string& effect = "NoSchedule") {
  NodePlan plan = PlanNode(node, active, effect);
  Json after = node.patch(kube::GuardedPatch(node, plan.ops));
  EXPECT_TRUE(PlanNode(after, active, effect).ops.empty()) << "plan not idempotent: " << plan.ops.dump();
  return after;
}

std::string Label(const Json& n, const char* k) { return n["metadata"].value("labels", Json::object()).value(k, ""); }
bool HasAnnotation(const Json& n, const char* k) { return n["metadata"].value("annotations", Json::object()).contains(k); }

// Verifies an eviction notice cordons, taints, labels and annotates in one patch.
TEST(NodeStateTest, EvictionDoomsTheNode) {
  Json node = AksSpotNode();
  NodePlan plan = PlanNode(node, {kPreempt}, "NoSchedule");
  EXPECT_TRUE(plan.cordons);
  Json after = Apply(node, {kPreempt});
  EXPECT_EQ(after["spec"]["unschedulable"], true);
  EXPECT_TRUE(kube::HasTaint(after, kTaintKey, "NoSchedule"));
  EXPECT_TRUE(kube::HasTaint(after, "kubernetes.azure.com/scalesetpriority", "NoSchedule"));
  EXPECT_EQ(after["spec"]["taints"][1]["value"], "Preempt");
  EXPECT_EQ(Label(after, kEvictingLabel), "true");
  Json notice = Json::parse(after["metadata"]["annotations"][kNoticeAnnotation].get<std::string>());
  EXPECT_EQ(notice["id"], "ev-1");
  EXPECT_EQ(notice["kind"], "eviction");
  auto record = ReadRecord(after);
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(record->cordoned);
  EXPECT_EQ(record->notices, std::vector<Notice>{kPreempt});
}

// Verifies withdrawing every notice restores the node exactly as it was.
TEST(NodeStateTest, WithdrawalUndoesExactly) {
  Json before = AksSpotNode();
  Json doomed = Apply(before, {kPreempt, kRebalance});
  NodePlan undo = PlanNode(doomed, {}, "NoSchedule");
  EXPECT_TRUE(undo.uncordons);
  Json after = Apply(doomed, {});
  ASSERT_TRUE(after["metadata"]["annotations"].empty());  // our keys gone; the empty map stays
  after["metadata"].erase("annotations");
  EXPECT_EQ(after, before);
}

// Verifies the record's text begins {"cordoned":true, exactly when spotguard cordoned the node:
// manifests/base/agent-admission-policy.yaml reads that prefix (CEL has no JSON parser).
TEST(NodeStateTest, RecordTextBeginsWithWhetherSpotguardCordoned) {
  auto record = [](const Json& n) { return n["metadata"]["annotations"][kAgentAnnotation].get<std::string>(); };
  EXPECT_TRUE(absl::StartsWith(record(Apply(AksSpotNode(), {kPreempt, kRebalance})), R"({"cordoned":true,)"));
  EXPECT_TRUE(absl::StartsWith(record(Apply(AksSpotNode(/*unschedulable=*/true), {kPreempt})), R"({"cordoned":false,)"));
  EXPECT_TRUE(absl::StartsWith(record(Apply(AksSpotNode(), {kRebalance})), R"({"cordoned":false,)"));
}

// Verifies a node someone else cordoned stays cordoned after our notice goes.
TEST(NodeStateTest, NeverUncordonsSomeoneElsesCordon) {
  Json doomed = Apply(AksSpotNode(/*unschedulable=*/true), {kPreempt});
  EXPECT_FALSE(ReadRecord(doomed)->cordoned);
  Json after = Apply(doomed, {});
  EXPECT_EQ(after["spec"]["unschedulable"], true);
  EXPECT_FALSE(kube::HasTaint(after, kTaintKey, "NoSchedule"));
  EXPECT_FALSE(HasAnnotation(after, kAgentAnnotation));
}

// Verifies label-only notices label and record, without cordon, taint or notice annotation.
TEST(NodeStateTest, LabelOnlyNotices) {
  Json after = Apply(AksSpotNode(), {kRebalance, kFreeze});
  EXPECT_FALSE(after["spec"].value("unschedulable", false));
  EXPECT_FALSE(kube::HasTaint(after, kTaintKey, "NoSchedule"));
  EXPECT_EQ(Label(after, kRebalanceLabel), "true");
  EXPECT_EQ(Label(after, kMaintenanceLabel), "Freeze");
  EXPECT_EQ(Label(after, kEvictingLabel), "");
  EXPECT_FALSE(HasAnnotation(after, kNoticeAnnotation));
  EXPECT_EQ(ReadRecord(after)->notices.size(), 2u);
}

// Verifies overlapping notices: the most severe decides, and the node stays cordoned until
// the last cordoning notice goes.
TEST(NodeStateTest, OverlappingNotices) {
  Json both = Apply(AksSpotNode(), {kReboot, kPreempt});
  EXPECT_EQ(both["spec"]["taints"][1]["value"], "Preempt");
  EXPECT_EQ(Json::parse(both["metadata"]["annotations"][kNoticeAnnotation].get<std::string>())["id"], "ev-1");
  Json reboot_only = Apply(both, {kReboot});
  EXPECT_EQ(reboot_only["spec"]["unschedulable"], true);
  EXPECT_EQ(reboot_only["spec"]["taints"][1]["value"], "Reboot");
  EXPECT_TRUE(ReadRecord(reboot_only)->cordoned);
  Json none = Apply(reboot_only, {});
  EXPECT_FALSE(none["spec"].contains("unschedulable"));
}

// Verifies a changed taint effect replaces our taint rather than adding a second one.
TEST(NodeStateTest, TaintEffectChange) {
  Json ns = Apply(AksSpotNode(), {kPreempt}, "NoSchedule");
  Json ne = Apply(ns, {kPreempt}, "NoExecute");
  EXPECT_FALSE(kube::HasTaint(ne, kTaintKey, "NoSchedule"));
  EXPECT_TRUE(kube::HasTaint(ne, kTaintKey, "NoExecute"));
  EXPECT_EQ(ne["spec"]["taints"].size(), 2u);
}

// Verifies an unreadable record is never taken as licence to uncordon.
TEST(NodeStateTest, MalformedRecordNeverUncordons) {
  Json node = AksSpotNode(/*unschedulable=*/true);
  node["metadata"]["annotations"] = {{kAgentAnnotation, "{not json"}};
  EXPECT_FALSE(ReadRecord(node).ok());
  Json after = Apply(node, {});
  EXPECT_EQ(after["spec"]["unschedulable"], true);
  EXPECT_FALSE(HasAnnotation(after, kAgentAnnotation));
}

// Verifies cloud words become valid label values.
TEST(NodeStateTest, LabelValue) {
  EXPECT_EQ(LabelValue("Preempt"), "Preempt");
  EXPECT_EQ(LabelValue("system-reboot"), "system-reboot");
  EXPECT_EQ(LabelValue("a b/c"), "a-b-c");
  EXPECT_EQ(LabelValue("--x--"), "x");
  EXPECT_EQ(LabelValue(std::string(100, 'a')).size(), 63u);
}

}  // namespace
}  // namespace spotguard::agent
