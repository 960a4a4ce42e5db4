// spotguard-extender's EvictionService authentication end to end: the real binary under its
// RBAC against the real API server, which issues the agents' tokens and publishes its
// service-account issuer's keys. Each bad caller is refused with its gRPC code and counted
// under its reason in /metrics; good tokens are checked with the issuer's keys (method
// "jwks"), not by TokenReview.
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/jwt.h"
#include "common/kube/resources.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "spotguard/v1/eviction.grpc.pb.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"
#include "test/fakes/token_signer.h"

namespace spotguard::e2e {
namespace {

namespace v1 = spotguard::v1;
using testing::TokenSigner;

RunningExtender* g_extender = nullptr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ExtenderAuthE2E : public E2ETest {
 protected:
  static void SetUpTestSuite() {
    if (!ControlPlaneEnvironment::status().ok()) return;
    ControlPlane& cp = ControlPlaneEnvironment::Get();
    ASSERT_TRUE(ApplyAgentRbac(cp).ok());
    ASSERT_TRUE(ApplyExtenderRbac(cp).ok());
    auto ext = StartExtender(cp);
    ASSERT_TRUE(ext.ok()) << ext.status();
    g_extender = new RunningExtender(std::move(*ext));
    // The keys are read at start-up; until then tokens would go to a TokenReview.
    auto loaded = g_extender->process->WaitForLine(
        [](absl::string_view l) { return absl::StrContains(l, "service-account issuer keys loaded"); });
    ASSERT_TRUE(loaded.ok()) << loaded.status();
  }
  static void TearDownTestSuite() {
    delete g_extender;
    g_extender = nullptr;
  }
  void SetUp() override {
    E2ETest::SetUp();
    ASSERT_NE(g_extender, nullptr);
  }

  // A node with an agent pod and its pod-bound token (audience "spotguard").
  struct Agent {
    std::string node, pod, token;
  };
  Agent AddAgent() {
    NodeSpec spec{.name = UniqueName("auth-node"), .kind = NodeKind::kEksSpot};
    auto creds = ProvisionAgent(cp(), spec);
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return {};
    return {spec.name, creds->pod, ReadFile(creds->report_token_path)};
  }

  // ReportNotice as an agent sends it, with `token` as its bearer token.
  grpc::Status Report(const std::string& token, const std::string& node) {
    auto stub = v1::EvictionService::NewStub(
        grpc_tls::NewChannel(g_extender->grpc_address, AgentChannel(*g_extender)));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ReportNoticeRequest req;
    req.mutable_node()->set_name(node);
    req.mutable_notice()->set_id(UniqueName("auth-itn"));
    req.mutable_notice()->set_cloud(v1::CLOUD_AWS);
    req.mutable_notice()->set_kind(v1::NOTICE_KIND_EVICTION);
    req.mutable_notice()->set_action("cordon");
    req.mutable_notice()->mutable_not_before()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
    v1::ReportNoticeResponse res;
    return stub->ReportNotice(&ctx, req, &res);
  }

  // One series of the extender's /metrics, 0 when absent.
  double Metric(const std::string& series) {
    const std::string metrics = ScrapeExtender(*g_extender);
    if (metrics.empty()) return -1;
    for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
      double v = 0;
      if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ") && absl::SimpleAtod(line, &v)) return v;
    }
    return 0;
  }
  double Failures(const std::string& reason) {
    return Metric(absl::StrCat("spotguard_extender_auth_failures_total{reason=\"", reason, "\"}"));
  }
  double Successes(const std::string& method) {
    return Metric(absl::StrCat("spotguard_extender_authentications_total{method=\"", method, "\"}"));
  }

  // Expects `token` reporting for `node` to be refused with `code`, counted once under `reason`.
  void ExpectRefused(const std::string& token, const std::string& node, grpc::StatusCode code,
                     const std::string& reason) {
    const double before = Failures(reason);
    grpc::Status s = Report(token, node);
    EXPECT_EQ(s.error_code(), code) << reason << ": " << s.error_message();
    EXPECT_EQ(Failures(reason), before + 1) << reason;
  }

