#include "common/flags.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spotguard {
namespace {

using ::testing::HasSubstr;

struct Config {
  std::string node_name;
  absl::Duration interval = absl::Seconds(1);
  bool dry_run = false;
  int workers = 4;
  double ratio = 0.5;
  std::vector<std::string> list = {"a"};
  std::string token;
};

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

struct Fixture {
  Config c;
  FlagSet f{"prog", "summary", "1.0"};
  Fixture() {
    f.Add("node_name", &c.node_name, "node").Env("NODE_NAME");
    f.Add("interval", &c.interval, "interval");
    f.Add("dry_run", &c.dry_run, "dry");
    f.Add("workers", &c.workers, "workers");
    f.Add("ratio", &c.ratio, "ratio");
    f.Add("list", &c.list, "list");
    f.Add("token", &c.token, "token").Secret();
  }
  absl::StatusOr<FlagSet::Outcome> Parse(std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), "prog");
    return f.Parse(static_cast<int>(args.size()), args.data(), Env(env));
  }
};

// Verifies defaults hold when nothing is set.
TEST(FlagsTest, DefaultsStay) {
  Fixture x;
  ASSERT_TRUE(x.Parse({}).ok());
  EXPECT_EQ(x.c.interval, absl::Seconds(1));
  EXPECT_EQ(x.f.SourceOf("interval"), "default");
}

// Verifies precedence: flag > SPOTGUARD_ env > extra env > default.
TEST(FlagsTest, FlagBeatsEnvBeatsAliasBeatsDefault) {
  Fixture a;
  ASSERT_TRUE(a.Parse({}, {{"NODE_NAME", "from-downward-api"}}).ok());
  EXPECT_EQ(a.c.node_name, "from-downward-api");
  EXPECT_EQ(a.f.SourceOf("node_name"), "env:NODE_NAME");

  Fixture b;
  ASSERT_TRUE(b.Parse({}, {{"NODE_NAME", "alias"}, {"SPOTGUARD_NODE_NAME", "primary"}}).ok());
  EXPECT_EQ(b.c.node_name, "primary");

  Fixture c;
  ASSERT_TRUE(c.Parse({"--node_name=flag"}, {{"SPOTGUARD_NODE_NAME", "env"}}).ok());
  EXPECT_EQ(c.c.node_name, "flag");
  EXPECT_EQ(c.f.SourceOf("node_name"), "flag");
}

// Verifies every value type parses from both forms: --k=v and --k v.
TEST(FlagsTest, ParsesTypes) {
  Fixture x;
  ASSERT_TRUE(x.Parse({"--interval=250ms", "--dry_run", "--workers", "9", "--ratio=0.25", "--list=x, y,z"}).ok());
  EXPECT_EQ(x.c.interval, absl::Milliseconds(250));
  EXPECT_TRUE(x.c.dry_run);
  EXPECT_EQ(x.c.workers, 9);
  EXPECT_DOUBLE_EQ(x.c.ratio, 0.25);
  EXPECT_EQ(x.c.list, (std::vector<std::string>{"x", "y", "z"}));
  Fixture y;
  ASSERT_TRUE(y.Parse({"--dry_run=false"}, {{"SPOTGUARD_DRY_RUN", "true"}}).ok());
  EXPECT_FALSE(y.c.dry_run);
}

// Verifies bad input names the flag or variable at fault.
TEST(FlagsTest, ErrorsNameTheCulprit) {
  EXPECT_THAT(std::string(Fixture().Parse({"--nope=1"}).status().message()), HasSubstr("unknown flag --nope"));
  EXPECT_THAT(std::string(Fixture().Parse({"--workers=many"}).status().message()), HasSubstr("--workers"));
  EXPECT_THAT(std::string(Fixture().Parse({"--interval=soon"}).status().message()), HasSubstr("duration"));
  EXPECT_THAT(std::string(Fixture().Parse({}, {{"SPOTGUARD_WORKERS", "x"}}).status().message()),
              HasSubstr("SPOTGUARD_WORKERS"));
  EXPECT_THAT(std::string(Fixture().Parse({"stray"}).status().message()), HasSubstr("unexpected argument"));
  EXPECT_THAT(std::string(Fixture().Parse({"--workers"}).status().message()), HasSubstr("needs a value"));
}

// Verifies --help and --version end the program without running it.
TEST(FlagsTest, HelpAndVersionExit) {
  EXPECT_EQ(*Fixture().Parse({"--help"}), FlagSet::Outcome::kExit);
  EXPECT_EQ(*Fixture().Parse({"--version"}), FlagSet::Outcome::kExit);
  Fixture x;
  EXPECT_THAT(x.f.Usage(), HasSubstr("--node_name string"));
  EXPECT_THAT(x.f.Usage(), HasSubstr("env SPOTGUARD_NODE_NAME, NODE_NAME"));
}

// Verifies the resolved config logged at start-up hides secrets.
TEST(FlagsTest, ResolvedConfigRedactsSecrets) {
  Fixture x;
  ASSERT_TRUE(x.Parse({"--token=hunter2", "--node_name=n1"}).ok());
  std::string resolved = x.f.ResolvedConfig();
  EXPECT_THAT(resolved, HasSubstr("\"node_name\":\"n1\""));
  EXPECT_THAT(resolved, HasSubstr("<redacted>"));
  EXPECT_THAT(resolved, ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace spotguard
