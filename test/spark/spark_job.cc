#include "test/spark/spark_job.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace spotguard::spark {
namespace {

// 'path' for sh, with any ' inside escaped.
std::string Quote(const std::string& s) { return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'"); }

// Runs a shell command; its combined output, or kInternal with it on a non-zero exit.
absl::StatusOr<std::string> Run(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return absl::InternalError(absl::StrCat("cannot run: ", command));
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return absl::InternalError(absl::StrCat("`", command, "` failed (status ", rc, "):\n", out));
  }
  return out;
}

// Whether `tool` is an executable on PATH.
bool OnPath(const std::string& tool) { return Run("command -v " + Quote(tool)).ok(); }

}  // namespace

std::string SourceDir() {
  if (const char* d = std::getenv("SPOTGUARD_SOURCE_DIR"); d != nullptr && *d != '\0') return d;
  return SPOTGUARD_SOURCE_DIR;
}

absl::StatusOr<std::string> SparkHome() {
  std::string home;
  if (const char* h = std::getenv("SPARK_HOME"); h != nullptr && *h != '\0') {
    home = h;
  } else {
    absl::StatusOr<std::string> out = Run(Quote(SourceDir() + "/scripts/fetch-spark.sh"));
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
  const std::string source = SourceDir() + "/test/spark/ShuffleJob.java";
  if (!std::filesystem::exists(source, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, " not found: set SPOTGUARD_SOURCE_DIR to the spotguard source tree"));
  }
  const std::string classes = out_dir + "/shuffle-job-classes";
  const std::string jar = out_dir + "/shuffle-job.jar";
  std::filesystem::remove_all(classes, ec);
  std::filesystem::create_directories(classes, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", classes, ": ", ec.message()));
  absl::StatusOr<std::string> javac = Run(absl::StrCat("javac -nowarn -d ", Quote(classes), " -cp ",
                                                       Quote(spark_home + "/jars/*"), " ", Quote(source)));
  if (!javac.ok()) return javac.status();
  absl::StatusOr<std::string> packed = Run(absl::StrCat("jar cf ", Quote(jar), " -C ", Quote(classes), " ."));
  if (!packed.ok()) return packed.status();
  return jar;
}

}  // namespace spotguard::spark
