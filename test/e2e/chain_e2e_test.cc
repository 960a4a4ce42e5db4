// The whole chain, end to end, with every real component that runs here: the cloud's
// notice (AWS's own ec2-metadata-mock, or the Azure Scheduled Events fake) → the real
// spotguard-agent under its RBAC → cordon and taint in the real API server + gRPC report →
// the real spotguard-extender under its RBAC evicts the node's Spark executors with a grace
// that fits the notice → replacement executors, scheduled by the real kube-scheduler calling
// the extender, land elsewhere. Also: a restarted extender resumes, two replicas act once.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "node-agent/reporter.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::e2e {
namespace {

using testing::FakeAzureScheduledEvents;

class ChainE2E : public E2ETest {
 protected:
  static void SetUpTestSuite() {
    if (!ControlPlaneEnvironment::status().ok()) return;
    ControlPlane& cp = ControlPlaneEnvironment::Get();
    ASSERT_TRUE(ApplyAgentRbac(cp).ok());
    ASSERT_TRUE(ApplyExtenderRbac(cp).ok());
  }

  void SetUp() override {
    E2ETest::SetUp();
    group_ = UniqueName("chain");
    ASSERT_TRUE(CreateNamespace(admin(), group_).ok());
  }

  void StartExtenderAndScheduler() {
    auto ext = StartExtender(cp());
    ASSERT_TRUE(ext.ok()) << ext.status();
    extender_ = std::move(*ext);
    ASSERT_TRUE(cp().StartScheduler(SchedulerConfig(extender_, true)).ok());
  }

  NodeSpec Spec(NodeKind kind, const std::string& zone) {
    return {.name = UniqueName(group_ + "-node"), .kind = kind, .zone = zone, .pool = group_ + "-pool",
            .instance_type = kind == NodeKind::kAksSpot ? "Standard_D8s_v5" : "m5.2xlarge"};
  }
  void Label(const std::string& node) {
    ASSERT_TRUE(kube::PatchNode(admin(), node, kube::PatchType::kMerge,
                                {{"metadata", {{"labels", {{"e2e-group", group_}}}}}}).ok());
  }
  void Add(const NodeSpec& spec) {
    ASSERT_TRUE(CreateNode(admin(), spec).ok());
    ASSERT_TRUE(WaitSchedulable(admin(), spec.name).ok()) << spec.name;
    Label(spec.name);
  }
  // A running executor, placed directly on `node` (as if scheduled before the notice).
  void RunExecutor(const std::string& name, const std::string& node, int id) {
    Json pod = MakeSparkPod({.namespace_ = group_, .name = name, .app_id = group_, .exec_id = id, .node = node,
                             .termination_grace_seconds = 300});
    ASSERT_TRUE(CreatePod(admin(), pod).ok());
  }
  std::string Schedule(const std::string& name, int id, bool driver = false) {
    Json pod = MakeSparkPod({.namespace_ = group_, .name = name, .app_id = group_, .driver = driver, .exec_id = id,
                             .scheduler_name = "spotguard-scheduler"});
    pod["spec"]["nodeSelector"] = {{"e2e-group", group_}};
    EXPECT_TRUE(CreatePod(admin(), pod).ok());
    auto bound = WaitForObject(admin(), Pods(), name,
                               [](const Json& p) { return !p.is_null() && !kube::StringAt(p, {"spec", "nodeName"}).empty(); });
    EXPECT_TRUE(bound.ok()) << bound.status();
    return bound.ok() ? kube::StringAt(*bound, {"spec", "nodeName"}) : "";
  }
  std::string Pods() { return absl::StrCat("/api/v1/namespaces/", group_, "/pods"); }

  // ec2-metadata-mock with `aemm_args`, and the node's agent polling it (null on failure,
  // with the reason already reported).
  struct AwsAgent {
    std::unique_ptr<Process> aemm, agent;
  };
  AwsAgent StartAwsAgent(const std::string& node, const AgentCredentials& creds, std::vector<std::string> aemm_args) {
    AwsAgent out;
    const int port = FreePort();
    auto aemm = StartEc2MetadataMock(cp(), port, std::move(aemm_args));
    EXPECT_TRUE(aemm.ok()) << aemm.status();
    if (!aemm.ok()) return out;
    out.aemm = std::move(*aemm);
    auto agent = StartAgent(cp(), node, creds, extender_.grpc_address,
                            {"--aws_endpoint=http://127.0.0.1:" + std::to_string(port)});
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (agent.ok()) out.agent = std::move(*agent);
    return out;
  }

