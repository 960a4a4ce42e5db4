// What a Spark application's event log says happened to it: how much work it did, how much of
// that was thrown away and why, which executors came and went. The Spark tests and benchmarks
// compare runs by these figures (a decommissioned executor should cost no recomputed map
// outputs; a killed one costs some).
//
// The input is the event log Spark writes with spark.eventLog.enabled=true: one JSON object
// per line, each with an "Event" field naming a SparkListener event, the fields spelled as in
// Spark's JsonProtocol.scala (core/src/main/scala/org/apache/spark/util/JsonProtocol.scala).
// Accepted forms:
//   - one file, plain or gzipped (as test/fixtures/spark/ keeps them), finished or
//     `.inprogress` (a still-running or crashed application: its last line may be cut short
//     and is then ignored);
//   - a rolling log directory (`eventlog_v2_<app>`, Spark 4's default layout): its
//     `events_<n>_<app>` parts in order, if plain or gzipped. Spark's own codecs (zstd, the
//     default, lz4, lzf, snappy) are refused with a message naming spark.eventLog.compress.
// Events this file does not use are skipped; a line that is not a JSON object with a string
// "Event" (anywhere but a cut-short last line) makes the whole log invalid.
//
// Example:
//   absl::StatusOr<SparkOutcome> o = AnalyzeEventLog("test/fixtures/spark/clean.json.gz");
//   o->tasks_launched;          // 24: 12 map + 12 reduce tasks
//   o->min_tasks;               // 24
//   o->map_outputs_recomputed;  // 0
//   Summary(*o);  // "24 tasks (min 24), 0 failed, 0 map outputs recomputed, 0 stage retries,
//                 //  0.0 executor-s lost, job 26.4 s"
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace spotguard::spark {

// One SparkListenerExecutorRemoved event.
struct ExecutorRemoval {
  std::string executor_id;
  // "Removed Reason" as Spark wrote it, e.g. "Command exited with code 137" (a standalone or
  // local-cluster worker saw the JVM die of SIGKILL) or "Executor decommission: ..." .
  std::string reason;
  // The reason starts with "Executor decommission" (Spark's ExecutorDecommission loss
  // reason): the executor was decommissioned — gracefully, whether or not it finished
  // migrating before it went.
  bool decommissioned = false;
};

// One Spark job: SparkListenerJobStart → SparkListenerJobEnd.
struct SparkJob {
  int64_t id = 0;
  absl::Time submitted = absl::InfinitePast();  // JobStart "Submission Time"
  absl::Time completed = absl::InfinitePast();  // JobEnd "Completion Time"; InfinitePast if none
  std::string result;                           // "JobSucceeded", "JobFailed"; empty if no JobEnd
};

struct SparkOutcome {
  std::string app_id;         // ApplicationStart "App ID"
  std::string app_name;       // ApplicationStart "App Name"
  std::string spark_version;  // LogStart "Spark Version"
  // An ApplicationEnd event was read (false for a running or crashed application's log).
  bool complete = false;
  // The last line was cut short (not JSON) and ignored; only tolerated at the very end.
  bool truncated = false;

  // ApplicationStart "Timestamp" → ApplicationEnd "Timestamp"; zero unless both were read.
  absl::Duration app_duration;
  // Jobs in the order they started.
  std::vector<SparkJob> jobs;
  // The first job's submission → the last job end; zero unless a job ended.
  absl::Duration job_duration;

  // Task attempts started: SparkListenerTaskStart events (every attempt: retries,
  // speculative copies, recomputations).
  int64_t tasks_launched = 0;
  // The task attempts the application needed had nothing gone wrong: for each stage ID
  // submitted, the "Number of Tasks" of its first submitted attempt (a retried attempt
  // runs only the missing partitions and is not counted again). Stages skipped because an
  // earlier job computed them are never submitted and not counted.
  int64_t min_tasks = 0;
  // Task attempts that ended successfully (TaskEnd reason "Success").
  int64_t tasks_succeeded = 0;
  // Task attempts that ended in failure: TaskEnd reasons other than "Success" and
  // "Resubmitted" (a Resubmitted TaskEnd reports an earlier success whose output was lost,
  // not an attempt that ran), keyed by that reason: "FetchFailed", "ExecutorLostFailure",
  // "TaskKilled", "ExceptionFailure", "TaskResultLost", "TaskCommitDenied", "UnknownReason".
  int64_t failed_tasks = 0;
  std::map<std::string, int64_t> failed_by_reason;
  // Successful shuffle-map tasks the scheduler declared lost and queued again ("Resubmitted").
  int64_t tasks_resubmitted = 0;

  // StageSubmitted events: each (stage ID, stage attempt) once.
  int64_t stage_attempts = 0;
  // Distinct stage IDs submitted.
  int64_t stages = 0;
  // stage_attempts − stages: attempts beyond each stage's first (retries after FetchFailed,
  // or of a map stage whose outputs were lost).
  int64_t stage_retries = 0;
  // StageCompleted events carrying a "Failure Reason".
  int64_t failed_stage_attempts = 0;
  // Stage IDs with a StageCompleted event carrying none.
  std::set<int64_t> stages_completed;

  // Work redone: successful ShuffleMapTask attempts for a (stage ID, partition) that had
  // already succeeded in an earlier attempt (its output having been lost with an executor).
  // A partition that succeeds three times counts twice.
  int64_t map_outputs_recomputed = 0;

  // SparkListenerExecutorAdded events.
  int64_t executors_added = 0;
  // SparkListenerExecutorRemoved events, in log order. One executor can be removed twice:
  // a standalone or local-cluster driver logs a decommissioned executor's loss
  // ("Executor decommission: ...") and then its worker's report of the exit ("Command exited
  // with code 0").
  std::vector<ExecutorRemoval> removals;
  // Distinct executor IDs removed, and of those, the ones removed as decommissioned.
  int64_t executors_removed = 0;
  int64_t executors_decommissioned = 0;

  // Executor time thrown away, in seconds: the wall time (Task Info "Finish Time" − "Launch
  // Time") of every failed task attempt, plus that of every successful shuffle-map attempt
  // whose output was later recomputed (the superseded successes counted in
  // map_outputs_recomputed). A lost output never recomputed (the job failed first) is not in it.
  double executor_seconds_lost = 0;
};

// Reads and analyses the event log at `path` (a file or a rolling-log directory, see above).
// kNotFound when it is not there; kInvalidArgument, naming the file and line, when it is not
// a Spark event log, holds no events, or is compressed with a codec this cannot read.
absl::StatusOr<SparkOutcome> AnalyzeEventLog(const std::string& path);

// The same, on a log's contents already in memory (JSON lines, uncompressed). `name` is only
// used in error messages.
absl::StatusOr<SparkOutcome> AnalyzeEventLogText(absl::string_view text, absl::string_view name = "event log");

// One line for logs and reports:
// "24 tasks (min 24), 0 failed, 0 map outputs recomputed, 0 stage retries, 0.0 executor-s lost,
//  job 26.4 s", followed by ", executors 1 removed (1 decommissioned)" when any were removed,
// and ", incomplete" when the log has no ApplicationEnd. The failed count lists its reasons:
// "5 failed (3 FetchFailed, 2 ExecutorLostFailure)".
std::string Summary(const SparkOutcome& outcome);

}  // namespace spotguard::spark
