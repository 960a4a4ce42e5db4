#include "extender/eviction_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_api_server.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::extender {
namespace {

using testing::FakeApiServer;
using testing::FakeClock;
namespace v1 = spotguard::v1;

struct Harness {
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  FakeApiServer api;
  std::unique_ptr<kube::KubeClient> kube = api.Client(clock);
  MetricsRegistry registry;
  ExtenderMetrics metrics{registry};
  ClusterState state{{}, clock, *kube, metrics};
  Authenticator auth{{}, *kube, nullptr, nullptr, clock, metrics};
  EvictionService service{auth, state, metrics};
  std::vector<std::string> doomed;
  Harness() {
    api.SetTokenReview([](const std::string& token) -> nlohmann::json {
      if (token != "agent-n1") return {{"authenticated", false}};
      return {{"authenticated", true},
              {"user", {{"username", "system:serviceaccount:spotguard-system:spotguard-agent"},
                        {"extra", {{"authentication.kubernetes.io/node-name", {"n1"}}}}}}};
    });
    state.OnDoomed([this](const NoticeRecord& n) { doomed.push_back(n.id); });
    state.ReplaceNodes({{{"metadata", {{"name", "n1"}}}}, {{"metadata", {{"name", "n2"}}}}});
    state.ReplacePods({});
  }
};

v1::ReportNoticeRequest Request(const std::string& node, const std::string& id) {
  v1::ReportNoticeRequest r;
  r.mutable_node()->set_name(node);
  r.mutable_notice()->set_id(id);
  r.mutable_notice()->set_cloud(v1::CLOUD_AWS);
  r.mutable_notice()->set_kind(v1::NOTICE_KIND_EVICTION);
  r.mutable_notice()->set_action("cordon");
  r.mutable_notice()->mutable_not_before()->set_seconds(1'800'000'120);
  return r;
}

// Verifies a report from the node's own agent is accepted once and acted on once.
TEST(EvictionServiceTest, ReportIdempotentById) {
  Harness h;
  v1::ReportNoticeResponse res;
  ASSERT_TRUE(h.service.Report("Bearer agent-n1", Request("n1", "aws-spot-terminate"), &res).ok());
  EXPECT_TRUE(res.first_report());
  ASSERT_TRUE(h.service.Report("Bearer agent-n1", Request("n1", "aws-spot-terminate"), &res).ok());
  EXPECT_FALSE(res.first_report());
  EXPECT_EQ(h.doomed, std::vector<std::string>{"aws-spot-terminate"});
  EXPECT_EQ(h.state.snapshot()->Node("n1")->not_before, absl::FromUnixSeconds(1'800'000'120));
  v1::WithdrawNoticeRequest w;
  w.mutable_node()->set_name("n1");
  w.set_notice_id("aws-spot-terminate");
  v1::WithdrawNoticeResponse wres;
  ASSERT_TRUE(h.service.Withdraw("Bearer agent-n1", w, &wres).ok());
  EXPECT_TRUE(wres.was_known());
}

// Verifies a report over gRPC (first sight to the nanosecond) and the node annotation (to the
// second) name the same occurrence: neither "new" twice nor "stale".
TEST(EvictionServiceTest, BothChannelsNameTheSameOccurrence) {
  Harness h;
  v1::ReportNoticeRequest r = Request("n1", "aws-spot-terminate");
  r.mutable_notice()->mutable_detected_at()->set_seconds(1'800'000'000);
  r.mutable_notice()->mutable_detected_at()->set_nanos(345'000'000);
  v1::ReportNoticeResponse res;
  ASSERT_TRUE(h.service.Report("Bearer agent-n1", r, &res).ok());
  EXPECT_TRUE(res.first_report());
  Json node = {{"metadata", {{"name", "n1"}, {"annotations", {{"spotguard.io/notice",
      Json{{"id", "aws-spot-terminate"}, {"cloud", "aws"}, {"kind", "eviction"},
           {"notBefore", "2027-01-15T08:02:00Z"}, {"detectedAt", "2027-01-15T08:00:00Z"}}.dump()}}}}}};
  h.state.ApplyNode(false, node);
  EXPECT_EQ(h.doomed, std::vector<std::string>{"aws-spot-terminate"});
  EXPECT_EQ(h.registry.Serialize().find("spotguard_notices_refused_total{"), std::string::npos);
}

// Verifies unauthenticated, wrong-node and malformed reports are refused with their codes
// and change nothing.
TEST(EvictionServiceTest, Refusals) {
  Harness h;
  v1::ReportNoticeResponse res;
  EXPECT_EQ(h.service.Report("", Request("n1", "x"), &res).error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(h.service.Report("Bearer forged", Request("n1", "x"), &res).error_code(), grpc::UNAUTHENTICATED);
  grpc::Status wrong = h.service.Report("Bearer agent-n1", Request("n2", "x"), &res);
  EXPECT_EQ(wrong.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_NE(wrong.error_message().find("only for its own node"), std::string::npos);
  EXPECT_EQ(h.service.Report("Bearer agent-n1", Request("", "x"), &res).error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(h.service.Report("Bearer agent-n1", Request("n1", ""), &res).error_code(), grpc::INVALID_ARGUMENT);
  v1::ReportNoticeRequest no_kind = Request("n1", "x");
  no_kind.mutable_notice()->set_kind(v1::NOTICE_KIND_UNSPECIFIED);
  EXPECT_EQ(h.service.Report("Bearer agent-n1", no_kind, &res).error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_TRUE(h.doomed.empty());
  EXPECT_FALSE(h.state.snapshot()->Node("n2")->doomed);
}

// Verifies every refusal is counted by its reason, and a peer past its budget of failed
// authentications is refused RESOURCE_EXHAUSTED, whatever its port, while a success already
// checked still serves it.
TEST(EvictionServiceTest, RefusalsCountedAndPeersLimited) {
  Harness h;
  v1::ReportNoticeResponse res;
  EXPECT_EQ(h.service.Report("Bearer agent-n1", Request("n2", "x"), &res, "ipv4:10.0.0.7:1").error_code(),
            grpc::PERMISSION_DENIED);
  for (int i = 0; i < 19; ++i) {
    EXPECT_EQ(h.service.Report(absl::StrCat("Bearer bad-", i), Request("n1", "x"), &res, "ipv4:10.0.0.7:1").error_code(),
              grpc::UNAUTHENTICATED);
  }
  EXPECT_EQ(h.service.Report("Bearer bad-x", Request("n1", "x"), &res, "ipv4:10.0.0.7:2").error_code(),
            grpc::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(h.service.Report("Bearer agent-n1", Request("n1", "y"), &res, "ipv4:10.0.0.7:3").ok());
  const std::string text = h.registry.Serialize();
  for (const char* series : {R"(spotguard_extender_auth_failures_total{reason="wrong_node"} 1)",
                             R"(spotguard_extender_auth_failures_total{reason="rejected"} 19)",
                             R"(spotguard_extender_auth_failures_total{reason="rate_limited"} 1)",
                             R"(spotguard_extender_authentications_total{method="cache"} 1)",
                             R"(spotguard_extender_grpc_requests_total{code="RESOURCE_EXHAUSTED",method="ReportNotice"} 1)"}) {
    EXPECT_NE(text.find(series), std::string::npos) << series << "\n" << text;
  }
}

}  // namespace
}  // namespace spotguard::extender
