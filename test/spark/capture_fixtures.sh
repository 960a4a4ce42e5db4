#!/usr/bin/env bash
# Captures the real Spark event logs in test/fixtures/spark/ that event_log_test.cc checks:
# test/spark/ShuffleJob.java run on this machine's Spark in local-cluster mode (a master and
# workers inside the driver JVM, each executor a separate JVM, so a signal reaches exactly one
# executor), one run per scenario:
#
#   clean                    nothing happens to the executors
#   executor-killed          one executor JVM SIGKILLed in the middle of the reduce stage
#   executor-decommissioned  one executor sent SIGPWR at the same moment (what Spark's
#                            /opt/decom.sh preStop hook does on Kubernetes), with decommissioning
#                            and shuffle-block migration on; it migrates its blocks and exits
#
# Decommissioning quirk: an executor that has migrated every shuffle block still waits for the
# migrator's next round (spark.storage.decommission.replicationReattemptInterval, 30 s by
# default) before it counts the migration finished and exits; the job here is shorter than
# that, so the capture sets it to 2 s, or the executor would outlive the job and the log would
# show no decommissioned executor at all.
#
# How local-cluster differs from Kubernetes here (the signals and Spark's reactions are the
# same; the cluster manager's reporting is not):
#   - a removal reason comes from the standalone worker ("Command exited with code 137");
#     on Kubernetes the driver words it from the pod's status;
#   - a decommissioned executor is removed twice: "Executor decommission: ..." when it reports
#     itself done, then "Command exited with code 0" from the worker;
#   - the worker starts a replacement executor on its free core (executor 3), as Kubernetes'
#     pod allocator would ask for a new pod;
#   - SIGPWR goes straight to the executor JVM, which is what /opt/decom.sh does in the pod.
# Even decommissioned, the run shows FetchFailed (3 in each capture so far): reduce tasks
# launched seconds after the executor had gone still fetched from it — the executors' logs show
# their map-output-location cache last refreshed when the reduce stage started, before the
# migration — then the stages are resubmitted, the map stage with 0 tasks, since every output
# is still there on its new executor. Nothing is recomputed; the failed reducers' time is lost.
#
# "The middle of the reduce stage" is REDUCE_MS*3/2 after the map stage's StageCompleted event
# reaches the event log (Spark flushes the log on that event): every map output is written and
# the second wave of reduce tasks is running.
#
#   test/spark/capture_fixtures.sh [OUT_DIR] [SCENARIO...]   # default: test/fixtures/spark, all three
#
# Env: SPARK_HOME (default: scripts/fetch-spark.sh), MAPS, REDUCES, MAP_MS, REDUCE_MS,
# RECORDS (the job's arguments; defaults 12 12 1000 2000 2000), KEEP=1 keeps the work directory.
# Writes OUT_DIR/<scenario>.json.gz (the uncompressed, unrolled event log, gzipped) and prints
# each run's result line; the three must be equal, since the job's data is deterministic.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/test/fixtures/spark}
shift || true
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(clean executor-killed executor-decommissioned)
MAPS=${MAPS:-12} REDUCES=${REDUCES:-12} MAP_MS=${MAP_MS:-1000} REDUCE_MS=${REDUCE_MS:-2000}
RECORDS=${RECORDS:-2000}

spark_home=${SPARK_HOME:-$("$root/scripts/fetch-spark.sh")}
for tool in java javac jar gzip; do
  command -v "$tool" >/dev/null || { echo "capture: missing $tool: run scripts/deps.sh" >&2; exit 1; }
