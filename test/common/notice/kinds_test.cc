#include "common/notice/kinds.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace spotguard::notice {
namespace {

// Verifies the documented minimum notices, and that every row is unique and valid.
TEST(KindsTest, Table) {
  EXPECT_EQ(FindKind(v1::CLOUD_AZURE, "Preempt")->min_notice, absl::Seconds(30));
  EXPECT_EQ(FindKind(v1::CLOUD_AZURE, "Redeploy")->min_notice, absl::Minutes(10));
  EXPECT_EQ(FindKind(v1::CLOUD_AZURE, "Reboot")->kind, v1::NOTICE_KIND_MAINTENANCE);
  EXPECT_EQ(FindKind(v1::CLOUD_AWS, "terminate")->min_notice, absl::Minutes(2));
  EXPECT_EQ(FindKind(v1::CLOUD_AWS, "instance-retirement")->kind, v1::NOTICE_KIND_EVICTION);
  EXPECT_EQ(FindKind(v1::CLOUD_GCP, "preempted")->min_notice, absl::Seconds(30));
  EXPECT_EQ(FindKind(v1::CLOUD_AWS, "Preempt"), nullptr);  // per cloud, exact
  absl::flat_hash_set<std::string> seen;
  for (const KindPolicy& k : Kinds()) {
    EXPECT_TRUE(seen.insert(absl::StrCat(CloudName(k.cloud), "/", k.raw_action)).second) << k.raw_action;
    EXPECT_NE(KindName(k.kind), "unknown") << k.raw_action;
    EXPECT_GT(k.min_notice, absl::ZeroDuration()) << k.raw_action;
  }
}

// Verifies a notice without a time is due its kind's minimum notice after first sight.
TEST(KindsTest, AssumedDeadline) {
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  Notice n{.id = "e", .cloud = v1::CLOUD_AZURE, .kind = v1::NOTICE_KIND_EVICTION, .raw_action = "Preempt"};
  EXPECT_EQ(AssumedDeadline(n, t0), t0 + absl::Seconds(30));
  n.raw_action = "Reboot";
  EXPECT_EQ(AssumedDeadline(n, t0), t0 + absl::Minutes(15));
  n.raw_action = "Unheard-of";
  EXPECT_EQ(AssumedDeadline(n, t0), t0 + absl::Seconds(30));
}

}  // namespace
}  // namespace spotguard::notice