  // Waits until the pod is being deleted; returns it.
  Json WaitEvicted(const std::string& name, absl::Duration timeout = absl::Seconds(30)) {
    auto pod = WaitForObject(admin(), Pods(), name,
                             [](const Json& p) { return p.is_null() || p["metadata"].contains("deletionTimestamp"); },
                             timeout);
    EXPECT_TRUE(pod.ok()) << pod.status();
    return pod.ok() ? *pod : Json();
  }

  // Checks an evicted executor: labelled, grace = notBefore − eviction time − 5 s margin (± 2 s).
  void ExpectDecommissioned(const Json& pod, absl::Time not_before) {
    ASSERT_FALSE(pod.is_null()) << "the executor vanished before its eviction was seen";
    EXPECT_EQ(kube::StringAt(pod, {"metadata", "labels", "spotguard.io/decommissioning"}), "true");
    int64_t grace = pod["metadata"].value("deletionGracePeriodSeconds", int64_t{-1});
    auto deleted_at = kube::ParseApiTime(kube::StringAt(pod, {"metadata", "deletionTimestamp"}));
    ASSERT_TRUE(deleted_at.ok());
    // deletionTimestamp = eviction time + grace.
    const absl::Time evicted_at = *deleted_at - absl::Seconds(grace);
    const int64_t want = absl::ToInt64Seconds(not_before - evicted_at - absl::Seconds(5));
    EXPECT_NEAR(grace, want, 2) << kube::StringAt(pod, {"metadata", "name"});
  }

  // Waits until the pod has at least one SparkExecutorDecommission Event (they follow the
  // eviction), then returns how many it has.
  int WaitDecommissionEvents(const std::string& pod) {
    auto events = WaitForList(admin(), absl::StrCat("/api/v1/namespaces/", group_, "/events"),
                              "fieldSelector=" + UrlEncode("involvedObject.name=" + pod + ",reason=SparkExecutorDecommission"),
                              [](const std::vector<Json>& v) { return !v.empty(); });
    return events.ok() ? static_cast<int>(events->size()) : 0;
  }

  int DecommissionEvents(const std::string& pod) {
    auto events = ListEvents(admin(), pod, "SparkExecutorDecommission", group_);
    return events.ok() ? static_cast<int>(events->size()) : -1;
  }

  std::string ExtenderMetrics() {
    return ScrapeExtender(extender_);
  }

