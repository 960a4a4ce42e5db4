#include "node-agent/sources/aws_spot_itn.h"

#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::agent::sources {
namespace {

using testing::FakeClock;
using testing::FakeImds;
using testing::FakeResponse;

constexpr char kPath[] = "/latest/meta-data/spot/instance-action";

struct Harness {
  FakeImds imds;
  FakeClock clock{absl::FromUnixSeconds(1'505'722'800)};  // 2017-09-18T08:20:00Z
  std::vector<std::string> problems;
  std::unique_ptr<AwsSpotItn> source;
  Harness() {
    auto http = std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = imds.url()}));
    source = std::make_unique<AwsSpotItn>(
        std::make_shared<AwsImds>(http, clock, AwsImdsOptions{.imdsv1 = true, .timeout = absl::Milliseconds(300)}), clock);
    source->set_problem_sink([this](absl::string_view r, absl::string_view) { problems.emplace_back(r); });
  }
};

// Verifies 404 is the normal "no notice".
TEST(AwsSpotItnTest, NotFoundMeansNoNotice) {
  Harness h;
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  EXPECT_TRUE(notices->empty());
}

// Verifies an instance-action becomes an eviction notice due at its time.
TEST(AwsSpotItnTest, InstanceActionIsEviction) {
  Harness h;
  h.imds.Set(kPath, {.body = R"({"action": "terminate", "time": "2017-09-18T08:22:00Z"})"});
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  ASSERT_EQ(notices->size(), 1u);
  const Notice& n = (*notices)[0];
  EXPECT_EQ(n.id, "aws-spot-terminate");
  EXPECT_EQ(n.kind, v1::NOTICE_KIND_EVICTION);
  EXPECT_EQ(n.raw_action, "terminate");
  EXPECT_EQ(n.not_before, absl::FromUnixSeconds(1'505'722'920));
  EXPECT_EQ(n.action, Action::kCordon);
}

// Verifies a bad time keeps the notice with AWS's two minutes, and odd actions still count.
TEST(AwsSpotItnTest, BadTimeAndUnknownAction) {
  Harness h;
  h.imds.Set(kPath, {.body = R"({"action": "vanish", "time": "soon"})"});
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok());
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].not_before, absl::InfinitePast());  // the Poller assumes AWS's two minutes
  EXPECT_EQ(h.problems, (std::vector<std::string>{"unknown_action", "bad_time"}));
}

// Verifies each unusable answer fails the poll with its reason.
TEST(AwsSpotItnTest, UnusableAnswers) {
  struct Case {
    FakeResponse response;
    std::string reason;
  } cases[] = {
      {{.body = "{oops"}, "malformed"},
      {{.body = R"({"action": 3})"}, "malformed"},
      {{.body = R"({"time": "2017-09-18T08:22:00Z"})"}, "malformed"},
      {{.status = 429, .headers = {{"Retry-After", "7"}}}, "throttled"},
      {{.status = 500}, "server_error"},
      {{.status = 503}, "server_error"},
      {{.body = std::string(2 << 20, ' ')}, "too_large"},
      {{.body = R"({"action": "terminate", "time": "2017-09-18T08:22:00Z"})", .stall = true}, "timeout"},
  };
  for (auto& c : cases) {
    Harness h;
    h.imds.Set(kPath, c.response);
    auto notices = h.source->Poll();
    EXPECT_EQ(PollErrorReason(notices.status()), c.reason) << c.response.body.substr(0, 40) << " " << c.response.status;
    if (c.reason == "throttled") EXPECT_EQ(PollRetryAfter(notices.status()), absl::Seconds(7));
  }
}

}  // namespace
}  // namespace spotguard::agent::sources
