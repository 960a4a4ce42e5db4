#include "extender/authenticator.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
constexpr char kPods[] = "/api/v1/namespaces/spotguard-system/pods";

// A JWT-shaped token whose payload carries `exp` (the signature is the API server's business).
std::string Token(const std::string& who, int64_t exp) {
  return absl::StrCat("hdr.", absl::WebSafeBase64Escape(Json{{"sub", who}, {"exp", exp}}.dump()), ".sig");
}

Json Pod(const std::string& name, const std::string& uid, const std::string& node) {
  return {{"metadata", {{"name", name}, {"namespace", "spotguard-system"}, {"uid", uid}}},
          {"spec", {{"nodeName", node}, {"serviceAccountName", "spotguard-agent"}}}};
}

// The value of one series in the Prometheus text exposition, 0 when absent.
double Value(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    double v = 0;
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ") && absl::SimpleAtod(line, &v)) return v;
  }
  return 0;
}

struct Setup {
  bool local = true;  // a TokenVerifier and the agent pods' watch; else TokenReviews only
  AuthenticatorOptions options = {.audiences = {"spotguard"},
                                  .allowed_service_accounts = {"spotguard-system/spotguard-agent"}};
  kube::ClientOptions reviews_client = {.qps = 0, .max_attempts = 1};
};

struct Harness {
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  FakeApiServer api;
  std::unique_ptr<kube::KubeClient> reviews_kube;
  MetricsRegistry registry;
  ExtenderMetrics metrics{registry};
  std::unique_ptr<TokenSigner> key = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  std::unique_ptr<TokenVerifier> verifier;
  std::unique_ptr<AgentPods> pods;
  std::unique_ptr<Authenticator> auth;

  explicit Harness(Setup setup = {}) {
    reviews_kube = api.Client(clock, setup.reviews_client);
    api.SetTokenReview([](const std::string& token) -> Json {
      auto payload = [&]() -> Json {
        std::vector<std::string> parts = absl::StrSplit(token, '.');
        std::string raw;
        if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &raw)) return Json::object();
        return Json::parse(raw, nullptr, false);
      }();
      if (!payload.is_object()) return {{"authenticated", false}, {"error", "invalid bearer token"}};
      if (payload.contains("kubernetes.io")) {  // a signed token, as the API server would see it
        const Json& k = payload["kubernetes.io"];
        Json extra = Json::object();
        if (k.contains("pod")) {
          extra["authentication.kubernetes.io/pod-name"] = {k["pod"]["name"]};
          extra["authentication.kubernetes.io/pod-uid"] = {k["pod"]["uid"]};
        }
        if (k.contains("node")) extra["authentication.kubernetes.io/node-name"] = {k["node"]["name"]};
        return {{"authenticated", true},
                {"user", {{"username", payload["sub"]}, {"extra", extra}}}};
      }
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
    api.Put(absl::StrCat(kPods, "/agent-y"), {{"metadata", {{"name", "agent-y"}}}, {"spec", {{"nodeName", "n2"}}}});
    api.Put("/.well-known/openid-configuration", {{"issuer", kIssuer}, {"jwks_uri", "https://oidc.example.invalid/keys"}});
    api.Put("/openid/v1/jwks", {{"keys", {key->Jwk()}}});
    if (setup.local) {
      verifier = std::make_unique<TokenVerifier>(TokenVerifierOptions{.audiences = {"spotguard"}}, *reviews_kube, clock);
      pods = std::make_unique<AgentPods>(*reviews_kube, kube::ListWatchSpec{.path = kPods});
      pods->Replace({Pod("agent-n1", "uid-agent-n1", "n1"), Pod("agent-n2", "uid-agent-n2", "n2")});
    }
    auth = std::make_unique<Authenticator>(setup.options, *reviews_kube, verifier.get(), pods.get(), clock, metrics);
  }