  std::string group_;
  RunningExtender extender_;
};

absl::Time NoticeNotBefore(const Json& node) {
  Json n = Json::parse(kube::StringAt(node, {"metadata", "annotations", "spotguard.io/notice"}), nullptr, false);
  auto t = kube::ParseApiTime(n.is_object() ? n.value("notBefore", "") : "");
  return t.ok() ? *t : absl::InfinitePast();
}

// Waits until the agent has cordoned the node and annotated its notice; returns the node.
absl::StatusOr<Json> WaitCordoned(const std::string& node) {
  return WaitForObject(ControlPlaneEnvironment::Get().admin(), "/api/v1/nodes", node, [](const Json& n) {
    return !n.is_null() && n["spec"].value("unschedulable", false) && NoticeNotBefore(n) != absl::InfinitePast();
  });
}

// Verifies the AWS chain: spot interruption → cordon + report → executors evicted with a
// grace fitting the two minutes → replacements scheduled on other nodes only.
TEST_F(ChainE2E, AwsSpotInterruption) {
  StartExtenderAndScheduler();
  NodeSpec doomed = Spec(NodeKind::kEksSpot, "us-east-1a");
  auto creds = ProvisionAgent(cp(), doomed);
  ASSERT_TRUE(creds.ok()) << creds.status();
  Label(doomed.name);
  NodeSpec other1 = Spec(NodeKind::kEksSpot, "us-east-1b"), other2 = Spec(NodeKind::kEksSpot, "us-east-1c");
  NodeSpec od = Spec(NodeKind::kEksOnDemand, "us-east-1a");
  for (const auto& s : {other1, other2, od}) Add(s);
  EXPECT_EQ(Schedule("driver", 0, /*driver=*/true), od.name);
  for (int i = 1; i <= 3; ++i) RunExecutor(absl::StrCat("exec-", i), doomed.name, i);
  RunExecutor("exec-elsewhere", other1.name, 9);

  AwsAgent aws = StartAwsAgent(doomed.name, *creds, {"spot", "--action=terminate", "--mock-delay-sec=2"});
  ASSERT_TRUE(aws.agent != nullptr);

  auto cordoned = WaitCordoned(doomed.name);
  ASSERT_TRUE(cordoned.ok()) << cordoned.status();
  const absl::Time not_before = NoticeNotBefore(*cordoned);
  for (int i = 1; i <= 3; ++i) ExpectDecommissioned(WaitEvicted(absl::StrCat("exec-", i)), not_before);
  auto untouched = admin().Get(Pods() + "/exec-elsewhere");
  ASSERT_TRUE(untouched.ok());
  EXPECT_FALSE((*untouched)["metadata"].contains("deletionTimestamp"));

  // The driver asks for replacements: none may land on the doomed node.
  std::set<std::string> landed;
  for (int i = 4; i <= 6; ++i) landed.insert(Schedule(absl::StrCat("exec-", i), i));
  EXPECT_FALSE(landed.contains(doomed.name));
  EXPECT_TRUE(landed.contains(other1.name) || landed.contains(other2.name));

  std::string m = ExtenderMetrics();
  EXPECT_THAT(m, ::testing::HasSubstr(R"(spotguard_decommissions_total{result="evicted"} 3)"));
  EXPECT_THAT(m, ::testing::HasSubstr("spotguard_notice_to_decommission_seconds_count 1"));
  // Received once, by whichever channel was first (the cordon and the report race).
  int received = 0;
  for (const char* channel : {"grpc", "watch"}) {
    const std::string series = absl::StrCat(R"(spotguard_notices_received_total{channel=")", channel,
                                            R"(",cloud="aws",kind="eviction"} )");
    if (size_t at = m.find(series); at != std::string::npos) received += std::atoi(m.c_str() + at + series.size());
  }
  EXPECT_EQ(received, 1);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(WaitDecommissionEvents(absl::StrCat("exec-", i)), 1);
}

// Verifies a far-ahead notice — an AWS instance-retirement three days away, from
// ec2-metadata-mock — cordons and taints the node at once but evicts no executor until the
// lead before its deadline (here --decommission_lead = 72 h − 15 s), then with all the grace
// an executor may have. It used to evict at once, throwing three days of work away.
TEST_F(ChainE2E, AwsRetirementFarAheadWaitsForTheLead) {
  const absl::Time not_before = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(72)));
  auto ext = StartExtender(cp(), {"--decommission_lead=71h59m45s"});
  ASSERT_TRUE(ext.ok()) << ext.status();
  extender_ = std::move(*ext);
  NodeSpec doomed = Spec(NodeKind::kEksSpot, "us-east-1a");
  auto creds = ProvisionAgent(cp(), doomed);
  ASSERT_TRUE(creds.ok()) << creds.status();
  RunExecutor("exec-1", doomed.name, 1);
  AwsAgent aws = StartAwsAgent(doomed.name, *creds, {"events", "--code=instance-retirement",
                                                      "--not-before=" + kube::FormatApiTime(not_before)});
  ASSERT_TRUE(aws.agent != nullptr);
  auto cordoned = WaitCordoned(doomed.name);
  ASSERT_TRUE(cordoned.ok()) << cordoned.status();
  EXPECT_EQ(NoticeNotBefore(*cordoned), not_before);
  ASSERT_TRUE(extender_.process->WaitForLine([](absl::string_view l) {
                return absl::StrContains(l, "decommission scheduled: the notice is far ahead");
              }).ok());
  auto waiting = admin().Get(Pods() + "/exec-1");
  ASSERT_TRUE(waiting.ok());
  EXPECT_FALSE((*waiting)["metadata"].contains("deletionTimestamp")) << "evicted days early";
  // Its time comes: evicted with the longest grace (--max_grace, 10 min).
  Json pod = WaitEvicted("exec-1", absl::Seconds(60));
  ASSERT_FALSE(pod.is_null());
  EXPECT_EQ(pod["metadata"].value("deletionGracePeriodSeconds", int64_t{-1}), 600);
  auto evicted_at = kube::ParseApiTime(kube::StringAt(pod, {"metadata", "deletionTimestamp"}));
  ASSERT_TRUE(evicted_at.ok());
  EXPECT_GE(*evicted_at - absl::Seconds(600), not_before - absl::Hours(72) + absl::Seconds(13));
}

