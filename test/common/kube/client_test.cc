#include "common/kube/client.h"

#include <filesystem>
#include <fstream>

#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_http_client.h"

namespace spotguard::kube {
namespace {

using ::testing::HasSubstr;
using testing::FakeClock;
using testing::FakeHttpClient;

HttpResponse Ok(std::string body = "{}") { return {.status = 200, .body = std::move(body)}; }
HttpResponse Err(int status, std::string reason = "", HttpHeaders headers = {}) {
  return {.status = status,
          .headers = std::move(headers),
          .body = R"({"kind":"Status","reason":")" + reason + R"(","message":"api says no"})"};
}

struct Harness {
  FakeClock clock;
  FakeHttpClient* http = nullptr;
  std::unique_ptr<KubeClient> client;
  explicit Harness(KubeConfig cfg = {.token = "t0"}, ClientOptions opts = {.qps = 0}) {
    clock.set_auto_advance(true);
    auto h = std::make_unique<FakeHttpClient>();
    http = h.get();
    opts.backoff.jitter = 0;
    client = std::make_unique<KubeClient>(std::move(h), cfg, clock, opts);
  }
};

// Verifies 5xx answers are retried with growing backoff until one succeeds.
TEST(KubeClientTest, RetriesServerErrors) {
  Harness h;
  h.http->Push(Err(503));
  h.http->Push(Err(500));
  h.http->Push(Ok(R"({"kind":"Node"})"));
  auto res = h.client->Get("/api/v1/nodes/n1");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ((*res)["kind"], "Node");
  EXPECT_EQ(h.http->requests().size(), 3u);
  EXPECT_EQ(h.clock.sleeps(), (std::vector<absl::Duration>{absl::Milliseconds(200), absl::Milliseconds(400)}));
}

// Verifies 429 waits at least as long as the server's Retry-After.
TEST(KubeClientTest, HonoursRetryAfter) {
  Harness h;
  h.http->Push(Err(429, "TooManyRequests", {{"Retry-After", "3"}}));
  h.http->Push(Ok());
  ASSERT_TRUE(h.client->Get("/api/v1/nodes").ok());
  EXPECT_EQ(h.clock.sleeps(), std::vector<absl::Duration>{absl::Seconds(3)});
}

// Verifies an eviction's 429 (a PodDisruptionBudget) is returned at once, not retried.
TEST(KubeClientTest, EvictionTooManyRequestsNotRetried) {
  Harness h;
  h.http->Push(Err(429, "TooManyRequests"));
  absl::Status s = EvictPod(*h.client, "spark", "exec-1", 10);
  EXPECT_TRUE(IsTooManyRequests(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("api says no"));
  ASSERT_EQ(h.http->requests().size(), 1u);
  auto body = Json::parse(h.http->requests()[0].body);
  EXPECT_EQ(h.http->requests()[0].path, "/api/v1/namespaces/spark/pods/exec-1/eviction");
  EXPECT_EQ(body["kind"], "Eviction");
  EXPECT_EQ(body["deleteOptions"]["gracePeriodSeconds"], 10);
}

// Verifies 4xx errors are not retried and carry the API's words.
TEST(KubeClientTest, ClientErrorsNotRetried) {
  Harness h;
  h.http->Push(Err(404, "NotFound"));
  auto res = h.client->Get("/api/v1/nodes/gone");
  EXPECT_TRUE(absl::IsNotFound(res.status()));
  EXPECT_EQ(res.status().message(), "GET /api/v1/nodes/gone: HTTP 404 NotFound: api says no");
  EXPECT_EQ(h.http->requests().size(), 1u);
  EXPECT_TRUE(h.clock.sleeps().empty());
}

// Verifies connection errors are retried up to max_attempts, then returned.
TEST(KubeClientTest, ConnectionErrorsRetriedUpToLimit) {
  Harness h({}, {.qps = 0, .max_attempts = 4});
  h.http->SetHandler([](const HttpRequest&) { return absl::UnavailableError("connection refused"); });
  auto res = h.client->Get("/api/v1/nodes");
  EXPECT_EQ(res.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(res.status().message()), HasSubstr("connection refused"));
  EXPECT_EQ(h.http->requests().size(), 4u);
}

// Verifies no retry starts after the call's deadline.
TEST(KubeClientTest, DeadlineBoundsRetries) {
  Harness h({}, {.qps = 0, .max_attempts = 100});
  h.http->SetHandler([](const HttpRequest&) { return Err(503); });
  absl::Time start = h.clock.Now();
  auto res = h.client->Get("/x", {.deadline = start + absl::Seconds(1)});
  EXPECT_EQ(res.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LE(h.clock.Now() - start, absl::Seconds(1));
  EXPECT_EQ(h.http->requests().size(), 3u);  // sleeps of 200 + 400 ms fit; 800 ms would not
}

// Verifies a 401 re-reads a rotated token file and retries once with the new token.
TEST(KubeClientTest, ReauthenticatesAfter401) {
  std::string path = ::testing::TempDir() + "/client_test_token";
  std::ofstream(path) << "old";
  Harness h({.token_file = path});
  h.http->SetHandler([&](const HttpRequest& req) {
    for (const auto& [k, v] : req.headers) {
      if (k == "Authorization" && v == "Bearer new") return Ok();
    }
    std::ofstream(path) << "new";  // the kubelet rotated it meanwhile
    return Err(401, "Unauthorized");
  });
  ASSERT_TRUE(h.client->Get("/api/v1/nodes").ok());
  EXPECT_EQ(h.http->requests().size(), 2u);
  std::filesystem::remove(path);
}

// Verifies patch content types, the bearer token and the user agent.
TEST(KubeClientTest, SendsPatchTypesAndHeaders) {
  Harness h;
  h.http->SetHandler([](const HttpRequest&) { return Ok(); });
  ASSERT_TRUE(h.client->Patch("/a", PatchType::kMerge, Json::object()).ok());
  ASSERT_TRUE(h.client->Patch("/a", PatchType::kStrategicMerge, Json::object()).ok());
  ASSERT_TRUE(h.client->Patch("/a", PatchType::kJson, Json::array()).ok());
  auto reqs = h.http->requests();
  EXPECT_EQ(reqs[0].content_type, "application/merge-patch+json");
  EXPECT_EQ(reqs[1].content_type, "application/strategic-merge-patch+json");
  EXPECT_EQ(reqs[2].content_type, "application/json-patch+json");
  EXPECT_EQ(reqs[0].method, "PATCH");
  HttpResponse with;
  with.headers = reqs[0].headers;
  EXPECT_EQ(with.Header("Authorization"), "Bearer t0");
  EXPECT_EQ(with.Header("User-Agent"), "spotguard");
}

// Verifies the client-side QPS limit paces calls on the clock.
TEST(KubeClientTest, QpsLimitPacesCalls) {
  Harness h({}, {.qps = 2, .burst = 1});
  h.http->SetHandler([](const HttpRequest&) { return Ok(); });
  absl::Time start = h.clock.Now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.client->Get("/x").ok());
  EXPECT_EQ(h.clock.Now() - start, absl::Seconds(2));
}

// Verifies a call whose deadline comes before the rate limit's next slot is not sent and
// takes no slot: callers behind it are not delayed by it.
TEST(KubeClientTest, DeadlineBoundsRateLimitWait) {
  Harness h({}, {.qps = 1, .burst = 1});
  h.http->SetHandler([](const HttpRequest&) { return Ok(); });
  ASSERT_TRUE(h.client->Get("/x").ok());
  absl::Time start = h.clock.Now();
  auto res = h.client->Get("/x", {.deadline = start + absl::Milliseconds(500)});
  EXPECT_EQ(res.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(h.http->requests().size(), 1u);
  EXPECT_EQ(h.clock.Now(), start);
  ASSERT_TRUE(h.client->Get("/x", {.deadline = start + absl::Seconds(1)}).ok());
  EXPECT_EQ(h.clock.Now() - start, absl::Seconds(1));
}

// Verifies a body that is not JSON is an error, not a crash.
TEST(KubeClientTest, NonJsonBodyIsAnError) {
  Harness h;
  h.http->Push(Ok("<html>proxy</html>"));
  EXPECT_EQ(h.client->Get("/x").status().code(), absl::StatusCode::kInternal);
}

// Verifies the streaming call splits lines across chunk boundaries.
TEST(KubeClientTest, StreamSplitsLines) {
  Harness h;
  h.http->Push(Ok("{\"a\":1}\n{\"b\":2}\n{\"c\":3}"));
  std::vector<std::string> lines;
  StopSignal stop;
  ASSERT_TRUE(h.client->Stream("/w", [&](absl::string_view l) { lines.emplace_back(l); return true; }, stop,
                               absl::Seconds(5)).ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  h.http->Push(Err(403, "Forbidden"));
  EXPECT_EQ(h.client->Stream("/w", [](absl::string_view) { return true; }, stop, absl::Seconds(5)).code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace spotguard::kube