  std::string Sign(PodTokenSpec spec = {}) const { return key->Sign(PodTokenClaims(spec)); }
  absl::StatusOr<Caller> Call(const std::string& token, const std::string& peer = "ipv4:10.0.0.1:40000") {
    return auth->Authenticate("Bearer " + token, peer);
  }
  std::string Reason(const std::string& token, const std::string& peer = "ipv4:10.0.0.1:40000") {
    auto c = Call(token, peer);
    return c.ok() ? "ok" : AuthFailureReason(c.status());
  }
  double Failures(const std::string& reason) const {
    return Value(registry.Serialize(), absl::StrCat("spotguard_extender_auth_failures_total{reason=\"", reason, "\"}"));
  }
  double Successes(const std::string& method) const {
    return Value(registry.Serialize(), absl::StrCat("spotguard_extender_authentications_total{method=\"", method, "\"}"));
  }
};

// --- TokenReview only (no keys to check with) ---------------------------------------------

// Verifies a valid agent token yields its pod and node, and is cached until it expires.
TEST(AuthenticatorTest, ValidTokenCachedUntilExpiry) {
  Harness h({.local = false});
  std::string token = Token("agent-on-n1", 1'800'000'300);
  auto c = h.auth->Authenticate("Bearer " + token);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node, "n1");
  EXPECT_EQ(c->pod, "agent-x");
  EXPECT_EQ(c->method, "token_review");
  ASSERT_TRUE(h.auth->Authenticate("Bearer " + token).ok());
  EXPECT_EQ(h.auth->reviews(), 1);
  h.clock.Advance(absl::Minutes(5) + absl::Seconds(1));  // past the token's exp (300 s)
  ASSERT_TRUE(h.auth->Authenticate("Bearer " + token).ok());
  EXPECT_EQ(h.auth->reviews(), 2);
  EXPECT_EQ(h.Successes("token_review"), 2);
  EXPECT_EQ(h.Successes("cache"), 1);
}

