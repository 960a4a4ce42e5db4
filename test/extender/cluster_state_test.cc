#include "extender/cluster_state.h"

#include <map>
#include <random>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_api_server.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::extender {
namespace {

using testing::FakeApiServer;
using testing::FakeClock;

Json AksSpot(const std::string& name, const std::string& pool, const std::string& zone) {
  return {{"metadata", {{"name", name}, {"labels", {{"kubernetes.azure.com/scalesetpriority", "spot"},
                                                   {"kubernetes.azure.com/agentpool", pool},
                                                   {"topology.kubernetes.io/zone", zone},
                                                   {"node.kubernetes.io/instance-type", "Standard_D8s_v5"}}}}},
          {"spec", {{"providerID", "azure:///subscriptions/s/x/" + name}}}};
}

Json OnDemand(const std::string& name) {
  return {{"metadata", {{"name", name}, {"labels", {{"eks.amazonaws.com/capacityType", "ON_DEMAND"},
                                                   {"eks.amazonaws.com/nodegroup", "od"},
                                                   {"topology.kubernetes.io/zone", "us-east-1a"}}}}},
          {"spec", {{"providerID", "aws:///us-east-1a/i-0od"}}}};
}

Json Executor(const std::string& name, const std::string& node, const std::string& app, bool terminating = false) {
  Json p = {{"metadata", {{"name", name}, {"namespace", "spark"}, {"uid", "uid-" + name}, {"resourceVersion", "1"},
                          {"labels", {{"spark-role", "executor"}, {"spark-app-selector", app}}}}},
            {"spec", {{"nodeName", node}}},
            {"status", {{"phase", "Running"}}}};
  if (terminating) p["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z";
  return p;
}

Json WithNotice(Json node, const std::string& id) {
  node["metadata"]["annotations"]["spotguard.io/notice"] =
      Json{{"id", id}, {"cloud", "azure"}, {"kind", "eviction"}, {"rawAction", "Preempt"},
           {"notBefore", "2027-01-15T08:00:30Z"}, {"detectedAt", "2027-01-15T08:00:00Z"}, {"source", "azure-scheduled-events"}}
          .dump();
  return node;
}

NoticeRecord Grpc(const std::string& id, const std::string& node) {
  NoticeRecord n;
  n.id = id;
  n.node = node;
  n.cloud = v1::CLOUD_AZURE;
  n.kind = v1::NOTICE_KIND_EVICTION;
  n.raw_action = "Preempt";
  n.action = notice::Action::kCordon;
  n.not_before = absl::FromUnixSeconds(1'800'000'030);
  n.detected_at = absl::FromUnixSeconds(1'800'000'000);
  return n;
}

struct Harness {
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  FakeApiServer api;
  std::unique_ptr<kube::KubeClient> kube = api.Client(clock);
  MetricsRegistry registry;
  ExtenderMetrics metrics{registry};
  std::unique_ptr<ClusterState> state;
  std::vector<std::string> doomed, withdrawn, landed;
  explicit Harness(std::string configmap_ns = "") {
    state = std::make_unique<ClusterState>(ClusterStateOptions{.configmap_namespace = configmap_ns}, clock, *kube, metrics);
    state->OnDoomed([this](const NoticeRecord& n) { doomed.push_back(n.id + "@" + n.node + "/" + n.channel); });
    state->OnWithdrawn([this](const NoticeRecord& n) { withdrawn.push_back(n.id); });
    state->OnPodLanded([this](const NoticeRecord& n) { landed.push_back(n.id + "@" + n.node); });
  }
};

// Verifies the snapshot carries each node's facts and the prior risk.
TEST(ClusterStateTest, SnapshotFromNodes) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("spot-1", "spot1", "westeurope-1"), OnDemand("od-1")});
  h.state->ReplacePods({});
  EXPECT_TRUE(h.state->Synced());
  auto snap = h.state->snapshot();
  const risk::NodeInfo* spot = snap->Node("spot-1");
  ASSERT_NE(spot, nullptr);
  EXPECT_TRUE(spot->spot);
  EXPECT_EQ(spot->cloud, "azure");
  EXPECT_EQ(spot->pool, "spot1");
  EXPECT_NEAR(spot->risk, 1 - std::exp(-0.01), 1e-9);
  EXPECT_FALSE(snap->Node("od-1")->spot);
  EXPECT_EQ(snap->Node("missing"), nullptr);
}

// Verifies a notice heard on both channels is acted on and counted once.
TEST(ClusterStateTest, NoticeOnBothChannelsOnce) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("spot-1", "spot1", "z1")});
  h.state->ReplacePods({});
  EXPECT_TRUE(h.state->ReportNotice(Grpc("n-1", "spot-1"), "grpc"));
  EXPECT_FALSE(h.state->ReportNotice(Grpc("n-1", "spot-1"), "grpc"));
  h.state->ApplyNode(false, WithNotice(AksSpot("spot-1", "spot1", "z1"), "n-1"));
  EXPECT_EQ(h.doomed, std::vector<std::string>{"n-1@spot-1/grpc"});
  EXPECT_TRUE(h.state->snapshot()->Node("spot-1")->doomed);
  std::string m = h.registry.Serialize();
  EXPECT_TRUE(absl::StrContains(m, R"(spotguard_notices_received_total{channel="grpc",cloud="azure",kind="eviction"} 1)"));
  EXPECT_FALSE(absl::StrContains(m, R"(channel="watch")"));
  EXPECT_DOUBLE_EQ(h.state->Model().State("pool/spot1", h.clock.Now()).evictions, 1);
}