// Verifies a notice that recurs on a node after its withdrawal (AWS interruption ids such as
// aws-spot-stop repeat) is acted on again, through the durable channel: the node annotation.
TEST_F(ChainE2E, RecurringNoticeDecommissionsAgain) {
  StartExtenderAndScheduler();
  NodeSpec node = Spec(NodeKind::kEksSpot, "us-east-1a");
  Add(node);
  auto annotate = [&](std::optional<absl::Time> detected) {
    Json value = nullptr;
    if (detected.has_value()) {
      value = Json{{"id", "aws-spot-stop"}, {"cloud", "aws"}, {"kind", "eviction"}, {"rawAction", "stop"},
                   {"notBefore", kube::FormatApiTime(*detected + absl::Minutes(2))},
                   {"detectedAt", kube::FormatApiTime(*detected)}, {"source", "aws-spot-itn"}}
                  .dump();
    }
    return kube::PatchNode(admin(), node.name, kube::PatchType::kMerge,
                           {{"metadata", {{"annotations", {{"spotguard.io/notice", value}}}}}})
        .status();
  };
  RunExecutor("exec-1", node.name, 1);
  ASSERT_TRUE(annotate(absl::Now()).ok());
  ASSERT_FALSE(WaitEvicted("exec-1").is_null());
  // The instance was stopped, not taken: the notice goes, the node comes back, a new
  // executor runs there, and the same notice id comes again.
  ASSERT_TRUE(annotate(std::nullopt).ok());
  ASSERT_TRUE(extender_.process->WaitForLine([](absl::string_view l) {
                return absl::StrContains(l, "notice withdrawn") && absl::StrContains(l, "aws-spot-stop");
              }).ok());
  RunExecutor("exec-2", node.name, 2);
  ASSERT_TRUE(annotate(absl::Now() + absl::Seconds(1)).ok());
  ASSERT_FALSE(WaitEvicted("exec-2").is_null());
}

// Verifies the Azure chain: a Preempt with 30 s of notice → executors evicted with ~25 s.
TEST_F(ChainE2E, AzurePreempt) {
  StartExtenderAndScheduler();
  NodeSpec doomed = Spec(NodeKind::kAksSpot, "westeurope-1");
  auto creds = ProvisionAgent(cp(), doomed);
  ASSERT_TRUE(creds.ok()) << creds.status();
  Label(doomed.name);
  NodeSpec other = Spec(NodeKind::kAksSpot, "westeurope-2");
  Add(other);
  for (int i = 1; i <= 2; ++i) RunExecutor(absl::StrCat("exec-", i), doomed.name, i);
  FakeAzureScheduledEvents imds;
  auto agent = StartAgent(cp(), doomed.name, *creds, extender_.grpc_address, {"--azure_endpoint=" + imds.url()});
  ASSERT_TRUE(agent.ok()) << agent.status();
  auto node = kube::GetNode(admin(), doomed.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*node, {"spec", "providerID"}));
  const absl::Time not_before = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + absl::Seconds(30)));
  imds.Add({.id = "preempt-1", .type = "Preempt", .resources = {vm}, .not_before = FakeAzureScheduledEvents::Rfc1123(not_before)});
  for (int i = 1; i <= 2; ++i) ExpectDecommissioned(WaitEvicted(absl::StrCat("exec-", i)), not_before);
  EXPECT_EQ(Schedule("exec-3", 3), other.name);
}

