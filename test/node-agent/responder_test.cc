#include "node-agent/responder.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_http_client.h"

namespace spotguard::agent {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;

// Just enough of the API server for one node: GET, JSON PATCH (with the resourceVersion
// test) and Event creation, with injectable failures.
class FakeApi {
 public:
  explicit FakeApi(FakeHttpClient& http) {
    node_ = Json::parse(R"({"metadata":{"name":"n1","uid":"u1","resourceVersion":"1",
        "labels":{"eks.amazonaws.com/capacityType":"SPOT","eks.amazonaws.com/nodegroup":"spot-a",
                  "topology.kubernetes.io/zone":"us-east-1a"}},
        "spec":{"providerID":"aws:///us-east-1a/i-0abc"}})");
    http.SetHandler([this](const HttpRequest& req) { return Handle(req); });
  }
  HttpResponse Handle(const HttpRequest& req) {
    absl::MutexLock lock(&mu_);
    if (fail_next_ > 0) {
      --fail_next_;
      return {.status = fail_status_, .body = R"({"kind":"Status","message":"injected"})"};
    }
    if (req.method == "GET" && req.path == "/api/v1/nodes/n1") return {.status = 200, .body = node_.dump()};
    if (req.method == "PATCH" && req.path == "/api/v1/nodes/n1") {
      ++patches_;
      if (conflicts_ > 0) {
        --conflicts_;
        Bump();  // someone else wrote the node meanwhile
      }
      try {
        node_ = node_.patch(Json::parse(req.body));
      } catch (const std::exception& e) {
        return {.status = 422, .body = R"({"kind":"Status","message":"the test op failed"})"};
      }
      Bump();
      return {.status = 200, .body = node_.dump()};
    }
    if (req.method == "POST" && absl::EndsWith(req.path, "/events")) {
      events_.push_back(Json::parse(req.body)["reason"]);
      return {.status = 201, .body = req.body};
    }
    return {.status = 404, .body = "{}"};
  }
  void Bump() { node_["metadata"]["resourceVersion"] = std::to_string(++rv_); }
  bool WaitForPatches(int n) {
    absl::MutexLock lock(&mu_);
    auto done = [&] { return patches_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
  }

  absl::Mutex mu_;
  Json node_;
  int rv_ = 1, patches_ = 0, conflicts_ = 0, fail_next_ = 0, fail_status_ = 503;
  std::vector<std::string> events_;
};

class FakeReporter : public Reporter {
 public:
  absl::Status Report(const kube::NodeFacts& node, const Notice& n) override { return Record("report:" + n.id, node); }
  absl::Status Withdraw(const kube::NodeFacts& node, const Notice& n) override { return Record("withdraw:" + n.id, node); }
  absl::Status Record(std::string what, const kube::NodeFacts& node) {
    absl::MutexLock lock(&mu_);
    ++attempts_;
    if (failing_) return absl::UnavailableError("extender down");
    calls_.push_back(what);
    last_node_ = node;
    return absl::OkStatus();
  }
  absl::Mutex mu_;
  bool failing_ = false;
  int attempts_ = 0;
  std::vector<std::string> calls_;
  kube::NodeFacts last_node_;
};

struct Harness {
  FakeClock clock;
  FakeHttpClient* http;
  std::unique_ptr<kube::KubeClient> kube;
  std::unique_ptr<FakeApi> api;
  FakeReporter reporter;
  MetricsRegistry registry;
  AgentMetrics metrics{registry};
  std::unique_ptr<Responder> responder;

  explicit Harness(bool dry_run = false, bool auto_advance = true) {
    clock.set_auto_advance(auto_advance);
    auto h = std::make_unique<FakeHttpClient>();
    http = h.get();
    api = std::make_unique<FakeApi>(*http);
    kube = std::make_unique<kube::KubeClient>(std::move(h), kube::KubeConfig{}, clock,
                                              kube::ClientOptions{.qps = 0, .max_attempts = 1});
    responder = std::make_unique<Responder>(ResponderOptions{.node_name = "n1", .dry_run = dry_run}, clock, *kube,
                                            &reporter, metrics);
  }
  Json Node() {
    absl::MutexLock lock(&api->mu_);
    return api->node_;
  }
};

Notice Itn() {
  return Notice{.id = "aws-spot-terminate", .cloud = v1::CLOUD_AWS, .kind = v1::NOTICE_KIND_EVICTION,
                .raw_action = "terminate", .not_before = absl::FromUnixSeconds(1'800'000'120),
                .detected_at = absl::FromUnixSeconds(1'800'000'000), .source = "aws-spot-itn", .action = Action::kCordon};
}

// Verifies a new notice cordons the node, posts an Event and reports with the node's facts.
TEST(ResponderTest, CordonsEventsAndReports) {
  Harness h;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  Json node = h.Node();
  EXPECT_EQ(node["spec"]["unschedulable"], true);
  EXPECT_TRUE(kube::HasTaint(node, kTaintKey, "NoSchedule"));
  EXPECT_EQ(h.api->events_, std::vector<std::string>{"SpotEvictionNotice"});
  EXPECT_EQ(h.reporter.calls_, std::vector<std::string>{"report:aws-spot-terminate"});
  EXPECT_EQ(h.reporter.last_node_.pool, "spot-a");
  EXPECT_EQ(h.reporter.last_node_.capacity_type, "spot");
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(), "spotguard_agent_notice_to_cordon_seconds_count 1"));
}

// Verifies a concurrent writer (a failed resourceVersion test) makes the patch retry, not fail.
TEST(ResponderTest, ConflictIsRetried) {
  Harness h;
  h.api->conflicts_ = 2;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(h.Node()["spec"]["unschedulable"], true);
  EXPECT_EQ(h.api->patches_, 3);
}

// Verifies an unreachable extender never holds up the cordon, and the report is retried
// until it lands.
TEST(ResponderTest, ExtenderDownDoesNotDelayCordon) {
  Harness h(/*dry_run=*/false, /*auto_advance=*/false);
  h.reporter.failing_ = true;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  // The node is cordoned while the report, having failed, waits to retry.
  ASSERT_TRUE(h.api->WaitForPatches(1));
  EXPECT_EQ(h.Node()["spec"]["unschedulable"], true);
  ASSERT_TRUE(h.clock.WaitForSleepers(1));
  {
    absl::MutexLock lock(&h.reporter.mu_);
    EXPECT_TRUE(h.reporter.calls_.empty());
    h.reporter.failing_ = false;
  }
  h.clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(h.reporter.calls_, std::vector<std::string>{"report:aws-spot-terminate"});
  EXPECT_GT(h.reporter.attempts_, 1);
}

// Verifies a report that cannot land before the deadline is given up and counted.
TEST(ResponderTest, ReportGivesUpAtDeadline) {
  Harness h;
  h.reporter.failing_ = true;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(), R"(spotguard_agent_reports_total{result="expired"} 1)"));
}