// Verifies a Spark pod the watch delivers on a doomed node after its notice (the node and pod
// watches are separate streams) hands the notice over again, once per pod arriving there; pods
// already on their way out, updates of pods already there and other nodes' pods do not.
TEST(ClusterStateTest, PodLandingOnDoomedNodeHandsTheNoticeOver) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("spot-1", "spot1", "z1"), AksSpot("spot-2", "spot1", "z1")});
  h.state->ReplacePods({Executor("e1", "spot-1", "app")});
  ASSERT_TRUE(h.state->ReportNotice(Grpc("n-1", "spot-1"), "grpc"));
  EXPECT_TRUE(h.landed.empty());
  h.state->ApplyPod(false, Executor("e1", "spot-1", "app"));  // an update of a pod that was there
  h.state->ApplyPod(false, Executor("e2", "spot-2", "app"));  // another node
  h.state->ApplyPod(false, Executor("e3", "spot-1", "app", /*terminating=*/true));
  EXPECT_TRUE(h.landed.empty());
  h.state->ApplyPod(false, Executor("e4", "spot-1", "app"));
  EXPECT_EQ(h.landed, std::vector<std::string>{"n-1@spot-1"});
  h.state->ApplyPod(false, Executor("e4", "spot-1", "app"));
  EXPECT_EQ(h.landed.size(), 1u);
  // A relist finds the late pod too.
  h.landed.clear();
  h.state->ReplacePods({Executor("e1", "spot-1", "app"), Executor("e5", "spot-1", "app")});
  EXPECT_EQ(h.landed, std::vector<std::string>{"n-1@spot-1"});
  // Once withdrawn, nothing more.
  h.landed.clear();
  ASSERT_TRUE(h.state->WithdrawNotice("spot-1", "n-1"));
  h.state->ApplyPod(false, Executor("e6", "spot-1", "app"));
  EXPECT_TRUE(h.landed.empty());
}

// Verifies a notice seen in the annotation before the pods are listed waits for them, and
// that rebalance and label-only notices doom nothing.
TEST(ClusterStateTest, HeldUntilSyncedAndSignalsDoNotDoom) {
  Harness h;
  h.state->ReplaceNodes({WithNotice(AksSpot("spot-1", "spot1", "z1"), "n-1"), AksSpot("spot-2", "spot1", "z1")});
  EXPECT_TRUE(h.doomed.empty());
  h.state->ReplacePods({});
  EXPECT_EQ(h.doomed, std::vector<std::string>{"n-1@spot-1/watch"});
  NoticeRecord rebalance = Grpc("aws-rebalance", "spot-2");
  rebalance.kind = v1::NOTICE_KIND_REBALANCE;
  rebalance.action = notice::Action::kLabel;
  EXPECT_TRUE(h.state->ReportNotice(rebalance, "grpc"));
  NoticeRecord freeze = Grpc("freeze-1", "spot-2");
  freeze.kind = v1::NOTICE_KIND_MAINTENANCE;
  freeze.action = notice::Action::kLabel;
  EXPECT_TRUE(h.state->ReportNotice(freeze, "grpc"));
  EXPECT_EQ(h.doomed.size(), 1u);
  const risk::NodeInfo* n2 = h.state->snapshot()->Node("spot-2");
  EXPECT_FALSE(n2->doomed);
  EXPECT_TRUE(n2->rebalance);
  EXPECT_DOUBLE_EQ(n2->risk, 0.5);
}

