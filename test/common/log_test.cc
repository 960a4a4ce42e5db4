#include "common/log.h"

#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace spotguard::log {
namespace {

// Verifies a line is one JSON object with the standard keys and typed fields.
TEST(LogTest, FormatsOneJsonObjectPerLine) {
  std::string line = Format(Level::kWarn, "node cordoned \"quoted\"",
                            {{"node", "aks-1"}, {"count", 3}, {"took_s", absl::Milliseconds(1500)}, {"ok", true},
                             {"err", absl::UnavailableError("down")}},
                            absl::FromUnixSeconds(1800000000));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "node cordoned \"quoted\"");
  EXPECT_EQ(j["node"], "aks-1");
  EXPECT_EQ(j["count"], 3);
  EXPECT_DOUBLE_EQ(j["took_s"].get<double>(), 1.5);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["err"], "UNAVAILABLE: down");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

// Verifies the level filter drops lower levels and bad level names are rejected.
TEST(LogTest, LevelFilters) {
  std::vector<std::string> lines;
  SetSink([&](absl::string_view l) { lines.emplace_back(l); });
  SetLevel(Level::kWarn);
  Info("dropped");
  Error("kept");
  SetLevel(Level::kInfo);
  SetSink(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["msg"], "kept");
  EXPECT_FALSE(SetLevel("loud").ok());
  EXPECT_TRUE(SetLevel("debug").ok());
  SetLevel(Level::kInfo);
}

}  // namespace
}  // namespace spotguard::log
