#include "common/notice/notice.h"

#include "gtest/gtest.h"

namespace spotguard::notice {
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
  EXPECT_EQ(j["rawAction"], "Preempt");
  EXPECT_EQ(j["notBefore"], "2027-01-15T08:00:30Z");
  EXPECT_EQ(j["detectedAt"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(j["source"], "azure-scheduled-events");
  EXPECT_EQ(j["action"], "cordon");
  auto back = FromJson(j, Action::kReport);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Sample());
}

// Verifies the README's example annotation, as another tool would write it, reads as documented:
// no action means the default, no times mean unknown.
TEST(NoticeTest, ReadmeExample) {
  Json j = Json::parse(R"({"id":"maint-42","cloud":"aws","kind":"maintenance","rawAction":"system-reboot",
                           "notBefore":"2026-12-01T10:00:30Z"})");
  auto n = FromJson(j, Action::kCordon);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->action, Action::kCordon);
  EXPECT_TRUE(n->Dooms());
  EXPECT_EQ(n->detected_at, absl::InfinitePast());
  EXPECT_EQ(n->not_before, absl::FromUnixSeconds(1796119230));
}

// Verifies unknown notBefore survives the round trip.
TEST(NoticeTest, UnknownTimes) {
  Notice n = Sample();
  n.not_before = absl::InfinitePast();
  Json j = ToJson(n);
  EXPECT_EQ(j["notBefore"], "");
  EXPECT_EQ(FromJson(j, Action::kReport)->not_before, absl::InfinitePast());
}

// Verifies every invalid notice is refused with the field named and a low-cardinality reason.
TEST(NoticeTest, RejectsWithReasons) {
  struct Case {
    const char* json;
    const char* reason;
  };
  const std::string long_id(kMaxIdLength + 1, 'x');
  for (const Case& c : std::initializer_list<Case>{
           {R"([])", "not_object"},
           {R"({"cloud":"azure","kind":"eviction"})", "id"},
           {R"({"id":"x","cloud":"oracle","kind":"eviction"})", "cloud"},
           {R"({"id":"x","kind":"eviction"})", "cloud"},
           {R"({"id":"x","cloud":"aws","kind":"nap"})", "kind"},
           {R"({"id":"x","cloud":"aws"})", "kind"},
           {R"({"id":"x","cloud":"aws","kind":"eviction","notBefore":"yesterday"})", "time"},
           {R"({"id":"x","cloud":"aws","kind":"eviction","action":"panic"})", "action"},
           {R"({"id":"a\u0001b","cloud":"aws","kind":"eviction"})", "id"},
       }) {
    auto n = FromJson(Json::parse(c.json), Action::kReport);
    ASSERT_FALSE(n.ok()) << c.json;
    EXPECT_EQ(RejectReason(n.status()), c.reason) << c.json << ": " << n.status();
  }
  Json j = ToJson(Sample());
  j["id"] = long_id;
  EXPECT_EQ(RejectReason(FromJson(j, Action::kReport).status()), "id");
  EXPECT_EQ(RejectReason(absl::InternalError("x")), "other");
}

// Verifies the deadline is notBefore when known, else first sight plus the window.
TEST(NoticeTest, Deadline) {
  Notice n = Sample();
  EXPECT_EQ(DeadlineOf(n), n.not_before);
  n.not_before = absl::InfinitePast();
  EXPECT_EQ(DeadlineOf(n, absl::Minutes(2)), n.detected_at + absl::Minutes(2));
}

// Verifies the proto carries times as Timestamps, leaves unknown times unset, and reads back
// identically; a bad kind or action on the wire is refused.
TEST(NoticeTest, ProtoRoundTrip) {
  v1::Notice p = ToProto(Sample());
  EXPECT_EQ(p.id(), "A1B2");
  EXPECT_EQ(p.cloud(), v1::CLOUD_AZURE);
  EXPECT_EQ(p.not_before().seconds(), 1800000030);
  EXPECT_EQ(p.detected_at().seconds(), 1800000000);
  Notice expect = Sample();
  expect.acknowledgeable = false;  // not on the wire
  EXPECT_EQ(*FromProto(p), expect);
  Notice n = Sample();
  n.not_before = absl::InfinitePast();
  EXPECT_FALSE(ToProto(n).has_not_before());
  v1::Notice bad = p;
  bad.set_kind(v1::NOTICE_KIND_UNSPECIFIED);
  EXPECT_EQ(RejectReason(FromProto(bad).status()), "kind");
  bad = p;
  bad.set_action("panic");
  EXPECT_EQ(RejectReason(FromProto(bad).status()), "action");
  bad = p;
  bad.set_action("");
  EXPECT_EQ(FromProto(bad)->action, Action::kCordon);
}

// Verifies names parse both ways and which notices doom their node.
TEST(NoticeTest, NamesAndDooms) {
  for (Action a : {Action::kCordon, Action::kLabel, Action::kReport}) EXPECT_EQ(*ParseAction(ActionName(a)), a);
  EXPECT_FALSE(ParseAction("drain").ok());
  for (auto c : {v1::CLOUD_AZURE, v1::CLOUD_AWS, v1::CLOUD_GCP}) EXPECT_EQ(*ParseCloud(CloudName(c)), c);
  Notice n = Sample();
  EXPECT_TRUE(n.Dooms());
  n.kind = v1::NOTICE_KIND_MAINTENANCE;
  n.action = Action::kLabel;
  EXPECT_FALSE(n.Dooms());
  n.action = Action::kCordon;
  EXPECT_TRUE(n.Dooms());
  n.kind = v1::NOTICE_KIND_REBALANCE;
  EXPECT_FALSE(n.Dooms());
}

}  // namespace
}  // namespace spotguard::notice
