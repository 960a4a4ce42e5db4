#include "extender/token_verifier.h"

#include <thread>

#include "gtest/gtest.h"
#include "test/fakes/fake_api_server.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/token_signer.h"

namespace spotguard::extender {
namespace {

using testing::FakeApiServer;
using testing::FakeClock;
using testing::PodTokenClaims;
using testing::PodTokenSpec;
using testing::TokenSigner;
using testing::UnsignedJwt;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";

struct Harness {
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  FakeApiServer api;
  std::unique_ptr<kube::KubeClient> kube = api.Client(clock);
  std::unique_ptr<TokenSigner> key = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  TokenVerifier verifier{{.audiences = {"spotguard"}}, *kube, clock};

  Harness() {
    // The discovery's jwks_uri names an address outside the cluster: the keys are read from
    // the API server's own path.
    api.Put("/.well-known/openid-configuration",
            {{"issuer", kIssuer}, {"jwks_uri", "https://oidc.example.invalid/openid/v1/jwks"}});
    Publish({key->Jwk()});
  }
  void Publish(std::vector<Json> keys) { api.Put("/openid/v1/jwks", {{"keys", keys}}); }
  std::string Sign(PodTokenSpec spec = {}) const { return key->Sign(PodTokenClaims(spec)); }
  std::string Reason(const std::string& token) {
    auto v = verifier.Verify(token);
    return v.ok() ? "ok" : AuthFailureReason(v.status());
  }
};

// Verifies a pod-bound token signed with the issuer's key yields its kubernetes.io claims,
// RS256 and ES256 alike, and the keys come from the API server's path, not jwks_uri.
TEST(TokenVerifierTest, ValidTokenClaims) {
  Harness h;
  auto ec = TokenSigner::Generate(TokenSigner::Alg::kES256, "e1");
  h.Publish({h.key->Jwk(), ec->Jwk()});
  for (const std::string& token : {h.Sign(), ec->Sign(PodTokenClaims({}))}) {
    auto t = h.verifier.Verify(token);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->username(), "system:serviceaccount:spotguard-system:spotguard-agent");
    EXPECT_EQ(t->service_account_uid, "uid-sa-spotguard-agent");
    EXPECT_EQ(t->pod, "agent-n1");
    EXPECT_EQ(t->pod_uid, "uid-agent-n1");
    EXPECT_EQ(t->node, "n1");
    EXPECT_EQ(t->expiry, absl::FromUnixSeconds(1'800'003'600));
  }
  EXPECT_EQ(h.verifier.issuer(), kIssuer);
  EXPECT_EQ(h.verifier.fetches(), 1);
  EXPECT_EQ(h.api.Count("GET", "/openid/v1/jwks"), 1);
  EXPECT_EQ(h.api.Count("GET", "/.well-known/openid-configuration"), 1);
}

// Verifies each way a token can fail is refused with its reason.
TEST(TokenVerifierTest, RefusalsByReason) {
  Harness h;
  ASSERT_TRUE(h.verifier.Refresh().ok());
  auto forger = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");  // another key, the issuer's kid
  const Json claims = PodTokenClaims({});
  EXPECT_EQ(h.Reason(forger->Sign(claims)), "bad_signature");
  EXPECT_EQ(h.Reason(UnsignedJwt({{"alg", "none"}, {"kid", "k1"}}, claims)), "bad_signature");
  EXPECT_EQ(h.Reason(UnsignedJwt({{"alg", "HS256"}, {"kid", "k1"}}, claims, std::string(32, 's'))), "bad_signature");
  EXPECT_EQ(h.Reason("not-a-jwt"), "malformed");
  EXPECT_EQ(h.Reason(h.key->Sign(claims, {{"kid", "k9"}})), "unknown_key");
  EXPECT_EQ(h.Reason(h.Sign({.issuer = "https://other.example"})), "wrong_issuer");
  EXPECT_EQ(h.Reason(h.Sign({.audiences = {kIssuer}})), "wrong_audience");
  // exp an hour ago; exp 30 s ago is inside the minute of leeway the API server allows too.
  EXPECT_EQ(h.Reason(h.Sign({.issued = h.clock.Now() - absl::Hours(2)})), "expired");
  EXPECT_EQ(h.Reason(h.Sign({.issued = h.clock.Now() - absl::Hours(1) - absl::Seconds(61)})), "expired");
  EXPECT_EQ(h.Reason(h.Sign({.issued = h.clock.Now() - absl::Hours(1) - absl::Seconds(30)})), "ok");
  EXPECT_EQ(h.Reason(h.Sign({.issued = h.clock.Now() + absl::Minutes(5)})), "not_yet_valid");
  Json no_exp = claims;
  no_exp.erase("exp");
  EXPECT_EQ(h.Reason(h.key->Sign(no_exp)), "malformed");
  Json legacy = claims;  // a Secret-based token's claims: no kubernetes.io object
  legacy.erase("kubernetes.io");
  legacy["kubernetes.io/serviceaccount/namespace"] = "spotguard-system";
  EXPECT_EQ(h.Reason(h.key->Sign(legacy)), "not_service_account");
  Json other_sub = claims;
  other_sub["sub"] = "system:serviceaccount:spotguard-system:someone-else";
  EXPECT_EQ(h.Reason(h.key->Sign(other_sub)), "not_service_account");
  auto s = h.verifier.Verify(forger->Sign(claims));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(h.verifier.Verify(h.key->Sign(legacy)).status().code(), absl::StatusCode::kPermissionDenied);
}

// Verifies a new kid (the issuer rotated its key) fetches the key set again at once, and
// unknown kids fetch at most once per min_refresh.
TEST(TokenVerifierTest, KeyRotationRefreshesOnUnknownKid) {
  Harness h;
  ASSERT_TRUE(h.verifier.Refresh().ok());
  h.clock.Advance(absl::Seconds(30));
  auto rotated = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k2");
  h.Publish({h.key->Jwk(), rotated->Jwk()});
  auto t = h.verifier.Verify(rotated->Sign(PodTokenClaims({.issued = h.clock.Now()})));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(h.verifier.fetches(), 2);
  // A kid nobody publishes: no fetch within min_refresh of the last one...
  auto stranger = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k3");
  EXPECT_EQ(h.Reason(stranger->Sign(PodTokenClaims({.issued = h.clock.Now()}))), "unknown_key");
  EXPECT_EQ(h.Reason(stranger->Sign(PodTokenClaims({.issued = h.clock.Now()}))), "unknown_key");
  EXPECT_EQ(h.verifier.fetches(), 2);
  // ... one after it.
  h.clock.Advance(absl::Seconds(10));
  EXPECT_EQ(h.Reason(stranger->Sign(PodTokenClaims({.issued = h.clock.Now()}))), "unknown_key");
  EXPECT_EQ(h.verifier.fetches(), 3);
  // A key the issuer dropped no longer verifies once the set is read again.
  h.Publish({rotated->Jwk()});
  ASSERT_TRUE(h.verifier.Refresh().ok());
  EXPECT_EQ(h.Reason(h.Sign({.issued = h.clock.Now()})), "unknown_key");
}

// Verifies that without keys (discovery or JWKS refused, failing, absent) Verify answers
// no_keys — the caller's cue for a TokenReview — trying again at most every min_refresh,
// and checks locally once they can be had.
TEST(TokenVerifierTest, NoKeysWhenDiscoveryOrJwksUnavailable) {
  for (int status : {403, 404, 500, 503}) {
    Harness h;
    h.api.Intercept([status](const HttpRequest& r) -> std::optional<HttpResponse> {
      if (r.path == "/openid/v1/jwks" || (status == 404 && r.path == "/.well-known/openid-configuration")) {
        return HttpResponse{.status = status, .body = "{}"};
      }
      return std::nullopt;
    });
    const std::string token = h.Sign();
    EXPECT_FALSE(h.verifier.Refresh().ok());
    h.clock.Advance(absl::Seconds(10));
    auto v = h.verifier.Verify(token);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_EQ(AuthFailureReason(v.status()), "no_keys") << status;
    EXPECT_EQ(h.Reason(token), "no_keys");
    EXPECT_EQ(h.verifier.fetches(), 2) << status;  // the refresh, then one inline fetch
    EXPECT_FALSE(h.verifier.has_keys());
    // Garbage is refused without asking for keys.
    EXPECT_EQ(h.Reason("garbage"), "malformed");
    h.api.Intercept(nullptr);
    h.clock.Advance(absl::Seconds(10));
    EXPECT_EQ(h.Reason(token), "ok") << status;
    EXPECT_EQ(h.verifier.fetches(), 3) << status;
  }
}

// Verifies a key set without usable keys counts as none, and keys once held are kept when a
// later refresh fails.
TEST(TokenVerifierTest, KeepsKeysWhenRefreshFails) {
  Harness h;
  h.Publish({{{"kty", "oct"}, {"kid", "k1"}, {"k", "c2VjcmV0"}}});
  EXPECT_FALSE(h.verifier.Refresh().ok());
  EXPECT_FALSE(h.verifier.has_keys());
  h.Publish({h.key->Jwk()});
  ASSERT_TRUE(h.verifier.Refresh().ok());
  h.api.Intercept([](const HttpRequest&) -> std::optional<HttpResponse> { return HttpResponse{.status = 503}; });
  EXPECT_FALSE(h.verifier.Refresh().ok());
  EXPECT_EQ(h.Reason(h.Sign()), "ok");
}

// Verifies Run reads the keys at once, then every `refresh`, on the injected clock.
TEST(TokenVerifierTest, RunRefreshesPeriodically) {
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  FakeApiServer api;
  auto kube = api.Client(clock);
  auto key = TokenSigner::Generate(TokenSigner::Alg::kES256, "e1");
  api.Put("/.well-known/openid-configuration", {{"issuer", kIssuer}});
  api.Put("/openid/v1/jwks", {{"keys", {key->Jwk()}}});
  TokenVerifier verifier({.refresh = absl::Minutes(5)}, *kube, clock);
  StopSignal stop;
  std::thread run([&] { verifier.Run(stop); });
  ASSERT_TRUE(clock.WaitForSleeps(1));
  EXPECT_EQ(verifier.fetches(), 1);
  EXPECT_TRUE(verifier.has_keys());
  EXPECT_EQ(clock.sleeps().back(), absl::Minutes(5));
  clock.Advance(absl::Minutes(5));
  ASSERT_TRUE(clock.WaitForSleeps(2));
  EXPECT_EQ(verifier.fetches(), 2);
  stop.Stop();
  run.join();
}

}  // namespace
}  // namespace spotguard::extender
