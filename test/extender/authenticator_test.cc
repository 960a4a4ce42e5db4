#include "extender/authenticator.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_api_server.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::extender {
namespace {

using testing::FakeApiServer;
using testing::FakeClock;
using Json = nlohmann::json;

// A JWT-shaped token whose payload carries `exp` (the signature is the API server's business).
std::string Token(const std::string& who, int64_t exp) {
  return absl::StrCat("hdr.", absl::WebSafeBase64Escape(Json{{"sub", who}, {"exp", exp}}.dump()), ".sig");
}

struct Harness {
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  FakeApiServer api;
  std::unique_ptr<kube::KubeClient> kube = api.Client(clock);
  Authenticator auth{{.audiences = {"spotguard"}, .allowed_service_accounts = {"spotguard-system/spotguard-agent"}},
                     *kube, clock};
  Harness() {
    api.SetTokenReview([](const std::string& token) -> Json {
      auto payload = [&]() -> Json {
        std::vector<std::string> parts = absl::StrSplit(token, '.');
        std::string raw;
        if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &raw)) return Json::object();
        return Json::parse(raw, nullptr, false);
      }();
      std::string who = payload.value("sub", "");
      if (who == "agent-on-n1") {
        return {{"authenticated", true}, {"audiences", {"spotguard"}},
                {"user", {{"username", "system:serviceaccount:spotguard-system:spotguard-agent"},
                          {"extra", {{"authentication.kubernetes.io/pod-name", {"agent-x"}},
                                     {"authentication.kubernetes.io/node-name", {"n1"}}}}}}};
      }
      if (who == "old-apiserver") {  // no node in the token: the pod is asked
        return {{"authenticated", true},
                {"user", {{"username", "system:serviceaccount:spotguard-system:spotguard-agent"},
                          {"extra", {{"authentication.kubernetes.io/pod-name", {"agent-y"}}}}}}};
      }
      if (who == "other-sa") {
        return {{"authenticated", true}, {"user", {{"username", "system:serviceaccount:default:builder"}}}};
      }
      if (who == "a-human") return {{"authenticated", true}, {"user", {{"username", "alice@example.com"}}}};
      return {{"authenticated", false}, {"error", "token has expired"}};
    });
    api.Put("/api/v1/namespaces/spotguard-system/pods/agent-y", {{"metadata", {{"name", "agent-y"}}}, {"spec", {{"nodeName", "n2"}}}});
  }
};

// Verifies a valid agent token yields its pod and node, and is cached until it expires.
TEST(AuthenticatorTest, ValidTokenCachedUntilExpiry) {
  Harness h;
  std::string token = Token("agent-on-n1", 1'800'000'300);
  auto c = h.auth.Authenticate("Bearer " + token);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node, "n1");
  EXPECT_EQ(c->pod, "agent-x");
  ASSERT_TRUE(h.auth.Authenticate("Bearer " + token).ok());
  EXPECT_EQ(h.auth.reviews(), 1);
  h.clock.Advance(absl::Minutes(5) + absl::Seconds(1));  // past the token's exp (300 s)
  ASSERT_TRUE(h.auth.Authenticate("Bearer " + token).ok());
  EXPECT_EQ(h.auth.reviews(), 2);
}

// Verifies the node comes from the pod when the token does not carry it.
TEST(AuthenticatorTest, NodeFromPodOnOlderApiServers) {
  Harness h;
  auto c = h.auth.Authenticate("Bearer " + Token("old-apiserver", 1'800'000'300));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node, "n2");
}

// Verifies each refusal and its code.
TEST(AuthenticatorTest, Refusals) {
  Harness h;
  EXPECT_EQ(h.auth.Authenticate("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(h.auth.Authenticate("Basic dXNlcg==").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(h.auth.Authenticate("Bearer ").status().code(), absl::StatusCode::kUnauthenticated);
  auto expired = h.auth.Authenticate("Bearer " + Token("nobody", 1));
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(expired.status().message().find("token has expired"), absl::string_view::npos);
  EXPECT_EQ(h.auth.Authenticate("Bearer " + Token("other-sa", 1'800'000'300)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(h.auth.Authenticate("Bearer " + Token("a-human", 1'800'000'300)).status().code(),
            absl::StatusCode::kPermissionDenied);
  h.api.Intercept([](const HttpRequest&) -> std::optional<HttpResponse> { return HttpResponse{.status = 503}; });
  EXPECT_EQ(h.auth.Authenticate("Bearer " + Token("agent-on-n1", 1'800'000'300)).status().code(),
            absl::StatusCode::kUnavailable);
}

// Verifies the unverified exp claim is read only when well-formed.
TEST(AuthenticatorTest, JwtExpiry) {
  EXPECT_EQ(JwtExpiry(Token("x", 1234)), absl::FromUnixSeconds(1234));
  EXPECT_EQ(JwtExpiry("not-a-jwt"), std::nullopt);
  EXPECT_EQ(JwtExpiry("a.!!!.c"), std::nullopt);
}

}  // namespace
}  // namespace spotguard::extender
