#include "extender/risk/policy.h"

#include "gtest/gtest.h"

namespace spotguard::extender::risk {
namespace {

std::shared_ptr<NodeInfo> Node(std::string name, bool spot, double risk, int pool, int zone, bool doomed = false) {
  auto n = std::make_shared<NodeInfo>();
  n->name = std::move(name);
  n->spot = spot;
  n->risk = risk;
  n->pool_id = pool;
  n->zone_id = zone;
  n->doomed = doomed;
  if (doomed) {
    n->notice_id = "n-1";
    n->notice_kind = "eviction";
  }
  return n;
}

Snapshot Cluster() {
  std::vector<std::shared_ptr<const NodeInfo>> nodes;
  for (auto n : {Node("spot-a1", true, 0.01, 0, 0), Node("spot-a2", true, 0.01, 0, 1), Node("spot-b1", true, 0.10, 1, 0),
                 Node("doomed", true, 1.0, 1, 1, /*doomed=*/true), Node("od-1", false, 0, 2, 0)}) {
    nodes.push_back(n);
  }
  auto apps = std::make_shared<AppTable>();
  AppSpread s;
  s.total = 4;
  s.per_pool = {{0, 3}, {1, 1}};
  s.per_zone = {{0, 2}, {1, 2}};
  apps->emplace("app-1", std::make_shared<const AppSpread>(s));
  return Snapshot{std::make_shared<const NodeTable>(std::move(nodes)), apps};
}

PodInfo Pod(std::string role, std::string app = "app-1") {
  PodInfo p;
  p.name = "p";
  p.labels = {{"spark-role", std::move(role)}, {"spark-app-selector", std::move(app)}};
  return p;
}

const std::vector<absl::string_view> kAll = {"spot-a1", "spot-a2", "spot-b1", "doomed", "od-1", "not-cached"};

// Verifies selector requirements: =, !=, exists, absent; empty keys refused.
TEST(LabelSelectorTest, Requirements) {
  absl::flat_hash_map<std::string, std::string> labels = {{"spark-role", "executor"}, {"team", "a"}};
  EXPECT_TRUE(LabelSelector::Parse("spark-role=executor")->Matches(labels));
  EXPECT_TRUE(LabelSelector::Parse("spark-role==executor, team")->Matches(labels));
  EXPECT_FALSE(LabelSelector::Parse("spark-role!=executor")->Matches(labels));
  EXPECT_TRUE(LabelSelector::Parse("!gpu")->Matches(labels));
  EXPECT_FALSE(LabelSelector::Parse("gpu")->Matches(labels));
  EXPECT_FALSE(LabelSelector::Parse("=x").ok());
  EXPECT_FALSE(LabelSelector::Parse("")->Matches(labels));  // empty selects nothing
}

// Verifies each rejection and its kind: notices and drivers-on-spot are unresolvable;
// unknown nodes pass and are counted.
TEST(PolicyTest, FilterExecutorAndDriver) {
  Snapshot snap = Cluster();
  PolicyConfig cfg;
  FilterResult exec = Filter(Pod("executor"), kAll, snap, cfg);
  EXPECT_EQ(exec.passed, (std::vector<absl::string_view>{"spot-a1", "spot-a2", "spot-b1", "od-1", "not-cached"}));
  ASSERT_EQ(exec.unresolvable.size(), 1u);
  EXPECT_EQ(exec.unresolvable[0].first, "doomed");
  EXPECT_EQ(exec.unresolvable[0].second, "spotguard: node has an active eviction notice n-1");
  EXPECT_EQ(exec.rejected[Reason::kNotice], 1);
  EXPECT_EQ(exec.unknown, 1);

  // A driver never lands on a node spotguard does not know yet: it fails (resolvable), so
  // kube-scheduler tries again once the watch has caught up.
  FilterResult driver = Filter(Pod("driver"), kAll, snap, cfg);
  EXPECT_EQ(driver.passed, (std::vector<absl::string_view>{"od-1"}));
  EXPECT_EQ(driver.unresolvable.size(), 4u);
  EXPECT_EQ(driver.rejected[Reason::kDriverOnSpot], 3);
  ASSERT_EQ(driver.failed.size(), 1u);
  EXPECT_EQ(driver.failed[0].first, "not-cached");
  EXPECT_EQ(driver.rejected[Reason::kUnknownNode], 1);

  // With full Nodes the request's own labels decide.
  for (bool spot : {true, false}) {
    FilterResult d = Filter(Pod("driver"), {"not-cached"}, snap, cfg,
                            [spot](absl::string_view) -> std::optional<bool> { return spot; });
    EXPECT_EQ(d.passed.size(), spot ? 0u : 1u);
    EXPECT_EQ(d.unresolvable.size(), spot ? 1u : 0u);
  }
}

// Verifies the per-pod risk ceiling, and that a bad ceiling is an error.
TEST(PolicyTest, FilterRiskCeiling) {
  Snapshot snap = Cluster();
  PodInfo pod = Pod("executor");
  pod.annotations["spotguard.io/max-eviction-risk"] = "0.05";
  FilterResult r = Filter(pod, kAll, snap, PolicyConfig{});
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].first, "spot-b1");
  EXPECT_EQ(r.failed[0].second, "spotguard: eviction risk 0.100 exceeds the pod's ceiling 0.050");
  pod.annotations["spotguard.io/max-eviction-risk"] = "lots";
  EXPECT_FALSE(Filter(pod, kAll, snap, PolicyConfig{}).error.empty());
}