// Verifies the annotation disappearing withdraws the notice, and a withdrawn id never
// comes back to life.
TEST(ClusterStateTest, WithdrawalThroughTheAnnotation) {
  Harness h;
  h.state->ReplaceNodes({WithNotice(AksSpot("spot-1", "spot1", "z1"), "n-1")});
  h.state->ReplacePods({});
  h.state->ApplyNode(false, AksSpot("spot-1", "spot1", "z1"));
  EXPECT_EQ(h.withdrawn, std::vector<std::string>{"n-1"});
  EXPECT_FALSE(h.state->snapshot()->Node("spot-1")->doomed);
  EXPECT_FALSE(h.state->ReportNotice(Grpc("n-1", "spot-1"), "grpc"));
  EXPECT_FALSE(h.state->WithdrawNotice("spot-1", "n-1"));
}

// Verifies status-only node updates (heartbeats) publish nothing new.
TEST(ClusterStateTest, HeartbeatsDoNotRepublish) {
  Harness h;
  Json node = AksSpot("spot-1", "spot1", "z1");
  h.state->ReplaceNodes({node});
  auto before = h.state->snapshot();
  node["status"] = {{"conditions", Json::array({{{"type", "Ready"}, {"lastHeartbeatTime", "2027-01-15T08:01:00Z"}}})}};
  h.state->ApplyNode(false, node);
  EXPECT_EQ(h.state->snapshot()->nodes, before->nodes);
  node["metadata"]["labels"]["topology.kubernetes.io/zone"] = "z2";
  h.state->ApplyNode(false, node);
  EXPECT_NE(h.state->snapshot()->nodes, before->nodes);
}

// Verifies each application's running executors are counted per pool and zone.
TEST(ClusterStateTest, ApplicationSpread) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("a", "p1", "z1"), AksSpot("b", "p2", "z1")});
  h.state->ReplacePods({Executor("e1", "a", "app"), Executor("e2", "a", "app"), Executor("e3", "b", "app"),
                        Executor("e4", "b", "app", /*terminating=*/true), Executor("x1", "b", "other")});
  auto snap = h.state->snapshot();
  const risk::AppSpread* app = snap->App("app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->total, 3);
  EXPECT_EQ(app->per_pool.at(snap->Node("a")->pool_id), 2);
  EXPECT_EQ(app->per_zone.at(snap->Node("a")->zone_id), 3);
  h.state->ApplyPod(true, Executor("e1", "a", "app"));
  EXPECT_EQ(h.state->snapshot()->App("app")->total, 2);
  EXPECT_EQ(h.state->SparkPodsOn("b").size(), 3u);
}

// Verifies risk rises in a domain after an eviction and falls with exposure over time.
TEST(ClusterStateTest, RiskFollowsEvidence) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("a", "risky", "z1"), AksSpot("b", "calm", "z2")});
  h.state->ReplacePods({});
  h.state->ReportNotice(Grpc("n-1", "a"), "grpc");
  h.state->WithdrawNotice("a", "n-1");  // the node survived; the evidence stays
  double risky = h.state->snapshot()->Node("a")->risk, calm = h.state->snapshot()->Node("b")->risk;
  EXPECT_GT(risky, calm);
  h.state->Refresh();
  h.clock.Advance(absl::Hours(50));
  h.state->Refresh();  // 50 node-hours each, evidence decayed
  EXPECT_LT(h.state->snapshot()->Node("a")->risk, risky);
}

