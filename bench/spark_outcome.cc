// The work a spot eviction costs a real Spark job, under each notice handler, side by side.
//
// Each run runs the same shuffle job through the same eviction (test/spark/scenario.h: the
// notice lands once the map stage is over, the VM goes at the notice's time) once per cloud and
// handler, the arms interleaved run by run on one control plane:
//   azure: none, spotguard                    (a Preempt with 30 s of notice)
//   aws:   none, aws-node-termination-handler, spotguard   (a spot interruption, 2 minutes)
// (aws-node-termination-handler handles AWS only.) Figures from each job's own event log;
// medians over the runs.
//
//   spotguard-bench-spark [--runs=3] [--clouds=azure,aws] [--handlers=none,nth,spotguard] [--out=FILE]
#include <cstdio>
#include <fstream>
#include <map>

#include "absl/strings/str_format.h"
#include "bench/stats.h"
#include "common/log.h"
#include "test/e2e/controlplane.h"
#include "test/spark/scenario.h"
#include "test/spark/spark_job.h"

namespace spotguard::bench {
namespace {

using nlohmann::json;

struct Options {
  int runs = 3;
  std::vector<std::string> clouds = {"azure", "aws"};
  std::vector<std::string> handlers = {"none", "nth", "spotguard"};
  std::string out;
};

json ToJson(const spark::ScenarioResult& r) {
  const spark::SparkOutcome& o = r.outcome;
  return {{"job_s", absl::ToDoubleSeconds(o.job_duration)},
          {"tasks_launched", o.tasks_launched},
          {"min_tasks", o.min_tasks},
          {"failed_tasks", o.failed_tasks},
          {"failed_by_reason", o.failed_by_reason},
          {"stage_attempts", o.stage_attempts},
          {"stage_retries", o.stage_retries},
          {"map_outputs_recomputed", o.map_outputs_recomputed},
          {"executor_seconds_lost", o.executor_seconds_lost},
          {"executors_decommissioned", o.executors_decommissioned},
          {"summary", spark::Summary(o)}};
}

double Median(std::vector<double> v) { return Summarize(std::move(v)).p50; }

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-spark", "A real Spark job through a spot eviction, per notice handler.");
  flags.Add("runs", &o.runs, "Runs of every arm (medians over them)");
  flags.Add("clouds", &o.clouds, "azure (Preempt, 30 s), aws (spot interruption, 2 min)");
  flags.Add("handlers", &o.handlers, "none, nth (aws-node-termination-handler, AWS only), spotguard");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  std::vector<std::pair<spark::Cloud, spark::Handler>> arms;
  for (const std::string& c : o.clouds) {
    if (c != "azure" && c != "aws") return Fail(absl::InvalidArgumentError("unknown cloud " + c));
    const spark::Cloud cloud = c == "azure" ? spark::Cloud::kAzure : spark::Cloud::kAws;
    for (const std::string& h : o.handlers) {
      if (h != "none" && h != "nth" && h != "spotguard") return Fail(absl::InvalidArgumentError("unknown handler " + h));
      if (h == "nth" && cloud != spark::Cloud::kAws) continue;
      arms.emplace_back(cloud, h == "none"  ? spark::Handler::kNone
                               : h == "nth" ? spark::Handler::kNodeTerminationHandler
                                            : spark::Handler::kSpotguard);
    }
  }
  log::SetLevel(log::Level::kWarn);

  auto home = spark::SparkHome();
  if (!home.ok()) return Fail(home.status());
  auto cp = e2e::ControlPlane::Start();
  if (!cp.ok()) return Fail(cp.status());
  auto jar = spark::BuildShuffleJobJar(*home, (*cp)->dir() + "/shuffle-job");
  if (!jar.ok()) return Fail(jar.status());

  json results = {{"benchmark", "spark_outcome"}, {"runs_per_arm", o.runs}, {"arms", json::array()}};
  std::map<std::pair<spark::Cloud, spark::Handler>, std::vector<json>> samples;
  int failures = 0;
  for (int run = 0; run < o.runs; ++run) {
    for (const auto& [cloud, handler] : arms) {
      spark::ScenarioOptions so{.cloud = cloud, .handler = handler, .spark_home = *home, .jar = *jar};
      auto r = spark::RunScenario(**cp, so);
      if (!r.ok()) {
        std::fprintf(stderr, "%s / %s run %d FAILED: %s\n", spark::CloudName(cloud), spark::HandlerName(handler), run + 1,
                     std::string(r.status().message()).c_str());
        ++failures;
        continue;
      }
      std::fprintf(stderr, "%s / %s run %d: %s\n", spark::CloudName(cloud), spark::HandlerName(handler), run + 1,
                   spark::Summary(r->outcome).c_str());
      samples[{cloud, handler}].push_back(ToJson(*r));
    }
  }

  std::printf("| cloud | handler | runs | job (s) | tasks launched (min) | failed tasks | stage retries "
              "| map outputs recomputed | executor-s lost |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [arm, runs] : samples) {
    auto median = [&](const char* key) {
      std::vector<double> v;
      for (const json& r : runs) v.push_back(r[key].get<double>());
      return Median(v);
    };
    json a = {{"cloud", spark::CloudName(arm.first)}, {"handler", spark::HandlerName(arm.second)}, {"runs", runs}};
    for (const char* key : {"job_s", "tasks_launched", "min_tasks", "failed_tasks", "stage_retries",
                            "map_outputs_recomputed", "executor_seconds_lost"}) {
      a["median"][key] = median(key);
    }
    results["arms"].push_back(a);
    const json& m = a["median"];
    std::printf("| %s | %s | %zu | %.1f | %.0f (%.0f) | %.0f | %.0f | %.0f | %.1f |\n", spark::CloudName(arm.first),
                spark::HandlerName(arm.second), runs.size(), m["job_s"].get<double>(), m["tasks_launched"].get<double>(),
                m["min_tasks"].get<double>(), m["failed_tasks"].get<double>(), m["stage_retries"].get<double>(),
                m["map_outputs_recomputed"].get<double>(), m["executor_seconds_lost"].get<double>());
  }
  std::fflush(stdout);
  if (!o.out.empty()) std::ofstream(o.out) << results.dump(2) << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
