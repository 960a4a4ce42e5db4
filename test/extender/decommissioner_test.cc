#include "extender/decommissioner.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_api_server.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::extender {
namespace {

using testing::FakeApiServer;
using testing::FakeClock;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Json Pod(const std::string& name, const std::string& node, const std::string& role) {
  return {{"metadata", {{"name", name}, {"namespace", "spark"}, {"uid", "uid-" + name},
                        {"labels", {{"spark-role", role}, {"spark-app-selector", "app"}}}}},
          {"spec", {{"nodeName", node}}},
          {"status", {{"phase", "Running"}}}};
}

NoticeRecord Notice(absl::Duration left = absl::Seconds(60)) {
  NoticeRecord n;
  n.id = "n-1";
  n.node = "doomed";
  n.cloud = v1::CLOUD_AWS;
  n.kind = v1::NOTICE_KIND_EVICTION;
  n.raw_action = "terminate";
  n.action = notice::Action::kCordon;
  n.not_before = kNow + left;
  n.detected_at = kNow;
  return n;
}

struct Harness {
  FakeClock clock{kNow};
  FakeApiServer api;
  std::unique_ptr<kube::KubeClient> kube = api.Client(clock);
  MetricsRegistry registry;
  ExtenderMetrics metrics{registry};
  ClusterState state{{}, clock, *kube, metrics};
  std::unique_ptr<Decommissioner> decom;

  explicit Harness(DecommissionerOptions options = {}, bool auto_advance = true) {
    clock.set_auto_advance(auto_advance);
    options.identity = "replica-a";
    decom = std::make_unique<Decommissioner>(options, clock, *kube, state, metrics);
    api.Put("/api/v1/nodes/doomed", {{"metadata", {{"name", "doomed"}}}});
    state.ReplaceNodes({{{"metadata", {{"name", "doomed"}}}}, {{"metadata", {{"name", "other"}}}}});
  }
  // Pods exist in the API and in the state's watch alike.
  void Pods(std::vector<Json> pods) {
    std::vector<Json> seen;
    for (Json& p : pods) {
      std::string path = absl::StrCat("/api/v1/namespaces/spark/pods/", p["metadata"]["name"].get<std::string>());
      api.Put(path, p);
      seen.push_back(*api.Get(path));
    }
    state.ReplacePods(seen);
  }
  // The notice is active in the state (as the extender's wiring makes it) and started.
  void Start(const NoticeRecord& n) {
    state.ReportNotice(n, "grpc");
    decom->Start(n);
  }
  std::map<std::string, Decommissioner::PodOutcome> Run(const NoticeRecord& n = Notice()) {
    Start(n);
    EXPECT_TRUE(decom->WaitForOutcomes(n.Key(), absl::Seconds(10)));
    std::map<std::string, Decommissioner::PodOutcome> out;
    for (auto& o : decom->Outcomes(n.Key())) out[o.pod] = o;
    return out;
  }
  int64_t Grace(const std::string& pod) {
    return (*api.Get("/api/v1/namespaces/spark/pods/" + pod))["metadata"].value("deletionGracePeriodSeconds", int64_t{-1});
  }
};

// Verifies every executor on the node is claimed, evicted with notBefore − now − margin and
// announced; the driver and other nodes' executors are left alone.
TEST(DecommissionerTest, EvictsExecutorsWithGrace) {
  Harness h;
  h.Pods({Pod("e1", "doomed", "executor"), Pod("e2", "doomed", "executor"), Pod("e3", "doomed", "executor"),
          Pod("drv", "doomed", "driver"), Pod("far", "other", "executor")});
  auto out = h.Run();
  ASSERT_EQ(out.size(), 3u);
  for (const char* p : {"e1", "e2", "e3"}) {
    EXPECT_EQ(out[absl::StrCat("spark/", p)].result, "evicted") << p;
    EXPECT_EQ(out[absl::StrCat("spark/", p)].grace_seconds, 55) << p;
    EXPECT_EQ(h.Grace(p), 55) << p;
    Json pod = *h.api.Get(absl::StrCat("/api/v1/namespaces/spark/pods/", p));
    EXPECT_EQ(pod["metadata"]["labels"]["spotguard.io/decommissioning"], "true");
    EXPECT_TRUE(absl::StartsWith(pod["metadata"]["annotations"]["spotguard.io/decommission-claim"].get<std::string>(),
                                 "n-1 replica-a "));
  }
  EXPECT_EQ(h.Grace("drv"), -1);
  EXPECT_EQ(h.Grace("far"), -1);
  int events = 0;
  for (const Json& e : h.api.Events()) events += e["reason"] == "SparkExecutorDecommission";
  EXPECT_EQ(events, 3);
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(), R"(spotguard_decommissions_total{result="evicted"} 3)"));
}

