// spotguard-extender end to end: the real binary under its RBAC, called by the real
// kube-scheduler in both nodeCacheCapable modes, over kwok spot and on-demand nodes in
// 2 pools × 2 zones. Notices reach it over gRPC from agent tokens, as an agent would send.
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/http_server.h"
#include "common/kube/resources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "node-agent/reporter.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"

namespace spotguard::e2e {
namespace {

RunningExtender* g_extender = nullptr;

class ExtenderE2E : public E2ETest, public ::testing::WithParamInterface<bool> {
 protected:
  static void SetUpTestSuite() {
    if (!ControlPlaneEnvironment::status().ok()) return;
    ControlPlane& cp = ControlPlaneEnvironment::Get();
    ASSERT_TRUE(ApplyAgentRbac(cp).ok());
    ASSERT_TRUE(ApplyExtenderRbac(cp).ok());
    std::vector<std::string> flags;
    if (const char* dir = std::getenv("SPOTGUARD_CAPTURE_DIR")) flags.push_back(absl::StrCat("--capture_dir=", dir));
    auto ext = StartExtender(cp, flags);
    ASSERT_TRUE(ext.ok()) << ext.status();
    g_extender = new RunningExtender(std::move(*ext));
  }
  static void TearDownTestSuite() {
    delete g_extender;
    g_extender = nullptr;
  }

  void SetUp() override {
    E2ETest::SetUp();
    ASSERT_NE(g_extender, nullptr);
    // One scheduler at a time: restart it in this test's mode when the mode changes.
    static int mode = -1;
    if (mode != static_cast<int>(GetParam())) {
      ASSERT_TRUE(cp().StartScheduler(SchedulerConfig(*g_extender, GetParam())).ok());
      mode = GetParam();
    }
    group_ = UniqueName(GetParam() ? "names" : "nodes");
    ns_ = group_;
    ASSERT_TRUE(CreateNamespace(admin(), ns_).ok());
  }

  // A node of this test's group (pods select it with nodeSelector e2e-group=<group>).
  NodeSpec Spec(NodeKind kind, const std::string& pool, const std::string& zone, const std::string& type = "m5.2xlarge") {
    return {.name = UniqueName(group_ + "-" + pool), .kind = kind, .zone = zone, .pool = pool, .instance_type = type};
  }
  void Add(const NodeSpec& spec) {
    Json node = MakeNode(spec);
    node["metadata"]["labels"]["e2e-group"] = group_;
    ASSERT_TRUE(admin().Post("/api/v1/nodes", node).ok());
    ASSERT_TRUE(WaitSchedulable(admin(), spec.name).ok()) << spec.name;
  }
  // A node with an agent's credentials, so the test can report notices for it.
  AgentCredentials AddWithAgent(const NodeSpec& spec) {
    auto creds = ProvisionAgent(cp(), spec);
    EXPECT_TRUE(creds.ok()) << creds.status();
    EXPECT_TRUE(kube::PatchNode(admin(), spec.name, kube::PatchType::kMerge,
                                {{"metadata", {{"labels", {{"e2e-group", group_}}}}}}).ok());
    EXPECT_TRUE(WaitSchedulable(admin(), spec.name).ok()) << spec.name;
    return creds.ok() ? *creds : AgentCredentials{};
  }

  // Creates a Spark pod for the spotguard-scheduler and waits until it is bound.
  std::string Schedule(const std::string& name, bool driver, const std::string& app, int exec_id = 1) {
    Json pod = MakeSparkPod({.namespace_ = ns_, .name = name, .app_id = app, .driver = driver, .exec_id = exec_id,
                             .scheduler_name = "spotguard-scheduler"});
    pod["spec"]["nodeSelector"] = {{"e2e-group", group_}};
    EXPECT_TRUE(CreatePod(admin(), pod).ok());
    auto bound = WaitForObject(admin(), absl::StrCat("/api/v1/namespaces/", ns_, "/pods"), name,
                               [](const Json& p) { return !p.is_null() && !kube::StringAt(p, {"spec", "nodeName"}).empty(); });
    EXPECT_TRUE(bound.ok()) << bound.status();
    return bound.ok() ? kube::StringAt(*bound, {"spec", "nodeName"}) : "";
  }

  absl::Status Report(const NodeSpec& node, const AgentCredentials& creds, const std::string& id, bool withdraw = false) {
    auto reporter = agent::NewGrpcReporter({.address = g_extender->grpc_address, .token_path = creds.report_token_path,
                                            .channel = AgentChannel(*g_extender)});
    auto facts = kube::FactsOf(*kube::GetNode(admin(), node.name));
    agent::Notice n{.id = id, .cloud = agent::v1::CLOUD_AWS, .kind = agent::v1::NOTICE_KIND_EVICTION,
                    .raw_action = "terminate", .not_before = absl::Now() + absl::Minutes(2), .detected_at = absl::Now(),
                    .source = "aws-spot-itn", .action = agent::Action::kCordon};
    return withdraw ? reporter->Withdraw(facts, n) : reporter->Report(facts, n);
  }

