// "Own node only": the ValidatingAdmissionPolicy of manifests/base/agent-admission-policy.yaml
// against the real API server. A token of the agent's ServiceAccount, bound to the agent's pod
// on node A (as the DaemonSet's are), writes node A only, and there only spec.unschedulable and
// spotguard.io/ taints, labels and annotations; it never undoes a cordon spotguard did not
// make. ApplyAgentRbac applies the policy, as it does for every agent and chain test, and
// returns once the API server enforces it. The agent's own writes are the ones PlanNode builds
// (node-agent/node_state.h), sent as the agent sends them.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kube/patch.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node-agent/node_state.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"

namespace spotguard::e2e {
namespace {

using ::testing::Contains;
using ::testing::Not;

constexpr char kSpotTaint[] = "kubernetes.azure.com/scalesetpriority";
// The agent clients' User-Agent, and so their field manager in a node's managedFields.
constexpr char kAgentWriter[] = "spotguard-agent-e2e";

class AdmissionE2E : public E2ETest {
 protected:
  static void SetUpTestSuite() {
    if (!ControlPlaneEnvironment::status().ok()) return;
    ASSERT_TRUE(ApplyAgentRbac(ControlPlaneEnvironment::Get()).ok());
  }

  // An AKS spot node (labels, the spot taint and a providerID of its own) with its agent pod,
  // and a client of the agent's ServiceAccount bound to that pod.
  struct Agent {
    std::string node;
    AgentCredentials creds;
    std::unique_ptr<kube::KubeClient> client;
  };
  Agent Provision(const std::string& prefix) {
    Agent a{.node = UniqueName(prefix)};
    auto creds = ProvisionAgent(cp(), {.name = a.node});
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return a;
    a.creds = *creds;
    auto client = cp().ClientWithToken(a.creds.api_token, {.qps = 0, .max_attempts = 1, .user_agent = kAgentWriter});
    EXPECT_TRUE(client.ok()) << client.status();
    if (client.ok()) a.client = std::move(*client);
    // The not-ready taint is gone before a test reads the node (the indexes in its taint
    // patches stay right).
    EXPECT_TRUE(WaitSchedulable(admin(), a.node).ok());
    return a;
  }

  Json Node(const std::string& name) {
    auto n = kube::GetNode(admin(), name);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : Json::object();
  }

  static absl::Status Merge(kube::KubeClient& client, const std::string& node, const Json& patch) {
    return kube::PatchNode(client, node, kube::PatchType::kMerge, patch).status();
  }
  static absl::Status JsonPatch(kube::KubeClient& client, const std::string& node, const Json& ops) {
    return kube::PatchNode(client, node, kube::PatchType::kJson, ops).status();
  }
  // What the agent does for `active` notices: PlanNode's ops in a guarded JSON patch.
  static absl::Status Reconcile(kube::KubeClient& client, const std::string& node,
                                const std::vector<notice::Notice>& active) {
    return kube::UpdateNodeGuarded(client, node, [&](const Json& n) -> std::optional<Json> {
             return agent::PlanNode(n, active, "NoSchedule").ops;
           }).status();
  }

  static notice::Notice Preempt(const std::string& id) {
    const absl::Time now = absl::Now();
    return {.id = id, .cloud = v1::CLOUD_AZURE, .kind = v1::NOTICE_KIND_EVICTION, .raw_action = "Preempt",
            .not_before = now + absl::Seconds(30), .detected_at = now, .source = "azure-scheduled-events",
            .action = notice::Action::kCordon};
  }
  static notice::Notice Rebalance() {
    return {.id = "aws-rebalance", .cloud = v1::CLOUD_AWS, .kind = v1::NOTICE_KIND_REBALANCE,
            .raw_action = "rebalance", .detected_at = absl::Now(), .source = "aws-rebalance",
            .action = notice::Action::kLabel};
  }

