#include "test/spark/spark_job.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "test/e2e/controlplane.h"

namespace spotguard::spark {
namespace {

// 'path' for sh, with any ' inside escaped.
std::string Quote(const std::string& s) { return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'"); }

// Whether `tool` is an executable on PATH.
bool OnPath(const std::string& tool) { return e2e::Run("command -v " + Quote(tool)).ok(); }

}  // namespace

absl::StatusOr<std::string> SparkHome() {
  std::string home;
  if (const char* h = std::getenv("SPARK_HOME"); h != nullptr && *h != '\0') {
    home = h;
  } else {
    absl::StatusOr<std::string> out = e2e::Run(Quote(e2e::SourceDir() + "/scripts/fetch-spark.sh"));
    if (!out.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("SPARK_HOME is not set and scripts/fetch-spark.sh failed: ", out.status().message()));
    }
    // The script's progress goes to stderr (merged here); the path is its last line.
    absl::string_view text = absl::StripTrailingAsciiWhitespace(*out);
    home = std::string(text.substr(text.rfind('\n') == absl::string_view::npos ? 0 : text.rfind('\n') + 1));
  }
  std::error_code ec;
  if (!std::filesystem::exists(home + "/bin/spark-submit", ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("SPARK_HOME=", home, " has no bin/spark-submit (unset it to use scripts/fetch-spark.sh)"));
  }
  return home;
}

absl::StatusOr<std::string> BuildShuffleJobJar(const std::string& spark_home, const std::string& out_dir) {
  for (const char* tool : {"javac", "jar"}) {
    if (!OnPath(tool)) {
      return absl::FailedPreconditionError(
          absl::StrCat(tool, " is not on PATH: a JDK is needed to build the Spark job (scripts/deps.sh installs "
                             "openjdk-17-jdk-headless)"));
    }
  }
  std::error_code ec;
  if (spark_home.empty() || !std::filesystem::is_directory(spark_home + "/jars", ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("SPARK_HOME=", spark_home, " has no jars/ directory (see SparkHome(), scripts/fetch-spark.sh)"));
  }
  const std::string source = e2e::SourceDir() + "/test/spark/ShuffleJob.java";
  if (!std::filesystem::exists(source, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, " not found: set SPOTGUARD_SOURCE_DIR to the spotguard source tree"));
  }
  const std::string classes = out_dir + "/shuffle-job-classes";
  const std::string jar = out_dir + "/shuffle-job.jar";
  std::filesystem::remove_all(classes, ec);
  std::filesystem::create_directories(classes, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", classes, ": ", ec.message()));
  absl::StatusOr<std::string> javac = e2e::Run(absl::StrCat("javac -nowarn -d ", Quote(classes), " -cp ",
                                                       Quote(spark_home + "/jars/*"), " ", Quote(source)));
  if (!javac.ok()) return javac.status();
  absl::StatusOr<std::string> packed = e2e::Run(absl::StrCat("jar cf ", Quote(jar), " -C ", Quote(classes), " ."));
  if (!packed.ok()) return packed.status();
  return jar;
}

}  // namespace spotguard::spark