// Verifies an extender killed while a PodDisruptionBudget holds its evictions is resumed by
// a new one from the node's annotation: every executor evicted, none twice.
TEST_F(ChainE2E, RestartedExtenderResumes) {
  NodeSpec doomed = Spec(NodeKind::kEksSpot, "us-east-1a");
  Add(doomed);
  for (int i = 1; i <= 2; ++i) RunExecutor(absl::StrCat("exec-", i), doomed.name, i);
  const std::string pdbs = absl::StrCat("/apis/policy/v1/namespaces/", group_, "/poddisruptionbudgets");
  auto pdb = admin().Post(pdbs, {{"apiVersion", "policy/v1"}, {"kind", "PodDisruptionBudget"},
                                 {"metadata", {{"name", "executors"}}},
                                 {"spec", {{"minAvailable", 2}, {"selector", {{"matchLabels", {{"spark-app-selector", group_}}}}}}}});
  ASSERT_TRUE(pdb.ok()) << pdb.status();
  // kube-controller-manager's disruption controller keeps the budget's status.
  auto wait_allowed = [&](int at_least, int at_most) {
    return WaitForObject(admin(), pdbs, "executors", [&](const Json& p) {
             if (p.is_null() || !p.contains("status")) return false;
             const Json& st = p["status"];
             const int allowed = st.value("disruptionsAllowed", -1);
             return st.value("observedGeneration", int64_t{-1}) == p["metadata"].value("generation", int64_t{0}) &&
                    st.value("currentHealthy", 0) == 2 && allowed >= at_least && allowed <= at_most;
           }).status();
  };
  ASSERT_TRUE(wait_allowed(0, 0).ok());

  auto first = StartExtender(cp());
  ASSERT_TRUE(first.ok()) << first.status();
  // The agent's durable channel: the notice annotation (no gRPC report at all here).
  Json notice = {{"id", "itn-restart"}, {"cloud", "aws"}, {"kind", "eviction"}, {"rawAction", "terminate"},
                 {"notBefore", kube::FormatApiTime(absl::Now() + absl::Minutes(2))},
                 {"detectedAt", kube::FormatApiTime(absl::Now())}, {"source", "aws-spot-itn"}};
  ASSERT_TRUE(kube::PatchNode(admin(), doomed.name, kube::PatchType::kMerge,
                              {{"metadata", {{"annotations", {{"spotguard.io/notice", notice.dump()}}}}}}).ok());
  // Claimed, and blocked by the budget.
  ASSERT_TRUE(WaitForObject(admin(), Pods(), "exec-1", [](const Json& p) {
                return !p.is_null() && !kube::StringAt(p, {"metadata", "annotations", "spotguard.io/decommission-claim"}).empty();
              }).ok());
  ASSERT_TRUE(first->process->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "decommissioning"); }).ok());
  first->process->Signal(SIGKILL);
  first->process->Wait(absl::Seconds(10));

  // The budget lifted: the disruption controller allows both evictions (and gives back what
  // an eviction that then failed took).
  ASSERT_TRUE(admin().Patch(pdbs + "/executors", kube::PatchType::kMerge, {{"spec", {{"minAvailable", 0}}}}).ok());
  ASSERT_TRUE(wait_allowed(2, 100).ok());
  auto second = StartExtender(cp());
  ASSERT_TRUE(second.ok()) << second.status();
  for (int i = 1; i <= 2; ++i) {
    Json pod = WaitEvicted(absl::StrCat("exec-", i), absl::Seconds(60));
    ASSERT_FALSE(pod.is_null());
    EXPECT_TRUE(pod["metadata"].contains("deletionTimestamp"));
  }
  // Once the new extender has finished its pass (Events included), each executor was evicted
  // exactly once.
  ASSERT_TRUE(second->process->WaitForLine([](absl::string_view l) {
                return absl::StrContains(l, "executor decommissions announced") && absl::StrContains(l, "\"itn-restart\"");
              }, absl::Seconds(60)).ok());
  for (int i = 1; i <= 2; ++i) EXPECT_EQ(WaitDecommissionEvents(absl::StrCat("exec-", i)), 1) << "evicted twice";
}