  std::string Metrics() {
    return ScrapeExtender(*g_extender);
  }

  std::string group_, ns_;
};

// Verifies Spark drivers never land on spot nodes: only the on-demand node is eligible.
TEST_P(ExtenderE2E, DriversNeverLandOnSpot) {
  for (const char* pool : {"spot-a", "spot-b"}) {
    for (const char* zone : {"us-east-1a", "us-east-1b"}) Add(Spec(NodeKind::kEksSpot, pool, zone));
  }
  NodeSpec od = Spec(NodeKind::kEksOnDemand, "on-demand", "us-east-1a");
  Add(od);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Schedule(absl::StrCat("driver-", i), true, absl::StrCat("app-", i, "-", group_)), od.name);
  EXPECT_THAT(Metrics(), ::testing::HasSubstr(R"(spotguard_extender_filtered_nodes_total{reason="driver_on_spot"})"));
}

// Verifies no pod lands on a node with a notice — before anyone cordons it: the extender
// alone keeps it out as soon as the report arrives.
TEST_P(ExtenderE2E, NoPodOnNoticedNode) {
  NodeSpec doomed = Spec(NodeKind::kEksSpot, "spot-a", "us-east-1a");
  NodeSpec fine = Spec(NodeKind::kEksSpot, "spot-a", "us-east-1b");
  AgentCredentials creds = AddWithAgent(doomed);
  Add(fine);
  ASSERT_TRUE(Report(doomed, creds, UniqueName("itn")).ok());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Schedule(absl::StrCat("exec-", i), false, "app-n-" + group_, i), fine.name) << "executor " << i;
  }
  auto node = kube::GetNode(admin(), doomed.name);
  EXPECT_FALSE((*node)["spec"].value("unschedulable", false));  // nobody cordoned it
}

// Verifies executors favour the low-risk pool and spread within it: the risky pool has
// seen ten evictions (reported and withdrawn again), the calm one none.
TEST_P(ExtenderE2E, ExecutorsFavourLowRiskAndSpread) {
  std::vector<std::pair<NodeSpec, AgentCredentials>> risky;
  for (const char* zone : {"us-east-1a", "us-east-1b"}) {
    NodeSpec s = Spec(NodeKind::kEksSpot, absl::StrCat("risky-", group_), zone, absl::StrCat("r5.large-", group_));
    risky.emplace_back(s, AddWithAgent(s));
  }
  std::set<std::string> calm;
  for (const char* zone : {"us-east-1a", "us-east-1b"}) {
    NodeSpec s = Spec(NodeKind::kEksSpot, absl::StrCat("calm-", group_), zone, absl::StrCat("c5.large-", group_));
    Add(s);
    calm.insert(s.name);
  }
  for (int i = 0; i < 5; ++i) {
    for (auto& [spec, creds] : risky) {
      std::string id = absl::StrCat("past-", spec.name, "-", i);
      ASSERT_TRUE(Report(spec, creds, id).ok());
      ASSERT_TRUE(Report(spec, creds, id, /*withdraw=*/true).ok());
    }
  }
  std::map<std::string, int> per_node;
  for (int i = 0; i < 4; ++i) ++per_node[Schedule(absl::StrCat("exec-", i), false, "app-r-" + group_, i)];
  for (const auto& [node, count] : per_node) EXPECT_TRUE(calm.contains(node)) << node << " is in the risky pool";
  EXPECT_EQ(per_node.size(), 2u) << "executors did not spread over the calm pool's zones";
}

// Verifies one application's executors spread across pools and zones when risks are equal.
TEST_P(ExtenderE2E, ExecutorsSpreadPerApplication) {
  std::map<std::string, std::pair<std::string, std::string>> where;  // node -> (pool, zone)
  for (const char* pool : {"p1", "p2"}) {
    for (const char* zone : {"us-east-1a", "us-east-1b"}) {
      NodeSpec s = Spec(NodeKind::kEksSpot, absl::StrCat(pool, "-", group_), zone, absl::StrCat("m6i-", group_));
      Add(s);
      where[s.name] = {s.pool, s.zone};
    }
  }
  for (const char* app : {"app-x", "app-y"}) {
    std::set<std::string> pools, zones;
    for (int i = 0; i < 4; ++i) {
      auto [pool, zone] = where[Schedule(absl::StrCat(app, "-exec-", i), false, absl::StrCat(app, "-", group_), i)];
      pools.insert(pool);
      zones.insert(zone);
    }
    EXPECT_EQ(pools.size(), 2u) << app;
    EXPECT_EQ(zones.size(), 2u) << app;
  }
}