// Verifies the risk history is written, survives a restart, and two replicas writing at
// once merge instead of losing or doubling evidence.
TEST(ClusterStateTest, PersistsAndMerges) {
  Harness a("spotguard-system");
  a.state->ReplaceNodes({AksSpot("n", "p1", "z1")});
  a.state->ReplacePods({});
  a.state->ReportNotice(Grpc("n-1", "n"), "grpc");
  ASSERT_TRUE(a.state->Persist().ok());
  ASSERT_TRUE(a.api.Get("/api/v1/namespaces/spotguard-system/configmaps/spotguard-risk").has_value());

  // Replica b shares the API; it saw n-1 too and one more eviction; its first write loses a race.
  auto b = std::make_unique<ClusterState>(ClusterStateOptions{.configmap_namespace = "spotguard-system"}, a.clock,
                                          *a.kube, a.metrics);
  b->ReplaceNodes({AksSpot("n", "p1", "z1")});
  b->ReplacePods({});
  b->ReportNotice(Grpc("n-1", "n"), "grpc");
  b->ReportNotice(Grpc("n-2", "n"), "grpc");
  bool raced = false;
  a.api.Intercept([&](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.method == "PUT" && !raced) {
      raced = true;
      return HttpResponse{.status = 409, .body = R"({"kind":"Status","reason":"Conflict","message":"modified"})"};
    }
    return std::nullopt;
  });
  ASSERT_TRUE(b->Persist().ok());
  EXPECT_TRUE(raced);
  Harness restarted("spotguard-system");
  a.api.Intercept(nullptr);
  auto cm = a.api.Get("/api/v1/namespaces/spotguard-system/configmaps/spotguard-risk");
  restarted.api.Put("/api/v1/namespaces/spotguard-system/configmaps/spotguard-risk", *cm);
  restarted.state->LoadPersisted();
  EXPECT_DOUBLE_EQ(restarted.state->Model().State("pool/p1", restarted.clock.Now()).evictions, 2);
}

// Verifies notices are per node: every AWS node's interruption has the id
// "aws-spot-terminate", and each must doom its own node — also after one node is gone.
TEST(ClusterStateTest, SameNoticeIdOnManyNodes) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("a", "p", "z"), AksSpot("b", "p", "z"), AksSpot("c", "p", "z")});
  h.state->ReplacePods({});
  EXPECT_TRUE(h.state->ReportNotice(Grpc("aws-spot-terminate", "a"), "grpc"));
  EXPECT_TRUE(h.state->ReportNotice(Grpc("aws-spot-terminate", "b"), "grpc"));
  h.state->ApplyNode(/*deleted=*/true, AksSpot("a", "p", "z"));
  EXPECT_TRUE(h.state->ReportNotice(Grpc("aws-spot-terminate", "c"), "grpc"));
  EXPECT_EQ(h.doomed, (std::vector<std::string>{"aws-spot-terminate@a/grpc", "aws-spot-terminate@b/grpc",
                                                 "aws-spot-terminate@c/grpc"}));
  EXPECT_TRUE(h.state->snapshot()->Node("b")->doomed);
  EXPECT_TRUE(h.state->snapshot()->Node("c")->doomed);
  EXPECT_DOUBLE_EQ(h.state->Model().State("pool/p", h.clock.Now()).evictions, 3);
}

// Verifies the agent's full record is the truth: a notice that stops being the primary one
// (the annotation now shows a more severe notice) is not withdrawn.
TEST(ClusterStateTest, AgentRecordListsEveryActiveNotice) {
  Harness h;
  auto with_record = [](Json node, std::vector<Json> notices, const std::string& primary) {
    node["metadata"]["annotations"]["spotguard.io/agent"] = Json{{"cordoned", true}, {"notices", notices}}.dump();
    for (const Json& n : notices) {
      if (n["id"] == primary) node["metadata"]["annotations"]["spotguard.io/notice"] = n.dump();
    }
    return node;
  };
  Json reboot = {{"id", "m-1"}, {"cloud", "azure"}, {"kind", "maintenance"}, {"rawAction", "Reboot"}, {"action", "cordon"}};
  Json preempt = {{"id", "e-1"}, {"cloud", "azure"}, {"kind", "eviction"}, {"rawAction", "Preempt"}, {"action", "cordon"}};
  h.state->ReplaceNodes({with_record(AksSpot("n", "p", "z"), {reboot}, "m-1")});
  h.state->ReplacePods({});
  h.state->ApplyNode(false, with_record(AksSpot("n", "p", "z"), {reboot, preempt}, "e-1"));
  EXPECT_TRUE(h.withdrawn.empty());
  h.state->ApplyNode(false, with_record(AksSpot("n", "p", "z"), {reboot}, "m-1"));
  EXPECT_EQ(h.withdrawn, std::vector<std::string>{"e-1"});
  const risk::NodeInfo* n = h.state->snapshot()->Node("n");
  EXPECT_TRUE(n->doomed);
  EXPECT_EQ(n->notice_id, "m-1");
  EXPECT_EQ(h.doomed, (std::vector<std::string>{"m-1@n/watch", "e-1@n/watch"}));
}

