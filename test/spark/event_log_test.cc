#include "test/spark/event_log.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "test/e2e/controlplane.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/spark/spark_job.h"

namespace spotguard::spark {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// test/fixtures/spark/*.json.gz: real logs of ShuffleJob 12 12 1000 2000 2000 on Spark 4.0.1,
// local-cluster[3,1,1024], captured by test/spark/capture_fixtures.sh.
std::string Fixture(const std::string& name) { return e2e::SourceDir() + "/test/fixtures/spark/" + name + ".json.gz"; }

std::string Gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, n);
  gzclose(f);
  return out;
}

// A fresh directory under the test's temporary directory.
std::string FreshDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/event_log_test-", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Verifies every figure of a run where nothing happened to the executors.
TEST(EventLogTest, CleanRunNeedsNoMoreThanTheMinimum) {
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(Fixture("clean"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->spark_version, "4.0.1");
  EXPECT_EQ(o->app_name, "spotguard-shuffle-job");
  EXPECT_TRUE(absl::StartsWith(o->app_id, "app-")) << o->app_id;
  EXPECT_TRUE(o->complete);
  EXPECT_FALSE(o->truncated);
  EXPECT_EQ(o->app_duration, absl::Milliseconds(32757));
  ASSERT_EQ(o->jobs.size(), 1u);
  EXPECT_EQ(o->jobs[0].result, "JobSucceeded");
  EXPECT_EQ(o->job_duration, absl::Milliseconds(26375));
  EXPECT_EQ(o->jobs[0].completed - o->jobs[0].submitted, o->job_duration);
  EXPECT_EQ(o->tasks_launched, 24);
  EXPECT_EQ(o->min_tasks, 24);
  EXPECT_EQ(o->tasks_succeeded, 24);
  EXPECT_EQ(o->failed_tasks, 0);
  EXPECT_TRUE(o->failed_by_reason.empty());
  EXPECT_EQ(o->tasks_resubmitted, 0);
  EXPECT_EQ(o->stages, 2);
  EXPECT_EQ(o->stage_attempts, 2);
  EXPECT_THAT(o->stages_completed, testing::ElementsAre(0, 1));
  EXPECT_EQ(o->stage_retries, 0);
  EXPECT_EQ(o->failed_stage_attempts, 0);
  EXPECT_EQ(o->map_outputs_recomputed, 0);
  EXPECT_EQ(o->executors_added, 3);
  EXPECT_TRUE(o->removals.empty());
  EXPECT_EQ(o->executors_removed, 0);
  EXPECT_EQ(o->executors_decommissioned, 0);
  EXPECT_EQ(o->executor_seconds_lost, 0.0);
  EXPECT_EQ(Summary(*o),
            "24 tasks (min 24), 0 failed, 0 map outputs recomputed, 0 stage retries, 0.0 executor-s lost, job 26.4 s");
}

// Verifies a SIGKILLed executor mid-reduce: the task on it is lost, reducers hit FetchFailed,
// both stages are retried and the dead executor's four map outputs are computed again.
TEST(EventLogTest, KilledExecutorCostsRecomputedMapOutputs) {
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(Fixture("executor-killed"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->complete);
  EXPECT_EQ(o->jobs.at(0).result, "JobSucceeded");
  EXPECT_EQ(o->job_duration, absl::Milliseconds(32622));
  EXPECT_EQ(o->app_duration, absl::Milliseconds(39397));
  // 24 first attempts + 4 map recomputations + 10 reduce retries − the 6 never launched after
  // the first reduce attempt failed: 12 + 6 + 4 + 10.
  EXPECT_EQ(o->tasks_launched, 32);
  EXPECT_EQ(o->min_tasks, 24);
  EXPECT_EQ(o->tasks_succeeded, 28);
  EXPECT_EQ(o->failed_tasks, 4);
  EXPECT_THAT(o->failed_by_reason, ElementsAre(Pair("ExecutorLostFailure", 1), Pair("FetchFailed", 3)));
  EXPECT_EQ(o->tasks_resubmitted, 0);  // the map stage had finished: nothing to resubmit in it
  EXPECT_EQ(o->stages, 2);
  EXPECT_EQ(o->stage_attempts, 4);
  EXPECT_EQ(o->stage_retries, 2);
  EXPECT_EQ(o->failed_stage_attempts, 1);
  EXPECT_EQ(o->map_outputs_recomputed, 4);
  EXPECT_EQ(o->executors_added, 4);  // the worker started a replacement
  ASSERT_EQ(o->removals.size(), 1u);
  EXPECT_EQ(o->removals[0].executor_id, "1");
  EXPECT_EQ(o->removals[0].reason, "Command exited with code 137");
  EXPECT_FALSE(o->removals[0].decommissioned);
  EXPECT_EQ(o->executors_removed, 1);
  EXPECT_EQ(o->executors_decommissioned, 0);
  // Failed attempts 3.109 + 1.960 + 2.066 + 0.226 s, superseded map successes
  // 3.264 + 1.109 + 1.079 + 1.059 s.
  EXPECT_THAT(o->executor_seconds_lost, DoubleNear(13.872, 1e-9));
  EXPECT_EQ(Summary(*o),
            "32 tasks (min 24), 4 failed (3 FetchFailed, 1 ExecutorLostFailure), 4 map outputs recomputed, "
            "2 stage retries, 13.9 executor-s lost, job 32.6 s, executors 1 removed (0 decommissioned)");
}

// Verifies a decommissioned executor (SIGPWR) mid-reduce: its shuffle blocks migrate, so no
// map output is recomputed; reducers that had cached the old block locations still hit
// FetchFailed and the stages are resubmitted, the map stage with zero tasks.
TEST(EventLogTest, DecommissionedExecutorCostsNoRecompute) {
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(Fixture("executor-decommissioned"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->complete);
  EXPECT_EQ(o->jobs.at(0).result, "JobSucceeded");
  EXPECT_EQ(o->job_duration, absl::Milliseconds(33279));
  EXPECT_EQ(o->tasks_launched, 27);
  EXPECT_EQ(o->min_tasks, 24);
  EXPECT_EQ(o->tasks_succeeded, 24);
  EXPECT_EQ(o->failed_tasks, 3);
  EXPECT_THAT(o->failed_by_reason, ElementsAre(Pair("FetchFailed", 3)));
  EXPECT_EQ(o->stage_attempts, 4);
  EXPECT_EQ(o->stage_retries, 2);
  EXPECT_EQ(o->map_outputs_recomputed, 0);
  EXPECT_EQ(o->executors_added, 4);
  ASSERT_EQ(o->removals.size(), 2u);
  EXPECT_EQ(o->removals[0].executor_id, "1");
  EXPECT_EQ(o->removals[0].reason, "Executor decommission: Executor 1 is decommissioned.");
  EXPECT_TRUE(o->removals[0].decommissioned);
  EXPECT_EQ(o->removals[1].executor_id, "1");
  EXPECT_EQ(o->removals[1].reason, "Command exited with code 0");
  EXPECT_FALSE(o->removals[1].decommissioned);
  EXPECT_EQ(o->executors_removed, 1);
  EXPECT_EQ(o->executors_decommissioned, 1);
  EXPECT_THAT(o->executor_seconds_lost, DoubleNear(5.835, 1e-9));
}

// Verifies the point of decommissioning as the figures show it: same job, same moment, less
// work thrown away than a kill.
TEST(EventLogTest, DecommissionThrowsAwayLessThanAKill) {
  absl::StatusOr<SparkOutcome> killed = AnalyzeEventLog(Fixture("executor-killed"));
  absl::StatusOr<SparkOutcome> decommissioned = AnalyzeEventLog(Fixture("executor-decommissioned"));
  ASSERT_TRUE(killed.ok() && decommissioned.ok());
  EXPECT_LT(decommissioned->map_outputs_recomputed, killed->map_outputs_recomputed);
  EXPECT_LT(decommissioned->executor_seconds_lost, killed->executor_seconds_lost);
  EXPECT_LT(decommissioned->tasks_launched, killed->tasks_launched);
}

// Verifies a running application's log, cut in the middle of a line as a reader can find it.
TEST(EventLogTest, InProgressLogWithCutLastLine) {
  std::string text = Gunzip(Fixture("clean"));
  // Cut inside the line that holds the first reduce-stage TaskEnd.
  size_t at = text.find("\"Event\":\"SparkListenerTaskEnd\",\"Stage ID\":1,");
  ASSERT_NE(at, std::string::npos);
  std::string dir = FreshDir("inprogress");
  std::string path = WriteFile(dir + "/app-1.inprogress", text.substr(0, at + 100));
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(path);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->truncated);
  EXPECT_FALSE(o->complete);
  EXPECT_EQ(o->app_duration, absl::ZeroDuration());
  EXPECT_EQ(o->job_duration, absl::ZeroDuration());
  ASSERT_EQ(o->jobs.size(), 1u);
  EXPECT_EQ(o->jobs[0].result, "");
  EXPECT_EQ(o->tasks_succeeded, 12);  // the map stage, and no reduce task yet
  EXPECT_THAT(o->stages_completed, testing::ElementsAre(0));
  EXPECT_EQ(o->min_tasks, 24);        // both stages were submitted
  EXPECT_THAT(Summary(*o), HasSubstr(", incomplete"));
}

// Verifies a gzipped log cut short (a copy taken while it was being written): what was
// decoded is analysed.
TEST(EventLogTest, CutGzippedLog) {
  std::ifstream in(Fixture("executor-killed"), std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string dir = FreshDir("cut-gzip");
  std::string path = WriteFile(dir + "/app-1.inprogress", gz.substr(0, gz.size() * 8 / 10));
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(path);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->complete);
  EXPECT_TRUE(o->truncated);
  // The first 80 % of the gzip decodes to 157747 bytes: 16 whole TaskStart lines, the map stage.
  EXPECT_EQ(o->tasks_launched, 16);
  EXPECT_EQ(o->tasks_succeeded, 12);
}

// Verifies that events this reader does not know are skipped, wherever they are.
TEST(EventLogTest, UnknownEventsAreSkipped) {
  std::string text = Gunzip(Fixture("clean"));
  size_t mid = text.find('\n', text.size() / 2) + 1;
  text.insert(mid, "{\"Event\":\"org.example.CustomListenerEvent\",\"Stage ID\":\"not a number\"}\n");
  text.insert(0, "{\"Event\":\"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart\"}\n");
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLogText(text);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tasks_launched, 24);
  EXPECT_EQ(o->min_tasks, 24);
  EXPECT_TRUE(o->complete);
}

// Verifies a rolling log directory (Spark 4's default layout) is read part by part, in the
// numeric order of the parts (events_2 before events_10).
TEST(EventLogTest, RollingLogDirectory) {
  std::string text = Gunzip(Fixture("executor-killed"));
  size_t mid = text.find('\n', text.size() / 2) + 1;
  std::string dir = FreshDir("eventlog_v2_app-1");
  WriteFile(dir + "/events_2_app-1", text.substr(0, mid));
  WriteFile(dir + "/events_10_app-1", text.substr(mid));
  WriteFile(dir + "/appstatus_app-1", "");
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(dir);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tasks_launched, 32);
  EXPECT_EQ(o->map_outputs_recomputed, 4);
  EXPECT_TRUE(o->complete);
  EXPECT_FALSE(o->truncated);
}

