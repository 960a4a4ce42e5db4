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

// Verifies reports are verified TLS unless plaintext is asked for, and a client certificate
// comes with its key.
TEST(AgentConfigTest, TlsToTheExtenderByDefault) {
  EXPECT_FALSE(Config{}.insecure_plaintext);
  EXPECT_FALSE(Config{}.extender_ca_file.empty());
  EXPECT_THAT(std::string(ParseAndValidate({"--node_name=n1", "--extender_address=e:1", "--extender_ca_file="}).message()),
              ::testing::HasSubstr("--extender_ca_file is required"));
  EXPECT_TRUE(
      ParseAndValidate({"--node_name=n1", "--extender_address=e:1", "--extender_ca_file=", "--insecure_plaintext"}).ok());
  EXPECT_THAT(std::string(ParseAndValidate({"--node_name=n1", "--tls_cert_file=/c"}).message()),
              ::testing::HasSubstr("go together"));
}

}  // namespace
}  // namespace spotguard::agent
