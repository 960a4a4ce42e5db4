#include "node-agent/sources/aws_rebalance.h"

#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::agent::sources {
namespace {

using testing::FakeClock;
using testing::FakeImds;
using testing::FakeResponse;

constexpr char kPath[] = "/latest/meta-data/events/recommendations/rebalance";

struct Harness {
  FakeImds imds;
  FakeClock clock;
  std::unique_ptr<AwsRebalance> source;
  explicit Harness(Action action = Action::kLabel) {
    auto http = std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = imds.url()}));
    source = std::make_unique<AwsRebalance>(std::make_shared<AwsImds>(http, clock, AwsImdsOptions{.imdsv1 = true}),
                                            clock, action);
  }
};

// Verifies 404 is no recommendation, and one is a rebalance notice with a stable id even
// though its noticeTime changes (ec2-metadata-mock recomputes it per request).
TEST(AwsRebalanceTest, RecommendationIsRiskSignal) {
  Harness h;
  EXPECT_TRUE(h.source->Poll()->empty());
  h.imds.Set(kPath, {.body = R"({"noticeTime": "2020-10-27T08:22:00Z"})"});
  auto first = h.source->Poll();
  h.imds.Set(kPath, {.body = R"({"noticeTime": "2020-10-27T08:22:03Z"})"});
  auto second = h.source->Poll();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].id, "aws-rebalance");
  EXPECT_EQ((*second)[0].id, "aws-rebalance");
  EXPECT_EQ((*first)[0].kind, v1::NOTICE_KIND_REBALANCE);
  EXPECT_EQ((*first)[0].action, Action::kLabel);
  EXPECT_EQ((*first)[0].not_before, absl::InfinitePast());
  EXPECT_EQ(Harness(Action::kCordon).source->Kind(), "aws-rebalance");
}

// Verifies malformed and failed answers fail the poll.
TEST(AwsRebalanceTest, UnusableAnswers) {
  for (auto [response, reason] : {std::pair<FakeResponse, std::string>{{.body = "[]"}, "malformed"},
                                  {{.body = R"({"noticeTime": 5})"}, "malformed"},
                                  {{.status = 500}, "server_error"}}) {
    Harness h;
    h.imds.Set(kPath, response);
    EXPECT_EQ(PollErrorReason(h.source->Poll().status()), reason);
  }
}

}  // namespace
}  // namespace spotguard::agent::sources
