// spotguard-agent end to end: the real binary, under a ServiceAccount token bound to the
// RBAC in manifests/base/agent-rbac.yaml, against the real API server, with AWS's own
// metadata simulator (ec2-metadata-mock), the Azure Scheduled Events fake and a GCP fake,
// reporting to an in-process EvictionService.
#include <signal.h>


#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/extender_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/process.h"
#include "test/fakes/fake_eviction_service.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::e2e {
namespace {

using testing::FakeAzureScheduledEvents;
using testing::FakeEvictionService;
using testing::ReceivedCall;

constexpr char kTaint[] = "spotguard.io/eviction-notice";

class AgentE2E : public E2ETest {
 protected:
  static void SetUpTestSuite() {
    if (!ControlPlaneEnvironment::status().ok()) return;
    ASSERT_TRUE(ApplyAgentRbac(ControlPlaneEnvironment::Get()).ok());
  }

  std::string Dir() { return cp().dir(); }

  using Credentials = AgentCredentials;
  Credentials Provision(const NodeSpec& node) {
    auto c = ProvisionAgent(cp(), node);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Credentials{};
  }

  std::unique_ptr<Process> StartAgent(const std::string& node, const Credentials& c, const std::string& extender,
                                      std::vector<std::string> flags) {
    auto agent = e2e::StartAgent(cp(), node, c, extender, flags);
    EXPECT_TRUE(agent.ok()) << agent.status();
    return agent.ok() ? std::move(*agent) : nullptr;
  }

  std::string Metrics(Process& agent) { return ScrapeMetrics(agent); }

  // The extender's server certificate (no client certificates asked for), for the fake.
  tls::Files ExtenderTls() {
    auto certs = MakeSpotguardCerts(cp());
    EXPECT_TRUE(certs.ok()) << certs.status();
    tls::Files f = certs.ok() ? certs->extender : tls::Files{};
    f.ca_file.clear();
    return f;
  }

  absl::StatusOr<Json> WaitNode(const std::string& name, const std::function<bool(const Json&)>& pred,
                                absl::Duration timeout = absl::Seconds(30)) {
    return WaitForObject(admin(), "/api/v1/nodes", name, [&](const Json& n) { return !n.is_null() && pred(n); }, timeout);
  }

