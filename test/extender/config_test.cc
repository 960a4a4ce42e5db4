#include "extender/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spotguard::extender {
namespace {

absl::Status ParseAndValidate(std::vector<const char*> args) {
  Config c;
  FlagSet f("spotguard-extender", "");
  RegisterFlags(f, c);
  args.insert(args.begin(), "spotguard-extender");
  auto r = f.Parse(static_cast<int>(args.size()), args.data(), [](const std::string&) { return std::nullopt; });
  if (!r.ok()) return r.status();
  return Validate(c);
}

// Verifies the defaults are valid and each bad value is refused with its flag named.
TEST(ExtenderConfigTest, Validates) {
  EXPECT_TRUE(ParseAndValidate({}).ok());
  struct Case {
    const char* flag;
    const char* want;
  } cases[] = {
      {"--driver_selector==x", "--driver_selector"},
      {"--executor_selector=", "--executor_selector"},
      {"--risk_cap=0", "--risk_cap"},
      {"--on_demand_score=11", "--on_demand_score"},
      {"--keep_alive=60s", "90s"},
      {"--min_grace=20m", "--min_grace"},
      {"--tls_cert_file=", "--tls_cert_file, --tls_key_file and --scheduler_ca_file are required"},
      {"--scheduler_ca_file=", "(or --insecure_plaintext)"},
      {"--risk_prior_hours=0", "--risk_prior"},
  };
  for (const auto& c : cases) {
    absl::Status s = ParseAndValidate({c.flag});
    EXPECT_FALSE(s.ok()) << c.flag;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(c.want)) << c.flag;
  }
}

// Verifies TLS is the default and plaintext takes an explicit flag.
TEST(ExtenderConfigTest, TlsByDefault) {
  Config c;
  EXPECT_FALSE(c.insecure_plaintext);
  EXPECT_FALSE(c.tls_cert_file.empty());
  EXPECT_FALSE(c.scheduler_ca_file.empty());
  EXPECT_FALSE(c.debug_endpoints);
  EXPECT_NE(c.metrics_address, c.http_address);
  EXPECT_TRUE(ParseAndValidate({"--insecure_plaintext", "--tls_cert_file=", "--scheduler_ca_file="}).ok());
}

// Verifies the flags of token checking are validated.
TEST(ExtenderConfigTest, ValidatesAuthFlags) {
  EXPECT_TRUE(ParseAndValidate({"--token_review_qps=5", "--token_review_burst=10", "--auth_failure_ttl=0s",
                                "--local_token_verification=false", "--agent_pod_selector=app=agent"}).ok());
  for (const char* flag : {"--token_review_burst=0", "--agent_pod_selector==x", "--token_keys_refresh=1s",
                           "--auth_failure_ttl=-1s", "--auth_peer_failure_burst=0"}) {
    absl::Status s = ParseAndValidate({flag});
    EXPECT_FALSE(s.ok()) << flag;
    std::string name(flag);
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(name.substr(0, name.find('=')))) << flag;
  }
}

}  // namespace
}  // namespace spotguard::extender