  static bool Unschedulable(const Json& n) { return n["spec"].value("unschedulable", false); }
  static bool HasSpotguardKey(const Json& n) {
    for (const char* field : {"labels", "annotations"}) {
      const Json map = n["metadata"].value(field, Json::object());
      for (const auto& [k, v] : map.items()) {
        if (absl::StartsWith(k, "spotguard.io/")) return true;
      }
    }
    const Json taints = n["spec"].value("taints", Json::array());
    for (const Json& t : taints) {
      if (absl::StartsWith(t.value("key", ""), "spotguard.io/")) return true;
    }
    return false;
  }
  static std::string Label(const Json& n, const char* key) { return kube::StringAt(n, {"metadata", "labels", key}); }
  // The field managers that have written the node (its managedFields). Controllers write
  // nodes too (labels, the unschedulable taint), so a refused request shows as a writer
  // missing rather than as a node unchanged.
  static std::vector<std::string> Writers(const Json& n) {
    std::vector<std::string> managers;
    const Json fields = n["metadata"].value("managedFields", Json::array());
    for (const Json& f : fields) managers.push_back(f.value("manager", ""));
    return managers;
  }
};

// Whether the policy refused the request, saying `why`.
::testing::AssertionResult Refused(const absl::Status& s, const std::string& why) {
  if (!RefusedByAgentPolicy(s)) return ::testing::AssertionFailure() << "not refused by " << kAgentPolicy << ": " << s;
  if (!absl::StrContains(s.message(), why)) {
    return ::testing::AssertionFailure() << "refused without \"" << why << "\": " << s;
  }
  return ::testing::AssertionSuccess();
}

// Verifies the harness's agent token is what the policy keys on: bound to the agent's pod, it
// names that pod's node in the user info the API server derives from it.
TEST_F(AdmissionE2E, AgentTokenNamesItsNode) {
  Agent a = Provision("adm-token");
  ASSERT_NE(a.client, nullptr);
  auto review = a.client->Post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                               {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  ASSERT_TRUE(review.ok()) << review.status();
  const Json& user = (*review)["status"]["userInfo"];
  EXPECT_EQ(user["username"], "system:serviceaccount:spotguard-system:spotguard-agent");
  EXPECT_EQ(user["extra"]["authentication.kubernetes.io/node-name"], Json::array({a.node}));
  EXPECT_EQ(user["extra"]["authentication.kubernetes.io/pod-name"], Json::array({a.creds.pod}));
}

// Verifies the agent of node A can change nothing on node B: neither a cordon, a spotguard
// taint, a spotguard.io/notice annotation (which the extender would act on) nor the whole patch
// B's own agent would send for a notice — each a 403 naming the policy, B left untouched.
TEST_F(AdmissionE2E, AgentCannotWriteAnotherNode) {
  Agent a = Provision("adm-a");
  Agent b = Provision("adm-b");
  ASSERT_NE(a.client, nullptr);
  const Json before = Node(b.node);
  const notice::Notice preempt = Preempt("forged-preempt");
  struct Case {
    std::string what;
    kube::PatchType type;
    Json patch;
  };
  const std::vector<Case> cases = {
      {"cordon", kube::PatchType::kMerge, {{"spec", {{"unschedulable", true}}}}},
      {"spotguard taint", kube::PatchType::kJson,
       *kube::AddTaintOps(before, {notice::kTaintKey, "Preempt", "NoSchedule"})},
      {"notice annotation", kube::PatchType::kMerge,
       {{"metadata", {{"annotations", {{notice::kNoticeAnnotation, notice::ToJson(preempt).dump()}}}}}}},
      {"evicting label", kube::PatchType::kMerge,
       {{"metadata", {{"labels", {{notice::kEvictingLabel, "true"}}}}}}},
      {"the agent's whole plan", kube::PatchType::kJson, agent::PlanNode(before, {preempt}, "NoSchedule").ops},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_TRUE(Refused(kube::PatchNode(*a.client, b.node, c.type, c.patch).status(),
                        absl::StrCat("the spotguard-agent of node ", a.node, " may not write node ", b.node)));
  }
  const Json after = Node(b.node);
  EXPECT_FALSE(Unschedulable(after));
  EXPECT_FALSE(HasSpotguardKey(after)) << after.dump();
  EXPECT_THAT(Writers(after), Not(Contains(kAgentWriter)));
}

// Verifies that on its own node the agent cannot add, change or remove a label, annotation or
// taint spotguard does not own, nor touch the rest of spec or the finalizers; a request that
// mixes a spotguard.io/ change with a foreign one is refused whole.
TEST_F(AdmissionE2E, AgentCannotChangeWhatItDoesNotOwn) {
  Agent a = Provision("adm-own");
  ASSERT_NE(a.client, nullptr);
  const Json before = Node(a.node);
  size_t spot = 0;
  while (spot < before["spec"]["taints"].size() && before["spec"]["taints"][spot]["key"] != kSpotTaint) ++spot;
  ASSERT_LT(spot, before["spec"]["taints"].size()) << before.dump();
  auto labels = [](Json l) { return Json{{"metadata", {{"labels", std::move(l)}}}}; };
  struct Case {
    std::string what;
    kube::PatchType type;
    Json patch;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"add a control-plane label", kube::PatchType::kMerge, labels({{"node-role.kubernetes.io/control-plane", ""}}),
       "may change only spotguard.io/ labels; refused: node-role.kubernetes.io/control-plane"},
      {"change a label", kube::PatchType::kMerge, labels({{"topology.kubernetes.io/zone", "zone-9"}}),
       "may change only spotguard.io/ labels; refused: topology.kubernetes.io/zone"},
      {"remove a label", kube::PatchType::kMerge, labels({{kSpotTaint, nullptr}}),
       absl::StrCat("may change only spotguard.io/ labels; refused: ", kSpotTaint)},
      {"a spotguard label with a foreign one", kube::PatchType::kMerge,
       labels({{notice::kEvictingLabel, "true"}, {"type", "other"}}), "may change only spotguard.io/ labels; refused: type"},
      {"add an annotation", kube::PatchType::kMerge,
       {{"metadata", {{"annotations", {{"example.com/owner", "me"}}}}}},
       "may change only spotguard.io/ annotations; refused: example.com/owner"},
      {"add a control-plane taint", kube::PatchType::kJson,
       *kube::AddTaintOps(before, {"node-role.kubernetes.io/control-plane", "", "NoSchedule"}),
       "may change only spotguard.io/ taints; refused: node-role.kubernetes.io/control-plane"},
      {"remove the spot taint", kube::PatchType::kJson, *kube::RemoveTaintOps(before, kSpotTaint),
       absl::StrCat("may change only spotguard.io/ taints; refused: ", kSpotTaint)},
      {"change the spot taint's effect", kube::PatchType::kJson,
       Json::array({{{"op", "replace"}, {"path", absl::StrCat("/spec/taints/", spot, "/effect")},
                     {"value", "PreferNoSchedule"}}}),
       absl::StrCat("may change only spotguard.io/ taints; refused: ", kSpotTaint)},
      {"set the pod CIDR", kube::PatchType::kMerge,
       {{"spec", {{"podCIDR", "10.244.7.0/24"}, {"podCIDRs", Json::array({"10.244.7.0/24"})}}}},
       "may change only spec.unschedulable and spotguard.io/ taints in a node's spec"},
      {"add a finalizer", kube::PatchType::kMerge, {{"metadata", {{"finalizers", Json::array({"example.com/keep"})}}}},
       "may not change a node's finalizers or ownerReferences"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_TRUE(Refused(kube::PatchNode(*a.client, a.node, c.type, c.patch).status(), c.why));
  }
  const Json after = Node(a.node);
  EXPECT_THAT(Writers(after), Not(Contains(kAgentWriter)));
  EXPECT_EQ(Label(after, "node-role.kubernetes.io/control-plane"), "");
  EXPECT_EQ(Label(after, "topology.kubernetes.io/zone"), "zone-1");
  EXPECT_EQ(Label(after, kSpotTaint), "spot");
  EXPECT_EQ(Label(after, "type"), "kwok");
  EXPECT_EQ(kube::StringAt(after, {"metadata", "annotations", "example.com/owner"}), "");
  EXPECT_TRUE(kube::HasTaint(after, kSpotTaint, "NoSchedule"));
  EXPECT_FALSE(kube::HasTaint(after, kSpotTaint, "PreferNoSchedule"));
  EXPECT_FALSE(kube::HasTaint(after, "node-role.kubernetes.io/control-plane", "NoSchedule"));
  EXPECT_FALSE(after["spec"].contains("podCIDR"));
  EXPECT_FALSE(after["metadata"].contains("finalizers"));
  EXPECT_FALSE(HasSpotguardKey(after)) << after.dump();
}

// Verifies the agent cannot uncordon a node an administrator cordoned — neither outright nor
// by first recording in spotguard.io/agent that it cordoned it — while its own work on that
// node (taint, labels, annotations for a notice, and removing them again) goes through and
// leaves the cordon in place.
TEST_F(AdmissionE2E, AgentCannotUndoAnAdministratorsCordon) {
  Agent a = Provision("adm-cordon");
  ASSERT_NE(a.client, nullptr);
  ASSERT_TRUE(Merge(admin(), a.node, {{"spec", {{"unschedulable", true}}}}).ok());
  const std::string forged = R"({"cordoned":true,"notices":[]})";
  const std::string uncordon = absl::StrCat("may not uncordon node ", a.node, ": spotguard did not cordon it");
  EXPECT_TRUE(Refused(Merge(*a.client, a.node, {{"spec", {{"unschedulable", false}}}}), uncordon));
  EXPECT_TRUE(Refused(JsonPatch(*a.client, a.node, Json::array({{{"op", "remove"}, {"path", "/spec/unschedulable"}}})),
                      uncordon));
  EXPECT_TRUE(Refused(Merge(*a.client, a.node,
                            {{"spec", {{"unschedulable", nullptr}}},
                             {"metadata", {{"annotations", {{notice::kAgentAnnotation, forged}}}}}}),
                      uncordon));
  EXPECT_TRUE(Refused(Merge(*a.client, a.node, {{"metadata", {{"annotations", {{notice::kAgentAnnotation, forged}}}}}}),
                      absl::StrCat("may record \"cordoned\":true on node ", a.node,
                                   " only when it cordons the node or had cordoned it")));
  Json node = Node(a.node);
  EXPECT_TRUE(Unschedulable(node));
  EXPECT_FALSE(HasSpotguardKey(node)) << node.dump();
  EXPECT_THAT(Writers(node), Not(Contains(kAgentWriter)));

  ASSERT_TRUE(Reconcile(*a.client, a.node, {Preempt("preempt-on-cordoned")}).ok());
  node = Node(a.node);
  EXPECT_TRUE(HasSpotguardKey(node));
  EXPECT_FALSE(agent::ReadRecord(node)->cordoned);
  ASSERT_TRUE(Reconcile(*a.client, a.node, {}).ok());
  node = Node(a.node);
  EXPECT_TRUE(Unschedulable(node));
  EXPECT_FALSE(HasSpotguardKey(node)) << node.dump();
}

// Verifies the agent's normal work on its own node is allowed: for a preemption and a
// rebalance recommendation it cordons, taints, labels and annotates the node; when they are
// withdrawn it undoes all of it, its own cordon included.
TEST_F(AdmissionE2E, AgentDoesItsWorkOnItsNode) {
  Agent a = Provision("adm-work");
  ASSERT_NE(a.client, nullptr);

  absl::Status s = Reconcile(*a.client, a.node, {Rebalance()});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(kube::StringAt(Node(a.node), {"metadata", "labels", notice::kRebalanceLabel}), "true");

  s = Reconcile(*a.client, a.node, {Preempt("preempt-1"), Rebalance()});
  ASSERT_TRUE(s.ok()) << s;
  Json node = Node(a.node);
  EXPECT_TRUE(Unschedulable(node));
  EXPECT_TRUE(kube::HasTaint(node, notice::kTaintKey, "NoSchedule"));
  EXPECT_EQ(kube::StringAt(node, {"metadata", "labels", notice::kEvictingLabel}), "true");
  EXPECT_FALSE(kube::StringAt(node, {"metadata", "annotations", notice::kNoticeAnnotation}).empty());
  EXPECT_TRUE(agent::ReadRecord(node)->cordoned);

  s = Reconcile(*a.client, a.node, {});
  ASSERT_TRUE(s.ok()) << s;
  node = Node(a.node);
  EXPECT_FALSE(Unschedulable(node));
  EXPECT_FALSE(HasSpotguardKey(node)) << node.dump();
  EXPECT_TRUE(kube::HasTaint(node, kSpotTaint, "NoSchedule"));
  EXPECT_EQ(Label(node, "type"), "kwok");
}

// Verifies the rules read absent maps and lists as empty: on a node with no labels,
// annotations or taints at all, the agent's work goes through and a foreign label is refused
// for what it is (not for an expression that failed to evaluate).
TEST_F(AdmissionE2E, AgentOnANodeWithoutLabelsAnnotationsOrTaints) {
  Agent a = Provision("adm-bare");
  ASSERT_NE(a.client, nullptr);
  // kube-controller-manager copies kubernetes.io/os to beta.kubernetes.io/os (and arch) once:
  // after that, a node without labels stays so.
  ASSERT_TRUE(WaitForObject(admin(), "/api/v1/nodes", a.node, [](const Json& n) {
                return !n.is_null() && !Label(n, "beta.kubernetes.io/os").empty();
              }).ok());
  ASSERT_TRUE(JsonPatch(admin(), a.node,
                        Json::array({{{"op", "remove"}, {"path", "/metadata/labels"}},
                                     {{"op", "remove"}, {"path", "/metadata/annotations"}},
                                     {{"op", "remove"}, {"path", "/spec/taints"}}}))
                  .ok());
  Json bare = Node(a.node);
  ASSERT_FALSE(bare["metadata"].contains("labels")) << bare.dump();
  ASSERT_FALSE(bare["metadata"].contains("annotations")) << bare.dump();
  ASSERT_FALSE(bare["spec"].contains("taints")) << bare.dump();

  EXPECT_TRUE(Refused(Merge(*a.client, a.node, {{"metadata", {{"labels", {{"type", "kwok"}}}}}}),
                      "may change only spotguard.io/ labels; refused: type"));
  absl::Status s = Reconcile(*a.client, a.node, {Preempt("preempt-bare")});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(Unschedulable(Node(a.node)));
  s = Reconcile(*a.client, a.node, {});
  ASSERT_TRUE(s.ok()) << s;
  const Json node = Node(a.node);
  EXPECT_FALSE(Unschedulable(node));
  EXPECT_FALSE(HasSpotguardKey(node)) << node.dump();
}

// Verifies a token of the agent's ServiceAccount that names no node (bound to no pod) may not
// write any node, not even to cordon.
TEST_F(AdmissionE2E, TokenWithoutNodeIsRefused) {
  Agent a = Provision("adm-nonode");
  auto token = kube::RequestToken(admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-agent"});
  ASSERT_TRUE(token.ok()) << token.status();
  auto client = cp().ClientWithToken(token->first);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(Refused(Merge(**client, a.node, {{"spec", {{"unschedulable", true}}}}),
                      "the spotguard-agent's token names no node"));
  EXPECT_FALSE(Unschedulable(Node(a.node)));
}

// Verifies the policy also refuses what agent-rbac.yaml does not grant — creating and deleting
// nodes, writing nodes/status (which can change labels: the API server resets only spec
// there) — should a wider role ever be bound to the agent. Dry runs: nothing changes either way.
TEST_F(AdmissionE2E, CreateDeleteAndStatusRefusedEvenWithWiderRbac) {
  Agent a = Provision("adm-rbac");
  const std::string role = UniqueName("spotguard-e2e-wider-agent");
  Json cluster_role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                       {"kind", "ClusterRole"},
                       {"metadata", {{"name", role}}},
                       {"rules", Json::array({{{"apiGroups", {""}}, {"resources", {"nodes"}},
                                               {"verbs", {"create", "delete"}}},
                                              {{"apiGroups", {""}}, {"resources", {"nodes/status"}},
                                               {"verbs", {"get", "patch"}}}})}};
  Json binding = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                  {"kind", "ClusterRoleBinding"},
                  {"metadata", {{"name", role}}},
                  {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
                  {"subjects", Json::array({{{"kind", "ServiceAccount"}, {"name", "spotguard-agent"},
                                             {"namespace", "spotguard-system"}}})}};
  ASSERT_TRUE(admin().Post("/apis/rbac.authorization.k8s.io/v1/clusterroles", cluster_role).ok());
  ASSERT_TRUE(admin().Post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding).ok());
  // RBAC takes the new binding in a moment after it is created: until then RBAC refuses.
  auto paced = cp().ClientWithToken(a.creds.api_token, {.qps = 20, .burst = 1, .max_attempts = 1});
  ASSERT_TRUE(paced.ok()) << paced.status();
  absl::Status deleted = RetryUntilRefusedByAgentPolicy(
      [&] { return (*paced)->Delete(absl::StrCat("/api/v1/nodes/", a.node, "?dryRun=All")).status(); });
  EXPECT_TRUE(deleted.ok()) << deleted;
  EXPECT_TRUE(Refused((*paced)->Delete(absl::StrCat("/api/v1/nodes/", a.node, "?dryRun=All")).status(),
                      "may only patch a node, not DELETE nodes"));
  EXPECT_TRUE(Refused((*paced)->Post("/api/v1/nodes?dryRun=All", MakeNode({.name = UniqueName("adm-created")})).status(),
                      "may only patch a node, not CREATE nodes"));
  EXPECT_TRUE(Refused((*paced)->Patch(absl::StrCat("/api/v1/nodes/", a.node, "/status?dryRun=All"), kube::PatchType::kMerge,
                                      {{"metadata", {{"labels", {{"node-role.kubernetes.io/control-plane", ""}}}}}})
                          .status(),
                      "may only patch a node, not UPDATE nodes/status"));
  EXPECT_TRUE(admin().Delete("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + role).ok());
  EXPECT_TRUE(admin().Delete("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role).ok());
}

}  // namespace
}  // namespace spotguard::e2e