  static std::string Label(const Json& n, const char* key) {
    return kube::StringAt(n, {"metadata", "labels", key});
  }
  static bool Unschedulable(const Json& n) { return n["spec"].value("unschedulable", false); }
  static std::string TaintValue(const Json& n) {
    for (const Json& t : n["spec"].value("taints", Json::array())) {
      if (t.value("key", "") == kTaint) return t.value("value", "");
    }
    return "";
  }
  static std::function<bool(const std::vector<ReceivedCall>&)> Reported(std::string id, std::string method = "ReportNotice") {
    return [id, method](const std::vector<ReceivedCall>& calls) {
      for (const auto& c : calls) {
        if (c.method == method && (method == "ReportNotice" ? c.report.notice().id() : c.withdraw.notice_id()) == id) return true;
      }
      return false;
    };
  }
  int EventCount(const std::string& node, const std::string& reason) {
    auto events = ListEvents(admin(), node, reason);
    return events.ok() ? static_cast<int>(events->size()) : -1;
  }
  // Waits until `n` Events with `reason` exist for the node (they follow the node patch).
  bool WaitEvents(const std::string& node, const std::string& reason, size_t n) {
    auto events = WaitForList(admin(), "/api/v1/namespaces/default/events",
                              "fieldSelector=" + UrlEncode(absl::StrCat("involvedObject.name=", node, ",reason=", reason)),
                              [n](const std::vector<Json>& v) { return v.size() >= n; });
    return events.ok();
  }
};

// --- AWS, through ec2-metadata-mock -------------------------------------------------------------

std::unique_ptr<Process> StartAemm(const std::string& dir, int port, std::vector<std::string> args) {
  auto p = StartEc2MetadataMock(ControlPlaneEnvironment::Get(), port, std::move(args));
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

// Verifies an EKS spot node gets the rebalance label, then, on the spot interruption notice,
// is cordoned, tainted, labelled and annotated, with an Event, a report carrying the node's
// facts and the agent's metrics — all through the real ec2-metadata-mock with IMDSv2, which
// in this mode also serves a scheduled system-reboot: the interruption, more severe, wins.
TEST_F(AgentE2E, AwsRebalanceThenSpotInterruption) {
  NodeSpec node{.name = UniqueName("eks-spot"), .kind = NodeKind::kEksSpot, .zone = "us-east-1a", .pool = "spot-a",
                .instance_type = "m5.2xlarge"};
  Credentials creds = Provision(node);
  FakeEvictionService extender(0, ExtenderTls());
  int port = FreePort();
  auto aemm = StartAemm(Dir(), port, {"--rebalance-delay-sec=1", "--mock-delay-sec=4"});
  auto agent = StartAgent(node.name, creds, extender.address(), {"--aws_endpoint=http://127.0.0.1:" + std::to_string(port)});

  auto rebalanced = WaitNode(node.name, [](const Json& n) { return Label(n, "spotguard.io/rebalance-recommended") == "true"; });
  ASSERT_TRUE(rebalanced.ok()) << rebalanced.status();
  ASSERT_TRUE(extender.WaitFor(Reported("aws-rebalance")));

  auto doomed = WaitNode(node.name, [](const Json& n) { return Unschedulable(n) && TaintValue(n) == "terminate"; });
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  EXPECT_EQ(Label(*doomed, "spotguard.io/evicting"), "true");
  Json notice = Json::parse(kube::StringAt(*doomed, {"metadata", "annotations", "spotguard.io/notice"}));
  EXPECT_EQ(notice["id"], "aws-spot-terminate");
  EXPECT_EQ(notice["cloud"], "aws");
  EXPECT_EQ(notice["kind"], "eviction");
  EXPECT_FALSE(notice["notBefore"].get<std::string>().empty());

  ASSERT_TRUE(extender.WaitFor(Reported("aws-spot-terminate")));
  for (const auto& call : extender.calls()) {
    if (call.method != "ReportNotice" || call.report.notice().id() != "aws-spot-terminate") continue;
    EXPECT_EQ(call.report.node().name(), node.name);
    EXPECT_EQ(call.report.node().pool(), "spot-a");
    EXPECT_EQ(call.report.node().zone(), "us-east-1a");
    EXPECT_EQ(call.report.node().capacity_type(), "spot");
    EXPECT_EQ(call.report.node().instance_type(), "m5.2xlarge");
    EXPECT_EQ(call.report.notice().kind(), v1::NOTICE_KIND_EVICTION);
    EXPECT_TRUE(absl::StartsWith(call.authorization, "Bearer ey"));
  }
  // The recommendation, the maintenance and the interruption.
  ASSERT_TRUE(WaitEvents(node.name, "SpotEvictionNotice", 3));
  EXPECT_EQ(EventCount(node.name, "SpotEvictionNotice"), 3);

  std::string metrics = Metrics(*agent);
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(spotguard_agent_notices_total{cloud="aws",kind="eviction"} 1)"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(R"(spotguard_agent_notices_total{cloud="aws",kind="rebalance"} 1)"));
  // One cordon observation per cordoning notice: the maintenance and the interruption.
  EXPECT_THAT(metrics, ::testing::HasSubstr("spotguard_agent_notice_to_cordon_seconds_count 2"));
  EXPECT_THAT(metrics, ::testing::Not(::testing::HasSubstr(node.name)));  // no node names as labels

  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(absl::Seconds(15)), 0);
}

// Verifies a scheduled AWS maintenance cordons the node, and its cancellation undoes it:
// uncordoned, untainted, an Event and a WithdrawNotice.
TEST_F(AgentE2E, AwsScheduledMaintenanceAndCancellation) {
  NodeSpec node{.name = UniqueName("eks-od"), .kind = NodeKind::kEksSpot, .zone = "us-east-1b", .pool = "spot-b"};
  Credentials creds = Provision(node);
  FakeEvictionService extender(0, ExtenderTls());
  int port = FreePort();
  auto aemm = StartAemm(Dir(), port, {"events", "--code=system-reboot", "--state=active"});
  auto agent = StartAgent(node.name, creds, extender.address(), {"--aws_endpoint=http://127.0.0.1:" + std::to_string(port)});

  auto cordoned = WaitNode(node.name, [](const Json& n) { return Unschedulable(n) && TaintValue(n) == "system-reboot"; });
  ASSERT_TRUE(cordoned.ok()) << cordoned.status();
  ASSERT_TRUE(extender.WaitFor(Reported("instance-event-1234567890abcdef0")));
  EXPECT_TRUE(WaitEvents(node.name, "SpotEvictionNotice", 1));

  aemm.reset();  // the same event, now canceled
  aemm = StartAemm(Dir(), port, {"events", "--code=system-reboot", "--state=canceled"});
  auto undone = WaitNode(node.name, [](const Json& n) { return !Unschedulable(n) && TaintValue(n).empty(); });
  ASSERT_TRUE(undone.ok()) << undone.status();
  EXPECT_EQ(kube::StringAt(*undone, {"metadata", "annotations", "spotguard.io/notice"}), "");
  ASSERT_TRUE(extender.WaitFor(Reported("instance-event-1234567890abcdef0", "WithdrawNotice")));
  EXPECT_TRUE(WaitEvents(node.name, "SpotNoticeWithdrawn", 1));
}

// --- Azure, through the Scheduled Events fake ---------------------------------------------------

// Verifies a Preempt for this VM is acted on while events for other VMs are ignored, and a
// withdrawn event is undone; the agent only ever reads and patches its node.
TEST_F(AgentE2E, AzurePreemptOtherVmsAndWithdrawal) {
  NodeSpec node{.name = UniqueName("aks-spot"), .kind = NodeKind::kAksSpot, .zone = "westeurope-1", .pool = "spot1"};
  Credentials creds = Provision(node);
  auto created = kube::GetNode(admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  ASSERT_FALSE(vm.empty());
  FakeAzureScheduledEvents imds;
  imds.Add({.id = "other-vm", .type = "Preempt", .resources = {vm + "0"},
            .not_before = FakeAzureScheduledEvents::Rfc1123(absl::Now() + absl::Seconds(30))});
  FakeEvictionService extender(0, ExtenderTls());
  auto agent = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url()});

