#include "test/spark/spark_job.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spotguard::spark {
namespace {

using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/spark_job_test-", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// stdout of `command` (stderr dropped), and whether it exited 0.
std::pair<std::string, bool> Output(const std::string& command) {
  FILE* p = popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return {"", false};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  return {out, WIFEXITED(rc) && WEXITSTATUS(rc) == 0};
}

// Verifies the job builds against the real Spark and prints the same line as on every other
// run and machine (its data is a pure function of its arguments).
TEST(SparkJobTest, BuildsAndRunsDeterministically) {
  absl::StatusOr<std::string> home = SparkHome();
  ASSERT_TRUE(home.ok()) << home.status();
  absl::StatusOr<std::string> jar = BuildShuffleJobJar(*home, FreshDir("build"));
  ASSERT_TRUE(jar.ok()) << jar.status();
  ASSERT_TRUE(std::filesystem::exists(*jar)) << *jar;
  auto [out, ok] = Output(absl::StrCat("SPARK_HOME='", *home, "' '", *home,
                                       "/bin/spark-submit' --master 'local[2]' --conf spark.ui.enabled=false --class ",
                                       kShuffleJobClass, " '", *jar, "' 3 2 0 0 10"));
  EXPECT_TRUE(ok) << out;
  EXPECT_EQ(out, "ShuffleJob maps=3 reduces=2 records=30 bytes=3000 checksum=22830e04f1f975c1\n");
}

// Verifies a SPARK_HOME without Spark in it is named in the error.
TEST(SparkJobTest, MissingSparkIsNamed) {
  std::string empty = FreshDir("empty-home");
  absl::StatusOr<std::string> jar = BuildShuffleJobJar(empty, FreshDir("out"));
  ASSERT_FALSE(jar.ok());
  EXPECT_EQ(jar.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(jar.status().message(), HasSubstr("SPARK_HOME=" + empty + " has no jars/"));

  const char* saved = getenv("SPARK_HOME");
  std::string restore = saved != nullptr ? saved : "";
  setenv("SPARK_HOME", empty.c_str(), 1);
  absl::StatusOr<std::string> home = SparkHome();
  if (saved != nullptr) setenv("SPARK_HOME", restore.c_str(), 1); else unsetenv("SPARK_HOME");
  ASSERT_FALSE(home.ok());
  EXPECT_EQ(home.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(home.status().message(), HasSubstr("has no bin/spark-submit"));
}

}  // namespace
}  // namespace spotguard::spark
