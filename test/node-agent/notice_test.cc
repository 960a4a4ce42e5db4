#include "node-agent/notice.h"

#include "gtest/gtest.h"

namespace spotguard::agent {
namespace {

Notice Sample() {
  return Notice{.id = "A1B2",
                .cloud = v1::CLOUD_AZURE,
                .kind = v1::NOTICE_KIND_EVICTION,
                .raw_action = "Preempt",
                .not_before = absl::FromUnixSeconds(1800000030),
                .detected_at = absl::FromUnixSeconds(1800000000),
                .description = "preempted",
                .source = "azure-scheduled-events",
                .action = Action::kCordon,
                .acknowledgeable = true};
}

// Verifies the annotation JSON carries DESIGN.md's fields and reads back identically.
TEST(NoticeTest, JsonRoundTrip) {
  Json j = ToJson(Sample());
  EXPECT_EQ(j["id"], "A1B2");
  EXPECT_EQ(j["cloud"], "azure");
  EXPECT_EQ(j["kind"], "eviction");
  EXPECT_EQ(j["notBefore"], "2027-01-15T08:00:30Z");
  EXPECT_EQ(j["detectedAt"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(j["source"], "azure-scheduled-events");
  auto back = NoticeFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Sample());
}

// Verifies unknown notBefore survives the round trip and bad records are refused.
TEST(NoticeTest, UnknownTimesAndBadRecords) {
  Notice n = Sample();
  n.not_before = absl::InfinitePast();
  Json j = ToJson(n);
  EXPECT_EQ(j["notBefore"], "");
  EXPECT_EQ(NoticeFromJson(j)->not_before, absl::InfinitePast());
  for (const char* bad : {R"([])", R"({"cloud":"azure"})", R"({"id":"x","cloud":"oracle","kind":"eviction"})",
                          R"({"id":"x","cloud":"aws","kind":"nap"})",
                          R"({"id":"x","cloud":"aws","kind":"eviction","notBefore":"yesterday"})",
                          R"({"id":"x","cloud":"aws","kind":"eviction","action":"panic"})"}) {
    EXPECT_FALSE(NoticeFromJson(Json::parse(bad)).ok()) << bad;
  }
}

// Verifies the deadline is notBefore when known, else first sight plus the window.
TEST(NoticeTest, Deadline) {
  Notice n = Sample();
  EXPECT_EQ(DeadlineOf(n), n.not_before);
  n.not_before = absl::InfinitePast();
  EXPECT_EQ(DeadlineOf(n, absl::Minutes(2)), n.detected_at + absl::Minutes(2));
}

// Verifies the proto carries times as Timestamps and leaves an unknown notBefore unset.
TEST(NoticeTest, ToProto) {
  v1::Notice p = ToProto(Sample());
  EXPECT_EQ(p.id(), "A1B2");
  EXPECT_EQ(p.cloud(), v1::CLOUD_AZURE);
  EXPECT_EQ(p.not_before().seconds(), 1800000030);
  EXPECT_EQ(p.detected_at().seconds(), 1800000000);
  Notice n = Sample();
  n.not_before = absl::InfinitePast();
  EXPECT_FALSE(ToProto(n).has_not_before());
}

// Verifies action names parse both ways.
TEST(NoticeTest, Actions) {
  for (Action a : {Action::kCordon, Action::kLabel, Action::kReport}) EXPECT_EQ(*ParseAction(ActionName(a)), a);
  EXPECT_FALSE(ParseAction("drain").ok());
}

}  // namespace
}  // namespace spotguard::agent