// Verifies the API server failing at first only delays the cordon.
TEST(ResponderTest, ApiErrorsAreRetried) {
  Harness h;
  h.responder->Start(h.Node());
  {
    absl::MutexLock lock(&h.api->mu_);
    h.api->fail_next_ = 3;
  }
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(h.Node()["spec"]["unschedulable"], true);
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(), R"(spotguard_agent_node_updates_total{result="error"})"));
}

// Verifies a withdrawal during a long API outage (here: 100 failed calls, minutes of
// backoff) still uncordons the node once the API server is back: the worker never gives up.
TEST(ResponderTest, WithdrawalOutlastsAnApiOutage) {
  Harness h;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  {
    absl::MutexLock lock(&h.api->mu_);
    h.api->fail_next_ = 100;
  }
  const absl::Time outage = h.clock.Now();
  h.responder->OnWithdrawn(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(20)));
  EXPECT_GT(h.clock.Now() - outage, absl::Minutes(2));  // well past the minute it used to give up after
  EXPECT_FALSE(h.Node()["spec"].contains("unschedulable"));
}

// Verifies a resync reads the node afresh and puts back what someone removed, and writes
// nothing when the node already matches.
TEST(ResponderTest, ResyncPutsDriftRight) {
  Harness h;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  int patches;
  {
    absl::MutexLock lock(&h.api->mu_);
    patches = h.api->patches_;
  }
  h.responder->Resync();
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  {
    absl::MutexLock lock(&h.api->mu_);
    EXPECT_EQ(h.api->patches_, patches);  // nothing drifted: nothing written
    h.api->node_["spec"].erase("taints");  // someone removed the taint
    h.api->Bump();
  }
  h.responder->Resync();
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_TRUE(kube::HasTaint(h.Node(), kTaintKey, "NoSchedule"));
}

// Verifies a withdrawal undoes the node and tells the extender.
TEST(ResponderTest, WithdrawalUndoesAndReports) {
  Harness h;
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  h.responder->OnWithdrawn(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  Json node = h.Node();
  EXPECT_FALSE(node["spec"].contains("unschedulable"));
  EXPECT_FALSE(kube::HasTaint(node, kTaintKey, "NoSchedule"));
  EXPECT_EQ(h.api->events_, (std::vector<std::string>{"SpotEvictionNotice", "SpotNoticeWithdrawn"}));
  EXPECT_EQ(h.reporter.calls_, (std::vector<std::string>{"report:aws-spot-terminate", "withdraw:aws-spot-terminate"}));
}

// Verifies a restart carries on: no new patch, no second Event, the report repeated (the
// extender is idempotent by id).
TEST(ResponderTest, RestartCarriesOnWithoutDuplicateWork) {
  Json doomed;
  {
    Harness first;
    first.responder->Start(first.Node());
    first.responder->OnNotice(Itn());
    ASSERT_TRUE(first.responder->WaitIdle(absl::Seconds(10)));
    doomed = first.Node();
  }
  Harness h;
  {
    absl::MutexLock lock(&h.api->mu_);
    h.api->node_ = doomed;
  }
  std::vector<Notice> restored = h.responder->Start(doomed);
  ASSERT_EQ(restored.size(), 1u);
  EXPECT_EQ(restored[0].id, "aws-spot-terminate");
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(h.api->patches_, 0);
  EXPECT_TRUE(h.api->events_.empty());
  EXPECT_EQ(h.reporter.calls_, std::vector<std::string>{"report:aws-spot-terminate"});
}

// Verifies --dry_run changes nothing anywhere but counts what it would do.
TEST(ResponderTest, DryRunChangesNothing) {
  Harness h(/*dry_run=*/true);
  h.responder->Start(h.Node());
  h.responder->OnNotice(Itn());
  ASSERT_TRUE(h.responder->WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(h.api->patches_, 0);
  EXPECT_TRUE(h.api->events_.empty());
  EXPECT_TRUE(h.reporter.calls_.empty());
  std::string metrics = h.registry.Serialize();
  EXPECT_TRUE(absl::StrContains(metrics, R"(spotguard_agent_node_updates_total{result="dry_run"} 1)"));
  EXPECT_TRUE(absl::StrContains(metrics, R"(spotguard_agent_reports_total{result="dry_run"} 1)"));
}

}  // namespace
}  // namespace spotguard::agent