  imds.Add({.id = "ours", .type = "Preempt", .resources = {vm},
            .not_before = FakeAzureScheduledEvents::Rfc1123(absl::Now() + absl::Seconds(30))});
  auto doomed = WaitNode(node.name, [](const Json& n) { return Unschedulable(n) && TaintValue(n) == "Preempt"; });
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  EXPECT_EQ(Json::parse(kube::StringAt(*doomed, {"metadata", "annotations", "spotguard.io/notice"}))["id"], "ours");
  ASSERT_TRUE(extender.WaitFor(Reported("ours")));
  for (const auto& c : extender.calls()) EXPECT_NE(c.report.notice().id(), "other-vm");
  ASSERT_TRUE(WaitEvents(node.name, "SpotEvictionNotice", 1));
  EXPECT_EQ(EventCount(node.name, "SpotEvictionNotice"), 1);
  // The AKS spot taint is untouched.
  EXPECT_TRUE(kube::HasTaint(*doomed, "kubernetes.azure.com/scalesetpriority", "NoSchedule"));

  imds.Remove("ours");
  auto undone = WaitNode(node.name, [](const Json& n) { return !Unschedulable(n) && TaintValue(n).empty(); });
  ASSERT_TRUE(undone.ok()) << undone.status();
  EXPECT_EQ(Label(*undone, "spotguard.io/evicting"), "");
  EXPECT_TRUE(kube::HasTaint(*undone, "kubernetes.azure.com/scalesetpriority", "NoSchedule"));
  ASSERT_TRUE(extender.WaitFor(Reported("ours", "WithdrawNotice")));
  EXPECT_THAT(Metrics(*agent), ::testing::HasSubstr(R"(spotguard_agent_withdrawn_total{cloud="azure",kind="eviction"} 1)"));
}

// Counts the agent's successful polls of one source, from its poll-duration histogram.
int PollCount(const std::string& metrics, const std::string& source) {
  const std::string key = absl::StrCat("spotguard_agent_poll_duration_seconds_count{source=\"", source, "\"} ");
  size_t at = metrics.find(key);
  return at == std::string::npos ? -1 : std::atoi(metrics.c_str() + at + key.size());
}