// Verifies malformed notice annotations are refused with a reason, not fatal.
TEST(ClusterStateTest, MalformedAnnotationsSkipped) {
  std::vector<NoticeProblem> problems;
  Json node = AksSpot("n", "p", "z");
  node["metadata"]["annotations"]["spotguard.io/notice"] = R"({"id": 5, "kind": null, "notBefore": 7})";
  EXPECT_TRUE(NoticesFromNode(node, &problems).empty());
  EXPECT_EQ(problems.size(), 1u);
  node["metadata"]["annotations"]["spotguard.io/agent"] = R"({"notices": [{"id": "ok", "cloud": "aws", "kind": "eviction"}, 3, {"id": []}]})";
  problems.clear();
  auto notices = NoticesFromNode(node, &problems);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].id, "ok");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].reason, "not_object");
  EXPECT_EQ(problems[1].reason, "cloud");
  Harness h;
  h.state->ReplaceNodes({node});  // does not throw
  h.state->ReplacePods({});
  EXPECT_EQ(h.doomed, std::vector<std::string>{"ok@n/watch"});
}

// Verifies a binding the extender made counts for spread at once, before the watch has even
// delivered the pod, and that the watch's later news agrees with it.
TEST(ClusterStateTest, AssumedBindingsCountAtOnce) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("a", "p1", "z1")});
  h.state->ReplacePods({});
  Json pod = Executor("e1", "", "app");
  h.state->AssumeBound({.namespace_ = "spark", .name = "e1", .uid = "uid-e1", .node = "a",
                        .labels = {{"spark-role", "executor"}, {"spark-app-selector", "app"}}});
  ASSERT_NE(h.state->snapshot()->App("app"), nullptr);
  EXPECT_EQ(h.state->snapshot()->App("app")->total, 1);
  h.state->ApplyPod(false, pod);  // the watch: created, not yet seen bound
  EXPECT_EQ(h.state->snapshot()->App("app")->total, 1);
  h.state->ApplyPod(false, Executor("e1", "a", "app"));  // and bound
  EXPECT_EQ(h.state->snapshot()->App("app")->total, 1);
  h.state->AssumeBound({.uid = "uid-unknown", .node = "a"});  // not a Spark pod we know of: ignored
  EXPECT_EQ(h.state->snapshot()->App("app")->total, 1);
}

