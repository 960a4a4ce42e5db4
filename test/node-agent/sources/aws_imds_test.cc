#include "node-agent/sources/aws_imds.h"

#include "gtest/gtest.h"
#include "node-agent/source.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_http_client.h"

namespace spotguard::agent::sources {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;

// A fake IMDSv2: tokens "t1", "t2", ...; GETs need the current token, else 401.
struct Harness {
  FakeClock clock;
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  int issued = 0;
  std::string valid;
  bool refuse_tokens = false;
  std::unique_ptr<AwsImds> imds;

  explicit Harness(AwsImdsOptions options = {.token_ttl = absl::Minutes(10)}) {
    http->SetHandler([this](const HttpRequest& req) -> absl::StatusOr<HttpResponse> {
      HttpResponse probe{.headers = req.headers};
      if (req.method == "PUT") {
        if (refuse_tokens) return HttpResponse{.status = 403};
        EXPECT_EQ(probe.Header("X-aws-ec2-metadata-token-ttl-seconds"), "600");
        valid = "t" + std::to_string(++issued);
        return HttpResponse{.status = 200, .body = valid};
      }
      if (probe.Header("X-aws-ec2-metadata-token") != valid || valid.empty()) return HttpResponse{.status = 401};
      return HttpResponse{.status = 404};
    });
    imds = std::make_unique<AwsImds>(http, clock, options);
  }
};

// Verifies one token serves many requests until it nears expiry, then is refreshed.
TEST(AwsImdsTest, TokenReusedThenRefreshedBeforeExpiry) {
  Harness h;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.imds->Get("/latest/meta-data/spot/instance-action")->status, 404);
  EXPECT_EQ(h.imds->token_fetches(), 1);
  h.clock.Advance(absl::Minutes(9) + absl::Seconds(1));  // within the refresh margin of the 10 min TTL
  EXPECT_EQ(h.imds->Get("/x")->status, 404);
  EXPECT_EQ(h.imds->token_fetches(), 2);
}

// Verifies a 401 (token revoked or expired early) fetches a new token and retries once.
TEST(AwsImdsTest, RefreshesOn401) {
  Harness h;
  ASSERT_EQ(h.imds->Get("/x")->status, 404);
  h.valid = "revoked-by-the-service";
  EXPECT_EQ(h.imds->Get("/x")->status, 404);
  EXPECT_EQ(h.imds->token_fetches(), 2);
}

// Verifies a token failure is an auth poll error, and IMDSv1 sends no token at all.
TEST(AwsImdsTest, TokenFailureAndImdsV1) {
  Harness h;
  h.refuse_tokens = true;
  EXPECT_EQ(PollErrorReason(h.imds->Get("/x").status()), "auth");
  Harness v1({.imdsv1 = true});
  v1.http->SetHandler([](const HttpRequest& req) -> absl::StatusOr<HttpResponse> {
    EXPECT_NE(req.method, "PUT");
    return HttpResponse{.status = 404};
  });
  EXPECT_EQ(v1.imds->Get("/x")->status, 404);
  EXPECT_EQ(v1.imds->token_fetches(), 0);
}

}  // namespace
}  // namespace spotguard::agent::sources