// Verifies executor scores: risk, spread, on-demand, doomed and unknown — and the worked
// example in policy.h.
TEST(PolicyTest, PrioritizeExecutor) {
  Snapshot snap = Cluster();
  PrioritizeResult r = Prioritize(Pod("executor"), kAll, snap, PolicyConfig{});
  std::map<std::string, int> got;
  for (auto [n, s] : r.scores) got[std::string(n)] = s;
  // spot-a1: risk 0.01 → 10 × (1 − 0.05) = 9.5 → 10; pool 0 has 3/4, zone 0 2/4 → 4 × 0.625 = 2.5 → 3.
  EXPECT_EQ(got["spot-a1"], 7);
  // spot-a2: zone 1 has 2/4 → 4 × (0.75 + 0.5) / 2 = 2.5 → 3.
  EXPECT_EQ(got["spot-a2"], 7);
  // spot-b1: risk 0.1 → 5; pool 1 1/4, zone 0 2/4 → 4 × 0.375 = 1.5 → 2.
  EXPECT_EQ(got["spot-b1"], 3);
  EXPECT_EQ(got["od-1"], 5);
  EXPECT_EQ(got["doomed"], 0);
  EXPECT_EQ(got["not-cached"], 0);
  EXPECT_EQ(r.unknown, 1);
  // An application with no executors yet: no spread penalty.
  PrioritizeResult fresh = Prioritize(Pod("executor", "app-2"), {"spot-a1", "spot-b1"}, snap, PolicyConfig{});
  EXPECT_EQ(fresh.scores[0].second, 10);
  EXPECT_EQ(fresh.scores[1].second, 5);
  EXPECT_EQ(RiskScore(0.04, 0.2), 8);  // the header's example
  EXPECT_EQ(RiskScore(0.5, 0.2), 0);
}

// Verifies pods that are not executors are neutral unless configured otherwise.
TEST(PolicyTest, NonExecutorsNeutral) {
  Snapshot snap = Cluster();
  PodInfo web;
  web.labels = {{"app", "web"}};
  for (auto [n, s] : Prioritize(web, kAll, snap, PolicyConfig{}).scores) EXPECT_EQ(s, 0) << n;
  PolicyConfig all;
  all.score_all_pods = true;
  auto scored = Prioritize(web, {"spot-a1", "spot-b1"}, snap, all);
  EXPECT_EQ(scored.scores[0].second, 10);
  EXPECT_EQ(scored.scores[1].second, 5);
}

}  // namespace
}  // namespace spotguard::extender::risk