// Verifies the node comes from the pod when the token does not carry it.
TEST(AuthenticatorTest, NodeFromPodOnOlderApiServers) {
  Harness h({.local = false});
  auto c = h.auth->Authenticate("Bearer " + Token("old-apiserver", 1'800'000'300));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node, "n2");
}

// Verifies each refusal, its code and the reason it is counted under.
TEST(AuthenticatorTest, Refusals) {
  Harness h({.local = false});
  auto expect = [&](absl::string_view authorization, absl::StatusCode code, const std::string& reason) {
    auto c = h.auth->Authenticate(authorization);
    EXPECT_EQ(c.status().code(), code) << authorization;
    EXPECT_EQ(AuthFailureReason(c.status()), reason) << authorization;
    return c.status();
  };
  expect("", absl::StatusCode::kUnauthenticated, "no_token");
  expect("Basic dXNlcg==", absl::StatusCode::kUnauthenticated, "no_token");
  expect("Bearer ", absl::StatusCode::kUnauthenticated, "no_token");
  absl::Status expired = expect("Bearer " + Token("nobody", 1), absl::StatusCode::kUnauthenticated, "rejected");
  EXPECT_NE(expired.message().find("token has expired"), absl::string_view::npos);
  expect("Bearer " + Token("other-sa", 1'800'000'300), absl::StatusCode::kPermissionDenied, "not_allowed");
  expect("Bearer " + Token("a-human", 1'800'000'300), absl::StatusCode::kPermissionDenied, "not_service_account");
  h.api.Intercept([](const HttpRequest&) -> std::optional<HttpResponse> { return HttpResponse{.status = 503}; });
  expect("Bearer " + Token("agent-on-n1", 1'800'000'300), absl::StatusCode::kUnavailable, "unavailable");
  EXPECT_EQ(h.Failures("no_token"), 3);
  EXPECT_EQ(h.Failures("rejected"), 1);
  EXPECT_EQ(h.Failures("not_allowed"), 1);
  EXPECT_EQ(h.Failures("not_service_account"), 1);
  EXPECT_EQ(h.Failures("unavailable"), 1);
}

// Verifies the unverified exp claim is read only when well-formed.
TEST(AuthenticatorTest, JwtExpiry) {
  EXPECT_EQ(JwtExpiry(Token("x", 1234)), absl::FromUnixSeconds(1234));
  EXPECT_EQ(JwtExpiry("not-a-jwt"), std::nullopt);
  EXPECT_EQ(JwtExpiry("a.!!!.c"), std::nullopt);
}

// Verifies the peer is limited by host, whatever the port.
TEST(AuthenticatorTest, PeerHost) {
  EXPECT_EQ(PeerHost("ipv4:10.0.0.5:41234"), "10.0.0.5");
  EXPECT_EQ(PeerHost("ipv6:[fd00::1]:41234"), "fd00::1");
  EXPECT_EQ(PeerHost("ipv6:%5B::1%5D:5"), "::1");
  EXPECT_EQ(PeerHost("unix:/run/x.sock"), "unix:/run/x.sock");
  EXPECT_EQ(PeerHost(""), "");
}

// --- Checked here, against the issuer's keys and the agent pods' watch ---------------------

// Verifies a valid pod-bound token is let in without a TokenReview or a pod read, and its
// next use comes from the cache.
TEST(AuthenticatorTest, LocalCheckNeedsNoApiCall) {
  Harness h;
  const std::string token = h.Sign();
  auto c = h.Call(token);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->username, "system:serviceaccount:spotguard-system:spotguard-agent");
  EXPECT_EQ(c->pod, "agent-n1");
  EXPECT_EQ(c->pod_uid, "uid-agent-n1");
  EXPECT_EQ(c->node, "n1");
  EXPECT_EQ(c->method, "jwks");
  auto again = h.Call(token);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->method, "cache");
  EXPECT_EQ(h.auth->reviews(), 0);
  EXPECT_EQ(h.auth->pod_reads(), 0);
  EXPECT_EQ(h.api.Count("POST", "tokenreviews"), 0);
  EXPECT_EQ(h.Successes("jwks"), 1);
  EXPECT_EQ(h.Successes("cache"), 1);
  // A token names no node on API servers before 1.30: the pod's node is the caller's.
  auto old = h.Call(h.Sign({.pod = "agent-n2", .pod_uid = "uid-agent-n2", .node = ""}));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->node, "n2");
}

// Verifies forged, unknown-key, unsigned, expired, premature, foreign and misaddressed
// tokens are refused here, each counted under its reason, none reaching the API server.
TEST(AuthenticatorTest, LocalRefusalsByReason) {
  Harness h;
  auto forger = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  const Json claims = PodTokenClaims({});
  const std::pair<std::string, std::string> cases[] = {
      {forger->Sign(claims), "bad_signature"},
      {forger->Sign(claims, {{"kid", "k-unknown"}}), "unknown_key"},
      {UnsignedJwt({{"alg", "none"}, {"kid", "k1"}}, claims), "bad_signature"},
      {"garbage", "malformed"},
      {h.Sign({.issued = h.clock.Now() - absl::Hours(3)}), "expired"},
      {h.Sign({.issued = h.clock.Now() + absl::Hours(1)}), "not_yet_valid"},
      {h.Sign({.issuer = "https://evil.example"}), "wrong_issuer"},
      {h.Sign({.audiences = {kIssuer}}), "wrong_audience"},
  };
  for (const auto& [token, reason] : cases) {
    auto c = h.Call(token);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << reason;
    EXPECT_EQ(AuthFailureReason(c.status()), reason);
    EXPECT_EQ(h.Failures(reason), reason == "bad_signature" ? (token == cases[0].first ? 1 : 2) : 1) << reason;
  }
  auto builder = h.Call(h.Sign({.namespace_ = "default", .service_account = "builder"}));
  EXPECT_EQ(builder.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthFailureReason(builder.status()), "not_allowed");
  EXPECT_EQ(h.api.Count("POST", "tokenreviews"), 0);
  EXPECT_EQ(h.auth->pod_reads(), 0);
}

// Verifies a token stops working as soon as the watch sees its pod deleted — even from the
// cache — and a token whose pod is past its deletionTimestamp is refused.
TEST(AuthenticatorTest, DeletedPodRefusedAtOnce) {
  Harness h;
  const std::string token = h.Sign();
  ASSERT_TRUE(h.Call(token).ok());
  ASSERT_TRUE(h.Call(token).ok());  // cached
  h.pods->Apply(/*deleted=*/true, Pod("agent-n1", "uid-agent-n1", "n1"));
  auto gone = h.Call(token);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthFailureReason(gone.status()), "pod_gone");
  EXPECT_EQ(h.auth->pod_reads(), 1);  // not in the watch: the API server confirmed it (404)
  // Terminating: refused once past its deletionTimestamp, not before.
  Json terminating = Pod("agent-n2", "uid-agent-n2", "n2");
  terminating["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:30Z";  // now + 30 s
  h.pods->Apply(false, terminating);
  const std::string n2 = h.Sign({.pod = "agent-n2", .pod_uid = "uid-agent-n2", .node = "n2"});
  ASSERT_TRUE(h.Call(n2).ok());
  h.clock.Advance(absl::Seconds(30));
  EXPECT_EQ(h.Reason(n2), "pod_gone");
  EXPECT_EQ(h.Failures("pod_gone"), 2);
}

// Verifies a token of a pod since recreated under the same name (another uid) is refused,
// after the API server confirms the watch.
TEST(AuthenticatorTest, RecreatedPodUidMismatch) {
  Harness h;
  h.pods->Apply(false, Pod("agent-n1", "uid-new", "n1"));
  h.api.Put(absl::StrCat(kPods, "/agent-n1"), Pod("agent-n1", "uid-new", "n1"));
  auto c = h.Call(h.Sign());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthFailureReason(c.status()), "pod_uid_mismatch");
  EXPECT_EQ(h.auth->pod_reads(), 1);
}

// Verifies a token whose pod runs on another node than the token names is refused, and an
// agent may speak only for its own node.
TEST(AuthenticatorTest, WrongNode) {
  Harness h;
  h.pods->Apply(false, Pod("agent-n1", "uid-agent-n1", "n2"));
  auto moved = h.Call(h.Sign());
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthFailureReason(moved.status()), "wrong_node");
  Harness g;
  const std::string token = g.Sign();
  auto other = g.auth->Authorize("Bearer " + token, "ipv4:10.0.0.1:1", "n2");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthFailureReason(other.status()), "wrong_node");
  EXPECT_NE(other.status().message().find("only for its own node"), absl::string_view::npos);
  EXPECT_TRUE(g.auth->Authorize("Bearer " + token, "ipv4:10.0.0.1:1", "n1").ok());
  EXPECT_EQ(g.Failures("wrong_node"), 1);
}

// Verifies a pod the watch does not show yet (just created) is read from the API server once.
TEST(AuthenticatorTest, PodNotYetInWatchReadOnce) {
  Harness h;
  h.api.Put(absl::StrCat(kPods, "/agent-n3"), Pod("agent-n3", "uid-agent-n3", "n3"));
  const std::string token = h.Sign({.pod = "agent-n3", .pod_uid = "uid-agent-n3", .node = "n3"});
  auto c = h.Call(token);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node, "n3");
  ASSERT_TRUE(h.Call(token).ok());
  EXPECT_EQ(h.auth->pod_reads(), 1);
  EXPECT_EQ(h.auth->reviews(), 0);
}

// Verifies that when the issuer's keys cannot be had, tokens go to a TokenReview — and so do
// tokens bound to no pod, which only the API server can vouch for.
TEST(AuthenticatorTest, FallsBackToTokenReviewWithoutKeys) {
  Harness h;
  h.api.Intercept([](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.path == "/openid/v1/jwks") return HttpResponse{.status = 403, .body = "{}"};
    return std::nullopt;
  });
  auto c = h.Call(h.Sign());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->method, "token_review");
  EXPECT_EQ(c->node, "n1");
  EXPECT_EQ(h.auth->reviews(), 1);
  EXPECT_EQ(h.Successes("token_review"), 1);
  h.api.Intercept(nullptr);
  h.clock.Advance(absl::Seconds(10));
  Json unbound = PodTokenClaims({.issued = h.clock.Now()});
  unbound["kubernetes.io"].erase("pod");
  unbound["kubernetes.io"].erase("node");
  auto u = h.Call(h.key->Sign(unbound));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->method, "token_review");
  EXPECT_EQ(u->node, "");
  EXPECT_EQ(h.auth->reviews(), 2);
  auto local = h.Call(h.Sign({.issued = h.clock.Now()}));
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->method, "jwks");
  EXPECT_EQ(h.auth->reviews(), 2);
}