  // The real token's header and claims.
  static jwt::Token Decode(const std::string& token) {
    auto t = jwt::Parse(token);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : jwt::Token{};
  }
};

// Verifies the API server serves its issuer's discovery document and keys to the extender's
// ServiceAccount (the default system:service-account-issuer-discovery binding and the
// extender's ClusterRole), the keys name the tokens' kid, and an agent's own token for its
// own node is let in, checked with those keys — no TokenReview.
TEST_F(ExtenderAuthE2E, AgentTokenCheckedWithIssuerKeys) {
  auto binding = admin().Get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:service-account-issuer-discovery");
  ASSERT_TRUE(binding.ok()) << binding.status();
  EXPECT_EQ((*binding)["subjects"][0]["name"], "system:serviceaccounts");
  auto sa_token = kube::RequestToken(admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-extender"});
  ASSERT_TRUE(sa_token.ok()) << sa_token.status();
  auto as_extender = cp().ClientWithToken(sa_token->first);
  ASSERT_TRUE(as_extender.ok());
  auto discovery = (*as_extender)->Get("/.well-known/openid-configuration");
  ASSERT_TRUE(discovery.ok()) << discovery.status();
  EXPECT_EQ((*discovery)["issuer"], "https://kubernetes.default.svc.cluster.local");
  auto jwks = (*as_extender)->Get("/openid/v1/jwks", {.accept = "application/jwk-set+json"});
  ASSERT_TRUE(jwks.ok()) << jwks.status();
  Agent a = AddAgent();
  jwt::Token real = Decode(a.token);
  auto keys = jwt::KeySet::Parse(*jwks);
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->Has(real.kid));
  EXPECT_EQ(real.claims["kubernetes.io"]["pod"]["name"], a.pod);
  EXPECT_EQ(real.claims["kubernetes.io"]["node"]["name"], a.node);

  const double jwks_before = Successes("jwks");
  grpc::Status s = Report(a.token, a.node);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Successes("jwks"), jwks_before + 1);
  ASSERT_TRUE(Report(a.token, a.node).ok());
  EXPECT_GE(Successes("cache"), 1);
  EXPECT_EQ(Successes("token_review"), 0);
  EXPECT_EQ(Failures("unavailable"), 0);
}

// Verifies a token signed with a key of the caller's own — under the issuer's kid, or another
// kid — is refused UNAUTHENTICATED as bad_signature and unknown_key.
TEST_F(ExtenderAuthE2E, ForgedTokenRefused) {
  Agent a = AddAgent();
  jwt::Token real = Decode(a.token);
  auto forger = TokenSigner::Generate(TokenSigner::Alg::kRS256, real.kid);
  ExpectRefused(forger->Sign(real.claims), a.node, grpc::UNAUTHENTICATED, "bad_signature");
  ExpectRefused(forger->Sign(real.claims, {{"kid", "forger-key"}}), a.node, grpc::UNAUTHENTICATED, "unknown_key");
}

// Verifies a token signed with the issuer's own key (pki/sa.key) is refused as expired once
// past its exp — the TokenRequest API refuses lifetimes under 10 minutes, so this one is
// signed here — while the same key with a current exp is let in.
TEST_F(ExtenderAuthE2E, ExpiredTokenRefused) {
  Agent a = AddAgent();
  jwt::Token real = Decode(a.token);
  auto issuer = TokenSigner::FromPem(ReadFile(cp().dir() + "/pki/sa.key"), real.kid);
  ASSERT_TRUE(issuer.ok()) << issuer.status();
  jwt::Json expired = real.claims;
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  expired["iat"] = now - 7200;
  expired["nbf"] = now - 7200;
  expired["exp"] = now - 3600;
  ExpectRefused((*issuer)->Sign(expired), a.node, grpc::UNAUTHENTICATED, "expired");
  jwt::Json current = real.claims;
  current["exp"] = now + 600;
  grpc::Status s = Report((*issuer)->Sign(current), a.node);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Verifies a real token of the agent's pod for the API server's audience is refused as
// wrong_audience.
TEST_F(ExtenderAuthE2E, WrongAudienceRefused) {
  Agent a = AddAgent();
  auto pod = admin().Get(absl::StrCat("/api/v1/namespaces/spotguard-system/pods/", a.pod));
  ASSERT_TRUE(pod.ok());
  auto api_token = kube::RequestToken(admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-agent",
                                                .audiences = {"https://kubernetes.default.svc.cluster.local"},
                                                .bound_pod_name = a.pod,
                                                .bound_pod_uid = (*pod)["metadata"]["uid"]});
  ASSERT_TRUE(api_token.ok()) << api_token.status();
  ExpectRefused(api_token->first, a.node, grpc::UNAUTHENTICATED, "wrong_audience");
}

// Verifies node A's agent cannot report for node B.
TEST_F(ExtenderAuthE2E, WrongNodeRefused) {
  Agent a = AddAgent();
  Agent b = AddAgent();
  ExpectRefused(a.token, b.node, grpc::PERMISSION_DENIED, "wrong_node");
  EXPECT_TRUE(Report(b.token, b.node).ok());
}

// Verifies a token stops working once its bound pod is deleted, though it was let in (and
// cached) before.
TEST_F(ExtenderAuthE2E, DeletedPodRefused) {
  Agent a = AddAgent();
  ASSERT_TRUE(Report(a.token, a.node).ok());
  const double before = Failures("pod_gone");
  ASSERT_TRUE(kube::DeletePod(admin(), "spotguard-system", a.pod, 0).ok());
  ASSERT_TRUE(WaitForObject(admin(), "/api/v1/namespaces/spotguard-system/pods", a.pod,
                            [](const Json& p) { return p.is_null(); }).ok());
  // The extender learns of it from its watch: report until it has.
  grpc::Status s;
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while ((s = Report(a.token, a.node)).ok() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(s.error_code(), grpc::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(Failures("pod_gone"), before + 1);
}

}  // namespace
}  // namespace spotguard::e2e