done
[ -x "$spark_home/bin/spark-submit" ] || { echo "capture: no bin/spark-submit in SPARK_HOME=$spark_home" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/spotguard-capture-XXXXXX")
driver=
cleanup() {
  [ -n "$driver" ] && kill -9 "$driver" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "capture: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A private SPARK_HOME of symlinks: local-cluster workers keep executors' stdout/stderr in
# $SPARK_HOME/work, which must not grow in the shared cache.
mkdir -p "$work/spark-home"
for d in bin sbin jars; do ln -s "$spark_home/$d" "$work/spark-home/$d"; done
# (SPARK_SCALA_VERSION is not needed: the launcher finds jars/ there.)
export SPARK_HOME="$work/spark-home"

mkdir -p "$work/classes"
javac -nowarn -d "$work/classes" -cp "$spark_home/jars/*" "$root/test/spark/ShuffleJob.java"
jar cf "$work/shuffle-job.jar" -C "$work/classes" .

# The executor JVMs of our driver (local-cluster workers fork them from the driver JVM):
# prints the pid of the executor with the given id.
executor_pid() {
  local pid
  for pid in $(pgrep -P "$driver" -f CoarseGrainedExecutorBackend); do
    if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--executor-id $1 "; then echo "$pid"; return 0; fi
  done
  return 1
}

# Waits (up to 120 s) until the map stage (stage 0) has completed in the event log.
wait_map_stage_done() {
  local log=$1 i
  for i in $(seq 1 1200); do
    if grep -q '"Event":"SparkListenerStageCompleted","Stage Info":{"Stage ID":0,' "$log"/* 2>/dev/null; then
      return 0
    fi
    kill -0 "$driver" 2>/dev/null || { echo "capture: the driver exited before the map stage completed" >&2; return 1; }
    sleep 0.1
  done
  echo "capture: the map stage did not complete within 120 s" >&2
  return 1
}

mkdir -p "$out"
for scenario in "${scenarios[@]}"; do
  conf=()
  case "$scenario" in
    clean|executor-killed) ;;
    executor-decommissioned)
      conf=(--conf spark.decommission.enabled=true
            --conf spark.storage.decommission.enabled=true
            --conf spark.storage.decommission.shuffleBlocks.enabled=true
            --conf spark.storage.decommission.replicationReattemptInterval=2s) ;;
    *) echo "capture: unknown scenario $scenario" >&2; exit 2 ;;
  esac
  logdir="$work/logs-$scenario"
  mkdir -p "$logdir"
  # Spark 4 rolls and zstd-compresses event logs by default; one plain file is what we keep.
  "$SPARK_HOME/bin/spark-submit" \
    --master 'local-cluster[3,1,1024]' \
    --conf spark.eventLog.enabled=true \
    --conf "spark.eventLog.dir=file://$logdir" \
    --conf spark.eventLog.rolling.enabled=false \
    --conf spark.eventLog.compress=false \
    --conf spark.ui.enabled=false \
    "${conf[@]}" \
    --class spotguard.ShuffleJob "$work/shuffle-job.jar" \
    "$MAPS" "$REDUCES" "$MAP_MS" "$REDUCE_MS" "$RECORDS" \
    > "$work/$scenario.out" 2> "$work/$scenario.err" &
  driver=$!
  if [ "$scenario" != clean ]; then
    wait_map_stage_done "$logdir"
    sleep "$(awk "BEGIN { print $REDUCE_MS * 1.5 / 1000 }")"
    victim=$(executor_pid 1) || { echo "capture: no executor 1 under driver $driver" >&2; exit 1; }
    if [ "$scenario" = executor-killed ]; then sig=KILL; else sig=PWR; fi
    echo "capture: $scenario: SIG$sig to executor 1 (pid $victim)" >&2
    kill -s "$sig" "$victim"
  fi
  rc=0
  wait "$driver" || rc=$?
  driver=
  if [ "$rc" != 0 ]; then
    echo "capture: $scenario: spark-submit exited $rc; its log:" >&2
    tail -50 "$work/$scenario.err" >&2
    exit 1
  fi
  files=("$logdir"/*)
  [ ${#files[@]} = 1 ] && [ -f "${files[0]}" ] || { echo "capture: expected one event log in $logdir" >&2; exit 1; }
  gzip -9 -n -c "${files[0]}" > "$out/$scenario.json.gz"
  echo "capture: $scenario: $(cat "$work/$scenario.out") -> $out/$scenario.json.gz ($(stat -c %s "$out/$scenario.json.gz") bytes)" >&2
  if ! cmp -s "$work/$scenario.out" "$work/${scenarios[0]}.out"; then
    echo "capture: $scenario printed another result than ${scenarios[0]}: the job is not deterministic" >&2
    exit 1
  fi
done