// Verifies a refused token is refused again from memory for failure_ttl: no second
// signature check, no second TokenReview — yet counted each time.
TEST(AuthenticatorTest, RefusalsCachedBriefly) {
  Harness h;
  auto forger = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  const std::string forged = forger->Sign(PodTokenClaims({}));
  EXPECT_EQ(h.Reason(forged), "bad_signature");
  EXPECT_EQ(h.Reason(forged), "bad_signature");
  EXPECT_EQ(h.verifier->signature_checks(), 1);
  EXPECT_EQ(h.Failures("bad_signature"), 2);
  h.clock.Advance(absl::Seconds(30));
  EXPECT_EQ(h.Reason(forged), "bad_signature");
  EXPECT_EQ(h.verifier->signature_checks(), 2);

  Harness r({.local = false});
  const std::string rejected = Token("nobody", 1);
  EXPECT_EQ(r.Reason(rejected), "rejected");
  EXPECT_EQ(r.Reason(rejected), "rejected");
  EXPECT_EQ(r.auth->reviews(), 1);
  // The API server being unreachable is not the token's fault: not remembered.
  r.api.Intercept([](const HttpRequest&) -> std::optional<HttpResponse> { return HttpResponse{.status = 503}; });
  const std::string later = Token("agent-on-n1", 1'800'000'300);
  EXPECT_EQ(r.Reason(later), "unavailable");
  r.api.Intercept(nullptr);
  EXPECT_EQ(r.Reason(later), "ok");
}

// Verifies a TokenReview that would wait past api_wait for the reviews client's budget is not
// sent: UNAVAILABLE at once, not remembered, not held against the peer.
TEST(AuthenticatorTest, ReviewBudgetSpentIsUnavailableNotQueued) {
  Harness h({.local = false,
             .options = {.audiences = {"spotguard"}, .peer_failure_burst = 1, .api_wait = absl::ZeroDuration()},
             .reviews_client = {.qps = 1, .burst = 1, .max_attempts = 1}});
  EXPECT_EQ(h.Reason(Token("bot-1", 1)), "rejected");
  h.clock.Advance(absl::Seconds(1));
  const std::string token = Token("agent-on-n1", 1'800'000'300);
  auto c = h.Call(token);
  EXPECT_EQ(h.Reason(Token("bot-2", 1)), "unavailable");
  EXPECT_EQ(h.Reason(Token("bot-3", 1)), "unavailable");
  EXPECT_EQ(h.api.Count("POST", "tokenreviews"), 2);
  ASSERT_TRUE(c.ok()) << c.status();
  h.clock.Advance(absl::Seconds(1));
  EXPECT_EQ(h.Reason(Token("bot-2", 1)), "rejected");
}

// Verifies a peer past its failure budget is refused RESOURCE_EXHAUSTED without any check,
// whatever its port; other peers and its cached successes are not affected; it earns a
// check back as its bucket refills.
TEST(AuthenticatorTest, FailuresRateLimitedPerPeer) {
  Harness h({.options = {.audiences = {"spotguard"},
                         .allowed_service_accounts = {"spotguard-system/spotguard-agent"},
                         .peer_failure_qps = 1,
                         .peer_failure_burst = 3,
                         .max_peers = 3}});
  auto forger = TokenSigner::Generate(TokenSigner::Alg::kRS256, "k1");
  auto forged = [&](int i) { return forger->Sign(PodTokenClaims({.pod = absl::StrCat("p", i)})); };
  const std::string good = h.Sign();
  ASSERT_TRUE(h.Call(good, "ipv4:10.0.0.9:1000").ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.Reason(forged(i), "ipv4:10.0.0.9:1000"), "bad_signature");
  EXPECT_EQ(h.verifier->signature_checks(), 4);
  auto limited = h.Call(forged(3), "ipv4:10.0.0.9:2000");
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(AuthFailureReason(limited.status()), "rate_limited");
  EXPECT_EQ(h.Reason(h.Sign({.pod = "agent-n2", .pod_uid = "uid-agent-n2", .node = "n2"}), "ipv4:10.0.0.9:1"),
            "rate_limited");
  EXPECT_EQ(h.Reason("", "ipv4:10.0.0.9:1"), "rate_limited");
  EXPECT_EQ(h.verifier->signature_checks(), 4);  // no work for a limited peer
  EXPECT_EQ(h.Reason(good, "ipv4:10.0.0.9:3000"), "ok");  // its cached success still serves
  EXPECT_EQ(h.Reason(forged(4), "ipv4:10.0.0.10:1000"), "bad_signature");  // another peer
  EXPECT_EQ(h.Failures("rate_limited"), 3);
  h.clock.Advance(absl::Seconds(1));
  EXPECT_EQ(h.Reason(forged(5), "ipv4:10.0.0.9:1000"), "bad_signature");
  EXPECT_EQ(h.Reason(forged(6), "ipv4:10.0.0.9:1000"), "rate_limited");
  // The map of peers stays bounded.
  for (int i = 0; i < 10; ++i) (void)h.Reason(forged(10 + i), absl::StrCat("ipv4:10.1.0.", i, ":1"));
  EXPECT_LE(Value(h.registry.Serialize(), "spotguard_extender_state_size{what=\"auth_peers\"}"), 3);
}

// Verifies a storm of bad tokens spends the TokenReview client's budget only: a client for
// evictions beside it still has its whole burst. Checked here, garbage costs no review at all.
TEST(AuthenticatorTest, TokenReviewStormSparesEvictionBudget) {
  Harness h({.local = false, .reviews_client = {.qps = 1, .burst = 5, .max_attempts = 1}});
  auto evictions = h.api.Client(h.clock, {.qps = 1, .burst = 5, .max_attempts = 1});
  h.clock.set_auto_advance(true);  // the review client's waits are recorded, not slept
  for (int i = 0; i < 40; ++i) EXPECT_EQ(h.Reason(Token(absl::StrCat("bot-", i), 1), absl::StrCat("ipv4:10.2.0.", i, ":1")), "rejected");
  EXPECT_EQ(h.api.Count("POST", "tokenreviews"), 40);
  const size_t waited = h.clock.sleeps().size();
  EXPECT_GT(waited, 0u);  // the reviews waited for their own budget
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(evictions->Get(absl::StrCat(kPods, "/agent-y")).ok());
  EXPECT_EQ(h.clock.sleeps().size(), waited) << "an eviction-side call waited behind TokenReviews";

  Harness local;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(local.Reason(UnsignedJwt({{"alg", "RS256"}, {"kid", "k1"}}, {{"i", i}}, std::string(256, 'x')),
                           absl::StrCat("ipv4:10.3.0.", i, ":1")),
              "bad_signature");
  }
  EXPECT_EQ(local.api.Count("POST", "tokenreviews"), 0);
}

}  // namespace
}  // namespace spotguard::extender
