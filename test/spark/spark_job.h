// The Spark job spotguard's Spark tests and benchmarks run (test/spark/ShuffleJob.java), built
// into a jar against a real Spark, and where that Spark is.
//
// Example:
//   absl::StatusOr<std::string> home = SparkHome();              // ~/.cache/spotguard/spark-4.0.1
//   absl::StatusOr<std::string> jar = BuildShuffleJobJar(*home, dir);  // dir + "/shuffle-job.jar"
//   // spark-submit --class spotguard.ShuffleJob <jar> 12 12 1000 2000 2000
//
// The sources are found under e2e::SourceDir(): $SPOTGUARD_SOURCE_DIR (what test/CMakeLists.txt's
// spotguard_test gives e2e tests), else the source tree this library was built from.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace spotguard::spark {

// The job's main class, for spark-submit --class.
inline constexpr char kShuffleJobClass[] = "spotguard.ShuffleJob";


// The Spark to run: $SPARK_HOME if set, else the one scripts/fetch-spark.sh prints (it fetches
// Spark into ~/.cache/spotguard once, then answers from the cache). kFailedPrecondition when
// that directory has no bin/spark-submit or the script fails (its output in the message).
absl::StatusOr<std::string> SparkHome();

// Compiles ShuffleJob.java with javac against spark_home's jars and packs it with jar into
// out_dir/shuffle-job.jar (out_dir is created; classes go to out_dir/shuffle-job-classes);
// returns the jar's path. kFailedPrecondition naming what is missing: javac or jar (a JDK,
// scripts/deps.sh), spark_home's jars/, or the source; kInternal with javac's output when it
// does not compile.
absl::StatusOr<std::string> BuildShuffleJobJar(const std::string& spark_home, const std::string& out_dir);

}  // namespace spotguard::spark
