#include "node-agent/sources/gcp_preemption.h"

#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::agent::sources {
namespace {

using testing::FakeClock;
using testing::FakeImds;

constexpr char kPath[] = "/computeMetadata/v1/instance/preempted";

// Verifies FALSE is no notice and TRUE an eviction due 30 s after first sight; the
// Metadata-Flavor header is sent (the fake answers 403 without it).
TEST(GcpPreemptionTest, PreemptedIsEviction) {
  FakeImds imds;
  imds.RequireHeader("Metadata-Flavor", "Google", 403);
  FakeClock clock;
  GcpPreemption source(std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = imds.url()})), clock);
  imds.Set(kPath, {.body = "FALSE", .content_type = "text/plain"});
  EXPECT_TRUE(source.Poll()->empty());
  imds.Set(kPath, {.body = "TRUE", .content_type = "text/plain"});
  absl::Time first = clock.Now();
  auto notices = source.Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].id, "gcp-preempted");
  EXPECT_EQ((*notices)[0].cloud, v1::CLOUD_GCP);
  EXPECT_EQ((*notices)[0].not_before, first + absl::Seconds(30));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ((*source.Poll())[0].not_before, first + absl::Seconds(30));  // the deadline does not move
}

// Verifies anything but TRUE/FALSE, and HTTP failures, fail the poll.
TEST(GcpPreemptionTest, UnusableAnswers) {
  FakeImds imds;
  FakeClock clock;
  GcpPreemption source(std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = imds.url()})), clock);
  imds.Set(kPath, {.body = "maybe"});
  EXPECT_EQ(PollErrorReason(source.Poll().status()), "malformed");
  imds.Set(kPath, {.status = 503});
  EXPECT_EQ(PollErrorReason(source.Poll().status()), "server_error");
  imds.Set(kPath, {.status = 403});
  EXPECT_EQ(PollErrorReason(source.Poll().status()), "auth");
}

}  // namespace
}  // namespace spotguard::agent::sources