// Verifies that what is not a readable Spark event log is refused with a reason.
TEST(EventLogTest, MalformedInput) {
  std::string clean = Gunzip(Fixture("clean"));
  size_t second_line = clean.find('\n') + 1;
  struct Case {
    std::string name;
    std::string text;
    std::string error;
  } cases[] = {
      {"empty", "", "no Spark events"},
      {"blank lines", "\n\n  \n", "no Spark events"},
      {"garbage", "hello, world\n", "line 1 is not JSON"},
      {"one cut line and nothing else", "{\"Event\":\"SparkListenerLogStart\",\"Spark", "line 1 is not JSON"},
      {"binary", std::string("\x28\xb5\x2f\xfd\x00\x01", 6), "line 1 is not JSON"},
      {"not an object", "[1,2,3]\n", "line 1 is not a Spark event"},
      {"no Event", "{\"Stage ID\":1}\n", "line 1 is not a Spark event"},
      {"Event not a string", "{\"Event\":7}\n", "line 1 is not a Spark event"},
      {"broken line in the middle", clean.substr(0, second_line) + "{\"Event\":\"Spark\n" + clean.substr(second_line),
       "line 2 is not JSON"},
      {"field of the wrong type", "{\"Event\":\"SparkListenerTaskEnd\",\"Task Info\":5}\n",
       "line 1 (SparkListenerTaskEnd)"},
      {"required field missing", "{\"Event\":\"SparkListenerJobStart\",\"Job ID\":0}\n",
       "line 1 (SparkListenerJobStart)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SparkOutcome> o = AnalyzeEventLogText(c.text, "x.log");
    ASSERT_FALSE(o.ok()) << c.name;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(o.status().message(), HasSubstr(c.error)) << c.name << ": " << o.status();
    EXPECT_THAT(o.status().message(), HasSubstr("x.log")) << c.name;
  }
}

// Verifies the file-level refusals: a missing path, Spark's own codecs, a directory that is
// not a rolling log.
TEST(EventLogTest, UnreadableFiles) {
  std::string dir = FreshDir("unreadable");
  absl::StatusOr<SparkOutcome> missing = AnalyzeEventLog(dir + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  for (std::string name : {"app-1.zstd", "events_1_app-1.lz4", "app-1.snappy.inprogress"}) {
    std::string path = WriteFile(dir + "/" + name, "\x28\xb5\x2f\xfd");
    absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(path);
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(o.status().message(), HasSubstr("spark.eventLog.compress=false")) << name;
  }

  std::string empty_dir = FreshDir("not-rolling");
  absl::StatusOr<SparkOutcome> o = AnalyzeEventLog(empty_dir);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), HasSubstr("events_<n>_<app>"));
}

}  // namespace
}  // namespace spotguard::spark