// Verifies the per-pod update of the spread (only the pod's applications recounted) always
// agrees with a full recount: a seeded random run of creates, moves, application changes,
// terminations and deletes, compared after every step with a state listed from scratch.
TEST(ClusterStateTest, IncrementalSpreadMatchesFullRecount) {
  const std::vector<Json> nodes = {AksSpot("a", "p1", "z1"), AksSpot("b", "p2", "z1"), AksSpot("c", "p2", "z2")};
  Harness h;
  h.state->ReplaceNodes(nodes);
  h.state->ReplacePods({});
  std::map<std::string, Json> truth;
  std::mt19937 rng(42);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  for (int step = 0; step < 400; ++step) {
    const std::string name = "e" + std::to_string(pick(12));
    if (pick(4) == 0) {
      h.state->ApplyPod(true, truth.count(name) ? truth[name] : Executor(name, "a", "app0"));
      truth.erase(name);
    } else {
      const std::string node = std::vector<std::string>{"", "a", "b", "c", "gone"}[pick(5)];
      Json pod = Executor(name, node, "app" + std::to_string(pick(3)), pick(6) == 0);
      if (pick(8) == 0) pod["metadata"]["labels"].erase("spark-app-selector");
      h.state->ApplyPod(false, pod);
      truth[name] = pod;
    }
    Harness full;
    full.state->ReplaceNodes(nodes);
    std::vector<Json> pods;
    for (const auto& [n, pod] : truth) pods.push_back(pod);
    full.state->ReplacePods(std::move(pods));
    const auto& got = *h.state->snapshot()->apps;
    const auto& want = *full.state->snapshot()->apps;
    ASSERT_EQ(got.size(), want.size()) << "step " << step;
    for (const auto& [app, spread] : want) {
      ASSERT_TRUE(got.contains(app)) << "step " << step << " app " << app;
      EXPECT_EQ(got.at(app)->total, spread->total) << "step " << step << " app " << app;
      EXPECT_EQ(got.at(app)->per_pool, spread->per_pool) << "step " << step << " app " << app;
      EXPECT_EQ(got.at(app)->per_zone, spread->per_zone) << "step " << step << " app " << app;
    }
  }
}

// Verifies a notice republishes only its node at once — doomed, with the notice — and that
// the other nodes of its domains take the new eviction evidence at the next full publish,
// which agrees with the per-node one on everything else.
TEST(ClusterStateTest, NoticeRepublishesItsNodeNowAndItsDomainAfter) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("a", "p1", "z1"), AksSpot("b", "p1", "z1"), AksSpot("c", "p2", "z2")});
  h.state->ReplacePods({});
  const double prior = h.state->snapshot()->Node("b")->risk;
  auto b_before = h.state->snapshot()->nodes->Find("b");
  h.state->ReportNotice(Grpc("n-1", "a"), "grpc");
  NoticeRecord rebalance = Grpc("r-1", "c");
  rebalance.kind = v1::NOTICE_KIND_REBALANCE;
  h.state->ReportNotice(rebalance, "grpc");
  auto snap = h.state->snapshot();
  EXPECT_TRUE(snap->Node("a")->doomed);
  EXPECT_EQ(snap->Node("a")->notice_id, "n-1");
  EXPECT_TRUE(snap->Node("c")->rebalance);
  EXPECT_EQ(snap->Node("b"), b_before) << "an untouched node's info is reused";
  EXPECT_EQ(snap->Node("b")->risk, prior);
  h.state->Refresh();  // the full publish
  auto full = h.state->snapshot();
  EXPECT_GT(full->Node("b")->risk, prior) << "same pool and zone as the evicted node";
  for (const char* n : {"a", "b", "c"}) {
    EXPECT_EQ(full->Node(n)->doomed, snap->Node(n)->doomed) << n;
    EXPECT_EQ(full->Node(n)->rebalance, snap->Node(n)->rebalance) << n;
    EXPECT_EQ(full->Node(n)->notice_id, snap->Node(n)->notice_id) << n;
  }
  h.state->WithdrawNotice("a", "n-1");
  EXPECT_FALSE(h.state->snapshot()->Node("a")->doomed);
  EXPECT_EQ(h.state->snapshot()->nodes->size(), 3u);
  h.state->ApplyNode(true, AksSpot("c", "p2", "z2"));
  EXPECT_EQ(h.state->snapshot()->Node("c"), nullptr);
  EXPECT_EQ(h.state->snapshot()->nodes->size(), 2u);
}

// Verifies pods listed before their nodes still count for spread once the nodes arrive.
TEST(ClusterStateTest, PodsBeforeNodes) {
  Harness h;
  h.state->ReplacePods({Executor("e1", "a", "app")});
  EXPECT_EQ(h.state->snapshot()->App("app"), nullptr);
  h.state->ReplaceNodes({AksSpot("a", "p1", "z1")});
  ASSERT_NE(h.state->snapshot()->App("app"), nullptr);
  EXPECT_EQ(h.state->snapshot()->App("app")->total, 1);
}