INSTANTIATE_TEST_SUITE_P(NodeCacheCapable, ExtenderE2E, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "NodeNames" : "FullNodes"; });


// Verifies no door is open: the scheduler API refuses a client without kube-scheduler's
// certificate, with another CA's, and plain HTTP, counting each refused handshake; the
// EvictionService refuses a plaintext client; /metrics and the probes answer only on the
// metrics port and /debug/* is off unless asked for.
class ExtenderTlsE2E : public E2ETest {};

TEST_F(ExtenderTlsE2E, NoDoorIsOpen) {
  ASSERT_TRUE(ApplyAgentRbac(cp()).ok());
  ASSERT_TRUE(ApplyExtenderRbac(cp()).ok());
  auto ext = StartExtender(cp());
  ASSERT_TRUE(ext.ok()) << ext.status();
  auto refused = [&](const std::string& alert) {
    std::string series = absl::StrCat("spotguard_extender_tls_handshakes_refused_total{alert=\"", alert,
                                      "\",server=\"scheduler\"} ");
    std::string m = ScrapeExtender(*ext);
    size_t at = m.find(series);
    return at == std::string::npos ? 0 : std::stoi(m.substr(at + series.size()));
  };
  auto hp = ParseHostPort(ext->http_address);
  ASSERT_TRUE(hp.ok());

  auto scheduler = SchedulerApiClient(*ext);
  auto ok = scheduler->Post("/filter", R"({"Pod":{"metadata":{"name":"p"}},"NodeNames":[]})", "application/json");
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200);
  auto not_here = scheduler->Get("/metrics");
  ASSERT_TRUE(not_here);
  EXPECT_EQ(not_here->status, 404);

  httplib::SSLClient anonymous(hp->host, hp->port);
  anonymous.set_ca_cert_path(ext->certs.scheduler.ca_file.c_str());
  anonymous.enable_server_certificate_verification(true);
  EXPECT_FALSE(anonymous.Post("/bind", "{}", "application/json"));
  EXPECT_EQ(refused("certificate required"), 1);

  const std::string other = cp().dir() + "/other-tls";
  ASSERT_TRUE(e2e::Run(absl::StrCat(SourceDir(), "/scripts/make-certs.sh ", other, " --days 1")).ok());
  httplib::SSLClient stranger(hp->host, hp->port, other + "/scheduler/tls.crt", other + "/scheduler/tls.key");
  stranger.set_ca_cert_path(ext->certs.scheduler.ca_file.c_str());
  stranger.enable_server_certificate_verification(true);
  EXPECT_FALSE(stranger.Post("/bind", "{}", "application/json"));
  EXPECT_EQ(refused("unknown CA"), 1);

  httplib::Client plain(hp->host, hp->port);
  auto cleartext = plain.Post("/bind", "{}", "application/json");
  EXPECT_TRUE(!cleartext || cleartext->status == 400) << (cleartext ? cleartext->body : "");

  const NodeSpec spec{.name = UniqueName("tls-node"), .kind = NodeKind::kEksSpot};
  auto creds = ProvisionAgent(cp(), spec);
  ASSERT_TRUE(creds.ok()) << creds.status();
  auto node = kube::GetNode(admin(), spec.name);
  ASSERT_TRUE(node.ok()) << node.status();
  agent::Notice n{.id = "itn-tls", .cloud = agent::v1::CLOUD_AWS, .kind = agent::v1::NOTICE_KIND_EVICTION,
                  .raw_action = "terminate", .not_before = absl::Now() + absl::Minutes(2), .detected_at = absl::Now(),
                  .source = "aws-spot-itn", .action = agent::Action::kCordon};
  auto cleartext_agent = agent::NewGrpcReporter(
      {.address = ext->grpc_address, .token_path = creds->report_token_path, .channel = {.plaintext = true}});
  EXPECT_EQ(cleartext_agent->Report(kube::FactsOf(*node), n).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ScrapeExtender(*ext), ::testing::Not(::testing::HasSubstr("spotguard_extender_grpc_requests_total{")));
  auto agent = agent::NewGrpcReporter(
      {.address = ext->grpc_address, .token_path = creds->report_token_path, .channel = AgentChannel(*ext)});
  EXPECT_TRUE(agent->Report(kube::FactsOf(*node), n).ok());

  httplib::Client metrics("http://" + ext->metrics_address);
  auto ready = metrics.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto debug = metrics.Get("/debug/nodes");
  ASSERT_TRUE(debug);
  EXPECT_EQ(debug->status, 404);
}

}  // namespace
}  // namespace spotguard::e2e