// Verifies an Azure event that turns Started (NotBefore empty, as Azure documents) keeps its
// deadline: the agent writes its node and reports once, not on every poll (it used to
// rewrite the node every poll with a deadline sliding forward).
TEST_F(AgentE2E, AzureStartedEventWritesOnce) {
  NodeSpec node{.name = UniqueName("aks-spot"), .kind = NodeKind::kAksSpot, .zone = "westeurope-1", .pool = "spot1"};
  Credentials creds = Provision(node);
  auto created = kube::GetNode(admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  FakeAzureScheduledEvents imds;
  const absl::Time not_before = absl::Now() + absl::Seconds(30);
  imds.Add({.id = "started", .type = "Preempt", .resources = {vm},
            .not_before = FakeAzureScheduledEvents::Rfc1123(not_before)});
  FakeEvictionService extender(0, ExtenderTls());
  auto agent = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url()});
  auto doomed = WaitNode(node.name, [](const Json& n) { return Unschedulable(n) && TaintValue(n) == "Preempt"; });
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  ASSERT_TRUE(extender.WaitFor(Reported("started")));
  imds.Remove("started");
  imds.Add({.id = "started", .type = "Preempt", .resources = {vm}, .status = "Started", .not_before = ""});
  // Twelve more polls (three seconds at the harness's 250 ms). The node's resourceVersion is
  // no measure here: the node lifecycle controller writes the node too (its unschedulable
  // taint), so the agent's own writes are counted.
  const std::string writes = R"(spotguard_agent_node_updates_total{result="ok"} )";
  auto Writes = [&] {
    std::string m = Metrics(*agent);
    size_t at = m.find(writes);
    return at == std::string::npos ? -1 : std::atoi(m.c_str() + at + writes.size());
  };
  ASSERT_TRUE(WaitNode(node.name, [](const Json& n) {
                return !kube::StringAt(n, {"metadata", "annotations", "spotguard.io/agent"}).empty();
              }).ok());
  // The agent counts its write once the API server has answered it, which can be after this
  // test has seen the write: wait for the count too.
  int writes_before = Writes();
  for (const absl::Time end = absl::Now() + absl::Seconds(30); writes_before < 1 && absl::Now() < end;
       writes_before = Writes()) {
    StopSignal().WaitUntil(absl::Now() + absl::Milliseconds(100));
  }
  ASSERT_GE(writes_before, 1);
  const int from = PollCount(Metrics(*agent), "azure-scheduled-events");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (PollCount(Metrics(*agent), "azure-scheduled-events") < from + 12 && absl::Now() < deadline) {
    StopSignal().WaitUntil(absl::Now() + absl::Milliseconds(100));
  }
  ASSERT_GE(PollCount(Metrics(*agent), "azure-scheduled-events"), from + 12);
  auto after = kube::GetNode(admin(), node.name);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Writes(), writes_before);
  EXPECT_EQ(kube::StringAt(*after, {"metadata", "annotations", "spotguard.io/agent"}),
            kube::StringAt(*doomed, {"metadata", "annotations", "spotguard.io/agent"}));
  int reports = 0;
  for (const auto& c : extender.calls()) reports += c.method == "ReportNotice";
  EXPECT_EQ(reports, 1);
  Json notice = Json::parse(kube::StringAt(*after, {"metadata", "annotations", "spotguard.io/notice"}));
  EXPECT_EQ(notice["notBefore"], FormatApiTime(absl::FromUnixSeconds(absl::ToUnixSeconds(not_before))));
}