// Verifies two replicas that both see a notice evict each executor once.
TEST_F(ChainE2E, TwoReplicasActOnce) {
  NodeSpec doomed = Spec(NodeKind::kEksSpot, "us-east-1a");
  Add(doomed);
  for (int i = 1; i <= 4; ++i) RunExecutor(absl::StrCat("exec-", i), doomed.name, i);
  auto a = StartExtender(cp());
  auto b = StartExtender(cp());
  ASSERT_TRUE(a.ok() && b.ok());
  Json notice = {{"id", "itn-two"}, {"cloud", "aws"}, {"kind", "eviction"}, {"rawAction", "terminate"},
                 {"notBefore", kube::FormatApiTime(absl::Now() + absl::Minutes(2))},
                 {"detectedAt", kube::FormatApiTime(absl::Now())}, {"source", "aws-spot-itn"}};
  ASSERT_TRUE(kube::PatchNode(admin(), doomed.name, kube::PatchType::kMerge,
                              {{"metadata", {{"annotations", {{"spotguard.io/notice", notice.dump()}}}}}}).ok());
  for (int i = 1; i <= 4; ++i) ASSERT_FALSE(WaitEvicted(absl::StrCat("exec-", i)).is_null());
  // Every replica has finished its pass, Events included, once each logged its summary (a
  // replica that evicted nothing announces nothing).
  // (Matched by notice id: both also pass over the notices earlier tests left on their nodes.)
  for (RunningExtender* ext : {&*a, &*b}) {
    auto line = [](const char* msg) {
      return [msg](absl::string_view l) { return absl::StrContains(l, msg) && absl::StrContains(l, "\"itn-two\""); };
    };
    auto sent = ext->process->WaitForLine(line("executor evictions sent"));
    ASSERT_TRUE(sent.ok()) << sent.status();
    if (Json::parse(*sent).value("sent", 0) == 0) continue;
    ASSERT_TRUE(ext->process->WaitForLine(line("executor decommissions announced")).ok());
  }
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(DecommissionEvents(absl::StrCat("exec-", i)), 1) << "exec-" << i;
}

// Verifies the EvictionService refuses reports without a token, with a token whose pod is
// gone, and about another node than the caller's — and accepts the caller's own.
TEST_F(ChainE2E, GrpcAuthentication) {
  auto ext = StartExtender(cp());
  ASSERT_TRUE(ext.ok()) << ext.status();
  NodeSpec mine = Spec(NodeKind::kEksSpot, "us-east-1a"), theirs = Spec(NodeKind::kEksSpot, "us-east-1b");
  auto creds = ProvisionAgent(cp(), mine);
  ASSERT_TRUE(creds.ok());
  Add(theirs);
  agent::Notice n{.id = "itn-auth", .cloud = agent::v1::CLOUD_AWS, .kind = agent::v1::NOTICE_KIND_EVICTION,
                  .raw_action = "terminate", .not_before = absl::Now() + absl::Minutes(2), .detected_at = absl::Now(),
                  .source = "aws-spot-itn", .action = agent::Action::kCordon};
  auto facts = [&](const std::string& node) { return kube::FactsOf(*kube::GetNode(admin(), node)); };
  auto reporter = agent::NewGrpcReporter({.address = ext->grpc_address, .token_path = creds->report_token_path, .channel = AgentChannel(*ext)});
  absl::Status foreign = reporter->Report(facts(theirs.name), n);
  EXPECT_EQ(foreign.code(), absl::StatusCode::kPermissionDenied) << foreign;
  EXPECT_TRUE(reporter->Report(facts(mine.name), n).ok());

  std::string empty = cp().dir() + "/empty.token";
  std::ofstream(empty) << "";
  auto anonymous = agent::NewGrpcReporter({.address = ext->grpc_address, .token_path = empty, .channel = AgentChannel(*ext)});
  EXPECT_EQ(anonymous->Report(facts(mine.name), n).code(), absl::StatusCode::kUnauthenticated);
  // A bound token dies with its pod. (A token already validated stays cached until it expires,
  // as the TokenReview result allows; this one has not been seen yet.)
  auto pod = admin().Get("/api/v1/namespaces/spotguard-system/pods/" + creds->pod);
  auto unseen = kube::RequestToken(admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-agent",
                                             .audiences = {"spotguard"}, .bound_pod_name = creds->pod,
                                             .bound_pod_uid = (*pod)["metadata"]["uid"]});
  ASSERT_TRUE(unseen.ok());
  std::string unseen_path = cp().dir() + "/unseen.token";
  std::ofstream(unseen_path) << unseen->first;
  ASSERT_TRUE(kube::DeletePod(admin(), "spotguard-system", creds->pod, 0).ok());
  ASSERT_TRUE(WaitForObject(admin(), "/api/v1/namespaces/spotguard-system/pods", creds->pod,
                            [](const Json& p) { return p.is_null(); }).ok());
  auto stale = agent::NewGrpcReporter({.address = ext->grpc_address, .token_path = unseen_path, .channel = AgentChannel(*ext)});
  n.id = "itn-auth-2";
  EXPECT_EQ(stale->Report(facts(mine.name), n).code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace spotguard::e2e
