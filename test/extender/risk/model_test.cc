#include "extender/risk/model.h"

#include <cmath>

#include "gtest/gtest.h"

namespace spotguard::extender::risk {
namespace {

const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
const Domains kA{"spot-a", "zone-1", "m5.2xlarge"};
const Domains kB{"spot-b", "zone-2", "m5.2xlarge"};

RiskParams Params() { return {.half_life = absl::Hours(6), .horizon = absl::Hours(1), .prior_evictions = 1, .prior_hours = 100}; }

// Verifies the rate and risk of a domain with no history are the prior's.
TEST(RiskModelTest, PriorOnly) {
  RiskModel m(Params());
  EXPECT_DOUBLE_EQ(m.Rate(kA, t0), 0.01);
  EXPECT_NEAR(m.Risk(kA, false, t0), 1 - std::exp(-0.01), 1e-12);
  EXPECT_DOUBLE_EQ(m.Risk(kA, /*rebalance=*/true, t0), 0.5);
}

// Verifies the model's arithmetic, case by case.
TEST(RiskModelTest, Table) {
  struct Case {
    const char* name;
    int evictions_a;
    double exposure_hours_a;
    absl::Duration later;
    double want_rate_a;
  } cases[] = {
      // Three domains, one eviction in each of A's: (1+1)/(0+100) each.
      {"one eviction", 1, 0, absl::ZeroDuration(), 0.02},
      // Exposure dilutes: (1+1)/(100+100).
      {"one eviction, 100 node-hours", 1, 100, absl::ZeroDuration(), 0.01},
      // After one half-life the eviction weighs 0.5: (0.5+1)/100.
      {"one eviction, a half-life later", 1, 0, absl::Hours(6), 0.015},
      // Four evictions, 300 node-hours: (4+1)/(300+100).
      {"four evictions, 300 node-hours", 4, 300, absl::ZeroDuration(), 0.0125},
  };
  for (const auto& c : cases) {
    RiskModel m(Params());
    m.AddExposure(kA, absl::Hours(c.exposure_hours_a), t0);
    for (int i = 0; i < c.evictions_a; ++i) m.RecordEviction("n" + std::to_string(i), kA, t0);
    EXPECT_NEAR(m.Rate(kA, t0 + c.later), c.want_rate_a, 1e-9) << c.name;
    // B shares only the instance type with A.
    double type_rate = (m.State("type/m5.2xlarge", t0 + c.later).evictions + 1) /
                       (m.State("type/m5.2xlarge", t0 + c.later).exposure_hours + 100);
    EXPECT_NEAR(m.Rate(kB, t0 + c.later), (0.01 + 0.01 + type_rate) / 3, 1e-9) << c.name;
  }
}

// Verifies a notice counts once whichever channel reports it first.
TEST(RiskModelTest, EvictionCountedOncePerNotice) {
  RiskModel m(Params());
  EXPECT_TRUE(m.RecordEviction("notice-1", kA, t0));
  EXPECT_FALSE(m.RecordEviction("notice-1", kA, t0 + absl::Seconds(1)));
  EXPECT_DOUBLE_EQ(m.State("pool/spot-a", t0).evictions, 1);
}

// Verifies the persisted form round-trips, and merging takes the larger evidence per
// domain instead of adding (two replicas saw the same history).
TEST(RiskModelTest, PersistAndMerge) {
  RiskModel a(Params());
  a.RecordEviction("n1", kA, t0);
  a.AddExposure(kA, absl::Hours(10), t0);
  auto back = RiskModel::FromJson(a.ToJson(t0), Params());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_NEAR(back->Rate(kA, t0), a.Rate(kA, t0), 1e-12);
  EXPECT_FALSE(back->RecordEviction("n1", kA, t0));  // the counted id survives

  RiskModel b(Params());
  b.RecordEviction("n1", kA, t0);
  b.RecordEviction("n2", kB, t0);
  a.Merge(b, t0);
  EXPECT_DOUBLE_EQ(a.State("pool/spot-a", t0).evictions, 1);  // not 2
  EXPECT_DOUBLE_EQ(a.State("pool/spot-b", t0).evictions, 1);
  EXPECT_DOUBLE_EQ(a.State("pool/spot-a", t0).exposure_hours, 10);
}

// Verifies unreadable persisted documents are refused, naming the problem.
TEST(RiskModelTest, BadDocuments) {
  for (const char* bad : {R"([])", R"({"version": 2, "domains": {}})", R"({"version": 1, "asOf": "x", "domains": {}})",
                          R"({"version": 1, "asOf": "2027-01-15T08:00:00Z", "domains": {"pool/a": {"evictions": "1"}}})"}) {
    EXPECT_FALSE(RiskModel::FromJson(nlohmann::json::parse(bad), Params()).ok()) << bad;
  }
}

}  // namespace
}  // namespace spotguard::extender::risk