// Verifies a restarted agent carries on from the node's record: no second Event, the state
// kept, and a later withdrawal still undone — and that a node someone else cordoned stays
// cordoned after the withdrawal.
TEST_F(AgentE2E, RestartCarriesOnAndForeignCordonSurvives) {
  NodeSpec node{.name = UniqueName("aks-restart"), .kind = NodeKind::kAksSpot, .pool = "spot2"};
  Credentials creds = Provision(node);
  ASSERT_TRUE(kube::PatchNode(admin(), node.name, kube::PatchType::kMerge, {{"spec", {{"unschedulable", true}}}}).ok());
  auto created = kube::GetNode(admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  FakeAzureScheduledEvents imds;
  imds.Add({.id = "reboot-1", .type = "Reboot", .resources = {vm},
            .not_before = FakeAzureScheduledEvents::Rfc1123(absl::Now() + absl::Minutes(15))});
  FakeEvictionService extender(0, ExtenderTls());
  auto agent = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url()});
  ASSERT_TRUE(WaitNode(node.name, [](const Json& n) { return TaintValue(n) == "Reboot"; }).ok());
  ASSERT_TRUE(extender.WaitFor(Reported("reboot-1")));
  // The Event follows the patch's answer: killed before it, the first run would announce nothing.
  ASSERT_TRUE(WaitEvents(node.name, "SpotEvictionNotice", 1));

  agent->Signal(SIGKILL);
  agent->Wait(absl::Seconds(10));
  agent = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url()});
  ASSERT_TRUE(agent->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "carrying on"); }).ok());
  // Re-reported (the extender ignores repeats), not re-announced.
  ASSERT_TRUE(extender.WaitFor([](const std::vector<ReceivedCall>& calls) {
    int n = 0;
    for (const auto& c : calls) n += c.report.notice().id() == "reboot-1";
    return n >= 2;
  }));
  EXPECT_EQ(EventCount(node.name, "SpotEvictionNotice"), 1);

  imds.Remove("reboot-1");
  auto undone = WaitNode(node.name, [](const Json& n) { return TaintValue(n).empty(); });
  ASSERT_TRUE(undone.ok()) << undone.status();
  EXPECT_TRUE(Unschedulable(*undone)) << "spotguard uncordoned a node someone else had cordoned";
}

// Verifies an unreachable extender does not delay the cordon, and the report lands once it
// comes up.
TEST_F(AgentE2E, ExtenderDownCordonStillWithinOnePoll) {
  NodeSpec node{.name = UniqueName("aks-noext"), .kind = NodeKind::kAksSpot, .pool = "spot3"};
  Credentials creds = Provision(node);
  auto created = kube::GetNode(admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  FakeAzureScheduledEvents imds;
  int extender_port = FreePort();  // nothing listens there yet
  auto agent = StartAgent(node.name, creds, "127.0.0.1:" + std::to_string(extender_port), {"--azure_endpoint=" + imds.url()});
  absl::Time posted = absl::Now();
  imds.Add({.id = "pre-1", .type = "Preempt", .resources = {vm},
            .not_before = FakeAzureScheduledEvents::Rfc1123(absl::Now() + absl::Seconds(60))});
  ASSERT_TRUE(WaitNode(node.name, [](const Json& n) { return Unschedulable(n); }).ok());
  EXPECT_LT(absl::Now() - posted, absl::Seconds(3)) << "cordon took longer than a poll plus the API round trips";
  ASSERT_TRUE(agent->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "report to the extender failed"); }).ok());
  FakeEvictionService extender(extender_port, ExtenderTls());
  EXPECT_TRUE(extender.WaitFor(Reported("pre-1"), absl::Seconds(30)));
}

// Verifies label-only Freeze maintenance, and --dry_run changing nothing.
TEST_F(AgentE2E, AzureFreezeLabelOnlyAndDryRun) {
  NodeSpec node{.name = UniqueName("aks-freeze"), .kind = NodeKind::kAksSpot, .pool = "spot4"};
  Credentials creds = Provision(node);
  auto created = kube::GetNode(admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  FakeAzureScheduledEvents imds;
  imds.Add({.id = "freeze-1", .type = "Freeze", .resources = {vm},
            .not_before = FakeAzureScheduledEvents::Rfc1123(absl::Now() + absl::Minutes(15))});
  FakeEvictionService extender(0, ExtenderTls());
  {
    auto dry = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url(), "--dry_run"});
    ASSERT_TRUE(dry->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "dry run: would patch"); }).ok());
    EXPECT_THAT(Metrics(*dry), ::testing::HasSubstr(R"(spotguard_agent_node_updates_total{result="dry_run"})"));
  }
  auto unchanged = kube::GetNode(admin(), node.name);
  EXPECT_EQ(Label(*unchanged, "spotguard.io/maintenance"), "");
  EXPECT_TRUE(extender.calls().empty());

  auto agent = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url()});
  auto labelled = WaitNode(node.name, [](const Json& n) { return Label(n, "spotguard.io/maintenance") == "Freeze"; });
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  EXPECT_FALSE(Unschedulable(*labelled));
  EXPECT_EQ(TaintValue(*labelled), "");
}

