#include "node-agent/sources/aws_scheduled_events.h"

#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::agent::sources {
namespace {

using testing::FakeClock;
using testing::FakeImds;

constexpr char kPath[] = "/latest/meta-data/events/maintenance/scheduled";

struct Harness {
  FakeImds imds;
  FakeClock clock;
  std::vector<std::string> problems;
  std::unique_ptr<AwsScheduledEvents> source;
  Harness() {
    auto http = std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = imds.url()}));
    source = std::make_unique<AwsScheduledEvents>(std::make_shared<AwsImds>(http, clock, AwsImdsOptions{.imdsv1 = true}),
                                                  clock, Action::kCordon);
    source->set_problem_sink([this](absl::string_view r, absl::string_view) { problems.emplace_back(r); });
  }
};

// Verifies active events become notices (stop/retirement as evictions), canceled and
// completed ones do not, and the AWS date format parses.
TEST(AwsScheduledEventsTest, ActiveEventsOnly) {
  Harness h;
  h.imds.Set(kPath, {.body = R"([
    {"Code": "system-reboot", "Description": "scheduled reboot", "State": "active",
     "EventId": "instance-event-1", "NotBefore": "21 Jan 2019 09:00:43 GMT", "NotAfter": "21 Jan 2019 09:17:23 GMT"},
    {"Code": "instance-stop", "State": "active", "EventId": "instance-event-2", "NotBefore": "1 Feb 2019 09:00:43 GMT"},
    {"Code": "system-maintenance", "State": "canceled", "EventId": "instance-event-3", "NotBefore": "21 Jan 2019 09:00:43 GMT"},
    {"Code": "instance-reboot", "State": "completed", "EventId": "instance-event-4", "NotBefore": "21 Jan 2019 09:00:43 GMT"}
  ])"});
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  ASSERT_EQ(notices->size(), 2u);
  EXPECT_EQ((*notices)[0].id, "instance-event-1");
  EXPECT_EQ((*notices)[0].kind, v1::NOTICE_KIND_MAINTENANCE);
  EXPECT_EQ((*notices)[0].raw_action, "system-reboot");
  EXPECT_EQ((*notices)[0].not_before, absl::FromUnixSeconds(1548061243));
  EXPECT_EQ((*notices)[1].kind, v1::NOTICE_KIND_EVICTION);
  EXPECT_EQ((*notices)[1].not_before, absl::FromUnixSeconds(1549011643));
  EXPECT_TRUE(h.problems.empty());
}

// Verifies 404, an empty list, bad entries and bad documents.
TEST(AwsScheduledEventsTest, EmptyBadEntriesAndBadDocuments) {
  Harness h;
  EXPECT_TRUE(h.source->Poll()->empty());
  h.imds.Set(kPath, {.body = "[]"});
  EXPECT_TRUE(h.source->Poll()->empty());
  h.imds.Set(kPath, {.body = R"([{"Code": "system-reboot", "State": "active", "EventId": "e", "NotBefore": "someday"},
                                 {"Code": "system-reboot", "State": "active", "EventId": "e", "NotBefore": "someday"},
                                 {"State": "active"}, 42])"});
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok());
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].not_before, absl::InfinitePast());  // the Poller assumes the minimum notice
  EXPECT_EQ(h.problems, (std::vector<std::string>{"bad_time", "duplicate_id", "missing_field", "missing_field"}));
  h.imds.Set(kPath, {.body = R"({"Code": "system-reboot"})"});
  EXPECT_EQ(PollErrorReason(h.source->Poll().status()), "malformed");
  h.imds.Set(kPath, {.status = 429});
  EXPECT_EQ(PollErrorReason(h.source->Poll().status()), "throttled");
}

}  // namespace
}  // namespace spotguard::agent::sources
