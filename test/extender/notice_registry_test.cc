#include "extender/notice_registry.h"

#include "gtest/gtest.h"

namespace spotguard::extender {
namespace {

using Outcome = NoticeRegistry::Outcome;
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

NoticeRecord N(const std::string& node, const std::string& id, absl::Time detected = kNow) {
  NoticeRecord n;
  n.node = node;
  n.id = id;
  n.cloud = v1::CLOUD_AWS;
  n.kind = v1::NOTICE_KIND_EVICTION;
  n.action = notice::Action::kCordon;
  n.detected_at = detected;
  n.not_before = detected + absl::Minutes(2);
  return n;
}

// Verifies new, duplicate, changed, stale and recurring reports are told apart.
TEST(NoticeRegistryTest, Outcomes) {
  NoticeRegistry reg;
  EXPECT_EQ(reg.Report(N("a", "x"), kNow).outcome, Outcome::kNew);
  EXPECT_EQ(reg.Report(N("a", "x"), kNow).outcome, Outcome::kDuplicate);
  EXPECT_EQ(reg.Report(N("b", "x"), kNow).outcome, Outcome::kNew);  // ids are per node
  NoticeRecord moved = N("a", "x");
  moved.not_before += absl::Minutes(5);
  EXPECT_EQ(reg.Report(moved, kNow).outcome, Outcome::kChanged);
  EXPECT_EQ(reg.Find("a/x")->not_before, moved.not_before);
  ASSERT_TRUE(reg.Withdraw("a", "x", kNow).has_value());
  EXPECT_FALSE(reg.Withdraw("a", "x", kNow).has_value());
  EXPECT_EQ(reg.Report(N("a", "x"), kNow).outcome, Outcome::kStale);
  EXPECT_EQ(reg.Report(N("a", "x", kNow + absl::Minutes(1)), kNow).outcome, Outcome::kNew);
  // A later occurrence while the earlier one is active (its withdrawal never heard) ends it.
  auto r = reg.Report(N("b", "x", kNow + absl::Minutes(3)), kNow);
  EXPECT_EQ(r.outcome, Outcome::kNew);
  ASSERT_TRUE(r.replaced.has_value());
  EXPECT_EQ(r.replaced->detected_at, kNow);
  EXPECT_EQ(reg.Report(N("b", "x"), kNow).outcome, Outcome::kStale);  // the earlier one again
  EXPECT_TRUE(reg.Active(N("b", "x", kNow + absl::Minutes(3))));
  EXPECT_FALSE(reg.Active(N("b", "x")));
}

// Verifies the memory of withdrawals is bounded in size and in time.
TEST(NoticeRegistryTest, WithdrawnMemoryBounded) {
  NoticeRegistry reg({.withdrawn_ttl = absl::Minutes(10), .max_withdrawn = 3, .max_active = 2});
  for (int i = 0; i < 5; ++i) {
    const std::string id = "n" + std::to_string(i);
    ASSERT_EQ(reg.Report(N("a", id), kNow).outcome, Outcome::kNew);
    reg.Withdraw("a", id, kNow + absl::Seconds(i));
  }
  EXPECT_EQ(reg.withdrawn_size(), 3u);
  EXPECT_EQ(reg.Report(N("a", "n0"), kNow).outcome, Outcome::kNew);  // the oldest was forgotten
  EXPECT_EQ(reg.Report(N("a", "n4"), kNow).outcome, Outcome::kStale);
  reg.Prune(kNow + absl::Minutes(11));
  EXPECT_EQ(reg.withdrawn_size(), 0u);
  EXPECT_EQ(reg.Report(N("a", "n4"), kNow).outcome, Outcome::kNew);
  EXPECT_EQ(reg.Report(N("a", "n9"), kNow).outcome, Outcome::kFull);
  reg.ForgetNode("a");
  EXPECT_TRUE(reg.active().empty());
}

}  // namespace
}  // namespace spotguard::extender