// Verifies a PodDisruptionBudget (429) is retried, then the pod deleted with the same grace
// shortly before the deadline.
TEST(DecommissionerTest, PdbRetriedThenDeleted) {
  Harness h;
  h.Pods({Pod("e1", "doomed", "executor")});
  h.api.Intercept([](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (absl::EndsWith(r.path, "/eviction")) {
      return HttpResponse{.status = 429, .body = R"({"kind":"Status","reason":"TooManyRequests",
          "message":"Cannot evict pod as it would violate the pod's disruption budget."})"};
    }
    return std::nullopt;
  });
  auto out = h.Run(Notice(absl::Seconds(40)));
  EXPECT_EQ(out["spark/e1"].result, "deleted");
  EXPECT_GT(h.api.Count("POST", "/eviction"), 3);
  EXPECT_EQ(h.api.Count("DELETE", "/pods/e1"), 1);
  // Deleted 10 s before notBefore: 10 − 5 margin = 5 s of grace.
  EXPECT_EQ(h.Grace("e1"), 5);
}

// Verifies gone pods, terminating pods and a pod another replica claims and evicts are not
// acted on, while a stale claim (its replica died) is taken over.
TEST(DecommissionerTest, NeverTwice) {
  Harness h;
  Json terminating = Pod("t1", "doomed", "executor");
  terminating["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z";
  Json fresh = Pod("c1", "doomed", "executor");
  fresh["metadata"]["annotations"]["spotguard.io/decommission-claim"] = "n-1 replica-b 2027-01-15T08:00:00Z";
  Json stale = Pod("c2", "doomed", "executor");
  stale["metadata"]["annotations"]["spotguard.io/decommission-claim"] = "n-1 replica-b 2027-01-15T07:50:00Z";
  h.Pods({terminating, fresh, stale, Pod("gone", "doomed", "executor")});
  h.api.Intercept([&h](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (absl::StrContains(r.path, "/pods/gone")) return HttpResponse{.status = 404, .body = R"({"kind":"Status"})"};
    if (r.method == "GET" && absl::EndsWith(r.path, "/pods/c1")) {
      // By the time this replica looks again, replica-b has evicted c1.
      Json c1 = *h.api.Get("/api/v1/namespaces/spark/pods/c1");
      c1["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:10Z";
      return HttpResponse{.status = 200, .body = c1.dump()};
    }
    return std::nullopt;
  });
  auto out = h.Run();
  EXPECT_EQ(out.count("spark/t1"), 0u);  // not even considered
  EXPECT_EQ(out["spark/c1"].result, "claimed_elsewhere");
  EXPECT_EQ(out["spark/c2"].result, "evicted");
  EXPECT_EQ(out["spark/gone"].result, "gone");
  EXPECT_EQ(h.api.Count("POST", "/pods/c1/eviction"), 0);
}

// Verifies a withdrawn notice stops evictions still being retried.
TEST(DecommissionerTest, CancelStopsRetries) {
  Harness h({}, /*auto_advance=*/false);
  h.Pods({Pod("e1", "doomed", "executor")});
  h.api.Intercept([](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (absl::EndsWith(r.path, "/eviction")) return HttpResponse{.status = 429, .body = R"({"kind":"Status"})"};
    return std::nullopt;
  });
  h.Start(Notice(absl::Minutes(5)));
  ASSERT_TRUE(h.clock.WaitForSleepers(1));
  h.decom->Cancel(Notice());
  ASSERT_TRUE(h.decom->WaitForOutcomes(Notice().Key(), absl::Seconds(10)));
  EXPECT_EQ(h.decom->Outcomes(Notice().Key())[0].result, "cancelled");
  // A start that arrives after the withdrawal does nothing.
  NoticeRecord late = Notice();
  late.id = "n-2";
  h.state.ReportNotice(late, "grpc");
  h.state.WithdrawNotice(late.node, late.id);
  h.decom->Cancel(late);
  h.decom->Start(late);
  EXPECT_FALSE(h.decom->WaitForOutcomes(late.Key(), absl::Milliseconds(100)));
  EXPECT_EQ(h.api.Count("DELETE", "/pods/e1"), 0);
}

// Verifies the API server failing (5xx) is retried until the eviction lands.
TEST(DecommissionerTest, ServerErrorsRetried) {
  Harness h;
  h.Pods({Pod("e1", "doomed", "executor")});
  int failures = 3;
  h.api.Intercept([&](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (absl::EndsWith(r.path, "/eviction") && failures-- > 0) return HttpResponse{.status = 503, .body = "{}"};
    return std::nullopt;
  });
  auto out = h.Run();
  EXPECT_EQ(out["spark/e1"].result, "evicted");
  EXPECT_EQ(h.api.Count("POST", "/eviction"), 4);
}

// Verifies --dry_run sends nothing.
TEST(DecommissionerTest, DryRun) {
  Harness h({.dry_run = true});
  h.Pods({Pod("e1", "doomed", "executor")});
  auto out = h.Run();
  EXPECT_EQ(out["spark/e1"].result, "dry_run");
  EXPECT_EQ(out["spark/e1"].grace_seconds, 55);
  EXPECT_EQ(h.api.Count("POST", "/eviction"), 0);
  EXPECT_EQ(h.api.Count("PATCH", "/pods/"), 0);
}

// Verifies the node is marked decommissioned once its executors are gone, and the finished
// decommission is forgotten once its notice is withdrawn: the task map stays as small as the
// active notices.
TEST(DecommissionerTest, MarksNodeWhenExecutorsGone) {
  Harness h({}, /*auto_advance=*/false);  // the node is re-checked on the clock: the test moves it
  h.Pods({Pod("e1", "doomed", "executor")});
  h.Run();
  ASSERT_TRUE(h.clock.WaitForSleepers(1));  // e1 still there: the next check is a second away
  h.state.ApplyPod(/*deleted=*/true, Pod("e1", "doomed", "executor"));
  h.clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(h.decom->WaitIdle(absl::Seconds(10)));
  EXPECT_EQ((*h.api.Get("/api/v1/nodes/doomed"))["metadata"]["annotations"]["spotguard.io/decommissioned"], "n-1");
  EXPECT_EQ(h.decom->tasks(), 1u);
  h.state.WithdrawNotice("doomed", "n-1");
  h.decom->Cancel(Notice());
  EXPECT_EQ(h.decom->tasks(), 0u);
}

// Verifies a far-ahead notice (an AWS retirement three days away) evicts nothing until the
// lead before its deadline, then gives the executors all the grace they may have.
TEST(DecommissionerTest, FarAheadWaitsForTheLead) {
  Harness h({}, /*auto_advance=*/false);
  h.Pods({Pod("e1", "doomed", "executor")});
  NoticeRecord n = Notice(absl::Hours(72));
  h.Start(n);
  ASSERT_TRUE(h.clock.WaitForSleepers(1));  // the schedule's timer
  EXPECT_EQ(h.api.Count("POST", "/eviction"), 0);
  EXPECT_EQ(StartTime(n, {}), n.not_before - absl::Minutes(10) - absl::Seconds(5));
  h.clock.SetTime(StartTime(n, {}) - absl::Seconds(1));
  ASSERT_TRUE(h.clock.WaitForSleepers(1));
  EXPECT_EQ(h.api.Count("POST", "/eviction"), 0);
  h.clock.SetTime(StartTime(n, {}));
  ASSERT_TRUE(h.decom->WaitForOutcomes(n.Key(), absl::Seconds(10)));
  EXPECT_EQ(h.decom->Outcomes(n.Key())[0].result, "evicted");
  EXPECT_EQ(h.Grace("e1"), 600);
}

// Verifies a far-ahead notice withdrawn before its time evicts nothing, and one whose
// deadline moves is started at the new time.
TEST(DecommissionerTest, FarAheadWithdrawnOrMoved) {
  Harness h({}, /*auto_advance=*/false);
  h.Pods({Pod("e1", "doomed", "executor")});
  NoticeRecord n = Notice(absl::Hours(1));
  h.Start(n);
  NoticeRecord moved = n;
  moved.not_before = n.not_before + absl::Hours(1);
  h.state.ReportNotice(moved, "grpc");
  h.decom->Start(moved);
  h.clock.SetTime(StartTime(n, {}) + absl::Seconds(1));
  ASSERT_TRUE(h.clock.WaitForSleepers(1));
  EXPECT_FALSE(h.decom->WaitForOutcomes(n.Key(), absl::Milliseconds(50)));
  h.state.WithdrawNotice(n.node, n.id);
  h.decom->Cancel(n);
  h.clock.SetTime(StartTime(moved, {}) + absl::Seconds(1));
  EXPECT_FALSE(h.decom->WaitForOutcomes(n.Key(), absl::Milliseconds(50)));
  EXPECT_EQ(h.api.Count("POST", "/eviction"), 0);
}

// Verifies a node's executors bound by the extender but not yet seen by the watch are
// decommissioned too.
TEST(DecommissionerTest, IncludesPodsBoundAheadOfTheWatch) {
  Harness h;
  h.Pods({Pod("e1", "doomed", "executor")});
  Json bound = Pod("e2", "doomed", "executor");
  h.api.Put("/api/v1/namespaces/spark/pods/e2", bound);
  h.state.AssumeBound({.namespace_ = "spark", .name = "e2", .uid = "uid-e2", .node = "doomed",
                       .labels = {{"spark-role", "executor"}, {"spark-app-selector", "app"}}});
  auto out = h.Run();
  EXPECT_EQ(out["spark/e1"].result, "evicted");
  EXPECT_EQ(out["spark/e2"].result, "evicted");
}


// Verifies an executor that reaches the node after its decommission ran (the watch delivered
// it late) is decommissioned too, and those already evicted are not evicted again.
TEST(DecommissionerTest, LateExecutorDecommissionedToo) {
  Harness h;
  h.state.OnPodLanded([&h](const NoticeRecord& n) { h.decom->Revisit(n); });
  h.Pods({Pod("e1", "doomed", "executor")});
  auto out = h.Run();
  ASSERT_EQ(out["spark/e1"].result, "evicted");
  Json gone = *h.api.Get("/api/v1/namespaces/spark/pods/e1");  // the watch sees it go
  h.state.ApplyPod(true, gone);
  ASSERT_TRUE(h.decom->WaitIdle(absl::Seconds(10)));
  auto marked = [&h] {
    return kube::StringAt(*h.api.Get("/api/v1/nodes/doomed"), {"metadata", "annotations", "spotguard.io/decommissioned"});
  };
  ASSERT_EQ(marked(), "n-1");
  Json late = Pod("e2", "doomed", "executor");
  h.api.Put("/api/v1/namespaces/spark/pods/e2", late);
  h.state.ApplyPod(false, *h.api.Get("/api/v1/namespaces/spark/pods/e2"));
  ASSERT_TRUE(h.decom->WaitIdle(absl::Seconds(10)));
  // The node is no longer marked empty while e2 is on it (the agent would let an Azure VM go),
  // and e1 is not looked at again.
  EXPECT_EQ(marked(), "");
  std::map<std::string, std::vector<std::string>> results;
  for (const auto& o : h.decom->Outcomes(Notice().Key())) results[o.pod].push_back(o.result);
  EXPECT_EQ(results["spark/e2"], std::vector<std::string>{"evicted"});
  EXPECT_EQ(results["spark/e1"], std::vector<std::string>{"evicted"});
  EXPECT_GT(h.Grace("e2"), 0);
  EXPECT_EQ(h.api.Count("POST", "/pods/e1/eviction"), 1);
  EXPECT_EQ(h.api.Count("POST", "/pods/e2/eviction"), 1);
}
// Verifies the grace period arithmetic and its bounds.
TEST(DecommissionerTest, GraceSeconds) {
  DecommissionerOptions o{.margin = absl::Seconds(5), .min_grace = absl::Seconds(2), .max_grace = absl::Minutes(10)};
  NoticeRecord n = Notice(absl::Seconds(30));
  EXPECT_EQ(GraceSeconds(n, kNow, o), 25);
  EXPECT_EQ(GraceSeconds(n, kNow + absl::Seconds(27), o), 2);   // past the margin: the minimum
  EXPECT_EQ(GraceSeconds(Notice(absl::Hours(2)), kNow, o), 600);  // the maximum
  n.not_before = absl::InfinitePast();  // unknown: 30 s after first sight
  EXPECT_EQ(GraceSeconds(n, kNow, o), 25);
}

}  // namespace
}  // namespace spotguard::extender