// Verifies a notice the contract refuses (a kind outside the vocabulary) is not acted on
// silently: it is counted, logged and announced with a NoticeRefused Event, once.
TEST(ClusterStateTest, RefusedAnnotationCountedAndAnnounced) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("n", "p", "z")});
  h.state->ReplacePods({});
  Json node = AksSpot("n", "p", "z");
  node["metadata"]["annotations"]["spotguard.io/notice"] =
      R"({"id": "x-1", "cloud": "azure", "kind": "nap", "notBefore": "2027-01-15T08:00:30Z"})";
  h.state->ApplyNode(false, node);
  h.state->ApplyNode(false, node);  // the same update again (a resync): not counted twice
  node["metadata"]["labels"]["node.kubernetes.io/instance-type"] = "Standard_D16s_v5";
  h.state->ApplyNode(false, node);  // the node changed, the bad notice did not: not again
  EXPECT_TRUE(h.doomed.empty());
  EXPECT_FALSE(h.state->snapshot()->Node("n")->doomed);
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(),
                                R"(spotguard_notices_refused_total{channel="watch",reason="kind"} 1)"));
  int events = 0;
  for (const Json& e : h.api.Events()) events += e["reason"] == "NoticeRefused";
  EXPECT_EQ(events, 1);
}

// Verifies a notice that comes back after its withdrawal (same node and id, later first
// sight) is acted on again, while a late report of the withdrawn one is not.
TEST(ClusterStateTest, RecurringNoticeActedOnAgain) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("n", "p", "z")});
  h.state->ReplacePods({});
  NoticeRecord first = Grpc("aws-spot-stop", "n");
  EXPECT_TRUE(h.state->ReportNotice(first, "grpc"));
  EXPECT_TRUE(h.state->WithdrawNotice("n", "aws-spot-stop"));
  EXPECT_FALSE(h.state->ReportNotice(first, "grpc"));  // a retry that arrived late
  NoticeRecord again = first;
  again.detected_at = first.detected_at + absl::Minutes(10);
  again.not_before = again.detected_at + absl::Minutes(2);
  EXPECT_TRUE(h.state->ReportNotice(again, "grpc"));
  EXPECT_EQ(h.doomed, (std::vector<std::string>{"aws-spot-stop@n/grpc", "aws-spot-stop@n/grpc"}));
  EXPECT_TRUE(h.state->snapshot()->Node("n")->doomed);
  EXPECT_TRUE(h.state->NoticeActive(again));
  EXPECT_FALSE(h.state->NoticeActive(first));
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(),
                                R"(spotguard_notices_refused_total{channel="grpc",reason="stale"} 1)"));
  // Both occurrences are evidence.
  EXPECT_DOUBLE_EQ(h.state->Model().State("pool/p", h.clock.Now()).evictions, 2);
}

// Verifies eviction evidence reported over gRPC before the node watch knew the node counts
// once the node arrives, and only once when the annotation brings the same notice.
TEST(ClusterStateTest, EvidenceCountedOnceWhicheverChannelFirst) {
  Harness h;
  h.state->ReplaceNodes({});
  h.state->ReplacePods({});
  EXPECT_TRUE(h.state->ReportNotice(Grpc("n-1", "late"), "grpc"));
  h.state->ApplyNode(false, WithNotice(AksSpot("late", "p", "z"), "n-1"));
  EXPECT_DOUBLE_EQ(h.state->Model().State("pool/p", h.clock.Now()).evictions, 1);
  h.state->ApplyNode(false, WithNotice(AksSpot("late", "p", "z2"), "n-1"));
  EXPECT_DOUBLE_EQ(h.state->Model().State("pool/p", h.clock.Now()).evictions, 1);
}

// Verifies pods the extender bound but the watch has not delivered are on their node for
// the decommissioner.
TEST(ClusterStateTest, AssumedPodsAreOnTheirNode) {
  Harness h;
  h.state->ReplaceNodes({AksSpot("a", "p", "z")});
  h.state->ReplacePods({});
  h.state->AssumeBound({.namespace_ = "spark", .name = "e9", .uid = "uid-e9", .node = "a",
                        .labels = {{"spark-role", "executor"}, {"spark-app-selector", "app"}}});
  auto pods = h.state->SparkPodsOn("a");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].name, "e9");
  EXPECT_EQ(pods[0].namespace_, "spark");
}

}  // namespace
}  // namespace spotguard::extender