// Verifies --azure_ack approves the event (StartRequests) once the extender has marked the
// node's executors decommissioned, and not before.
TEST_F(AgentE2E, AzureAcknowledgesOnceDecommissioned) {
  NodeSpec node{.name = UniqueName("aks-ack"), .kind = NodeKind::kAksSpot, .pool = "spot5"};
  Credentials creds = Provision(node);
  auto created = kube::GetNode(admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  FakeAzureScheduledEvents imds;
  FakeEvictionService extender(0, ExtenderTls());
  auto agent = StartAgent(node.name, creds, extender.address(), {"--azure_endpoint=" + imds.url(), "--azure_ack"});
  imds.Add({.id = "pre-ack", .type = "Preempt", .resources = {vm},
            .not_before = FakeAzureScheduledEvents::Rfc1123(absl::Now() + absl::Seconds(30))});
  ASSERT_TRUE(WaitNode(node.name, [](const Json& n) { return Unschedulable(n); }).ok());
  EXPECT_FALSE(imds.WaitForStarted("pre-ack", absl::Seconds(1)));  // executors not gone yet
  // What the extender's decommissioner writes when the node's executors are gone.
  ASSERT_TRUE(kube::PatchNode(admin(), node.name, kube::PatchType::kMerge,
                              {{"metadata", {{"annotations", {{"spotguard.io/decommissioned", "pre-ack"}}}}}}).ok());
  EXPECT_TRUE(imds.WaitForStarted("pre-ack"));
}

// --- GCP, through a fake metadata server -------------------------------------------------------

// Verifies a preempted GCE spot VM is cordoned and reported.
TEST_F(AgentE2E, GcpPreemption) {
  NodeSpec node{.name = UniqueName("gke-spot"), .kind = NodeKind::kGkeSpot, .zone = "europe-west1-b", .pool = "spot"};
  Credentials creds = Provision(node);
  testing::FakeImds imds;
  imds.RequireHeader("Metadata-Flavor", "Google", 403);
  imds.Set("/computeMetadata/v1/instance/preempted", {.body = "FALSE", .content_type = "text/plain"});
  FakeEvictionService extender(0, ExtenderTls());
  auto agent = StartAgent(node.name, creds, extender.address(), {"--gcp_endpoint=" + imds.url()});
  imds.Set("/computeMetadata/v1/instance/preempted", {.body = "TRUE", .content_type = "text/plain"});
  auto doomed = WaitNode(node.name, [](const Json& n) { return Unschedulable(n) && TaintValue(n) == "preempted"; });
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  ASSERT_TRUE(extender.WaitFor(Reported("gcp-preempted")));
  EXPECT_EQ(extender.calls()[0].report.notice().cloud(), v1::CLOUD_GCP);
  EXPECT_TRUE(WaitEvents(node.name, "SpotEvictionNotice", 1));
}

// --- Least privilege -----------------------------------------------------------------------------

// Verifies the agent's role can patch nodes but cannot evict or even read pods.
TEST_F(AgentE2E, AgentRoleCannotEvictPods) {
  NodeSpec node{.name = UniqueName("rbac"), .kind = NodeKind::kEksSpot};
  Credentials creds = Provision(node);
  auto cfg = kube::LoadKubeconfig(creds.kubeconfig);
  ASSERT_TRUE(cfg.ok());
  auto as_agent = kube::KubeClient::Create(*cfg, RealClock::Get(), {.qps = 0, .max_attempts = 1});
  ASSERT_TRUE(as_agent.ok());
  EXPECT_TRUE(kube::GetNode(**as_agent, node.name).ok());
  absl::Status evict = kube::EvictPod(**as_agent, "spotguard-system", creds.pod, 0);
  EXPECT_EQ(evict.code(), absl::StatusCode::kPermissionDenied) << evict;
  EXPECT_EQ((*as_agent)->Get("/api/v1/namespaces/spotguard-system/pods").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(kube::DeletePod(**as_agent, "spotguard-system", creds.pod, 0).code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace spotguard::e2e
