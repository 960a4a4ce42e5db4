#include "node-agent/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spotguard::agent {
namespace {

absl::Status ParseAndValidate(std::vector<const char*> args) {
  Config c;
  FlagSet f("spotguard-agent", "");
  RegisterFlags(f, c);
  args.insert(args.begin(), "spotguard-agent");
  auto r = f.Parse(static_cast<int>(args.size()), args.data(), [](const std::string&) { return std::nullopt; });
  if (!r.ok()) return r.status();
  return Validate(c);
}

// Verifies a minimal valid configuration and each refused value.
TEST(AgentConfigTest, ValidatesEachFlag) {
  EXPECT_TRUE(ParseAndValidate({"--node_name=n1"}).ok());
  EXPECT_THAT(std::string(ParseAndValidate({}).message()), ::testing::HasSubstr("--node_name"));
  EXPECT_FALSE(ParseAndValidate({"--node_name=n1", "--cloud=oracle"}).ok());
  EXPECT_FALSE(ParseAndValidate({"--node_name=n1", "--poll_interval=100ms"}).ok());
  EXPECT_FALSE(ParseAndValidate({"--node_name=n1", "--taint_effect=Maybe"}).ok());
  EXPECT_THAT(std::string(ParseAndValidate({"--node_name=n1", "--azure_freeze_action=drain"}).message()),
              ::testing::HasSubstr("--azure_freeze_action"));
  EXPECT_TRUE(ParseAndValidate({"--node_name=n1", "--poll_interval=250ms", "--rebalance_action=cordon"}).ok());
}

}  // namespace
}  // namespace spotguard::agent
