// A real Spark job through an Azure Preempt, with spotguard and without (test/spark/scenario.h):
// a driver creates its executor pods through the real API server with manifests/spark as
// shipped — in client mode from this machine, in cluster mode from its own pod on an on-demand
// node, submitted by spark-submit or by the Kubeflow Spark operator — spotguard-scheduler places them on the spot pool's kwok nodes, the Spark pod runner
// runs their JVMs; in the middle of the shuffle's reduce stage executor 1's node gets a
// Preempt with 30 s of notice, and at its NotBefore the VM is taken.
#include <fstream>

#include "absl/strings/match.h"
#include "common/kube/resources.h"
#include "gtest/gtest.h"
#include "test/e2e/controlplane.h"
#include "test/spark/scenario.h"
#include "test/spark/spark_job.h"

namespace spotguard::e2e {
namespace {

class SparkE2E : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    auto home = spark::SparkHome();
    ASSERT_TRUE(home.ok()) << home.status();
    auto jar = spark::BuildShuffleJobJar(*home, cp().dir() + "/" + UniqueName("shuffle-job"));
    ASSERT_TRUE(jar.ok()) << jar.status();
    options_ = {.cloud = spark::Cloud::kAzure, .spark_home = *home, .jar = *jar};
  }

  spark::ScenarioResult Run(spark::Handler handler, spark::DeployMode mode = spark::DeployMode::kClient) {
    options_.handler = handler;
    options_.deploy_mode = mode;
    auto result = spark::RunScenario(cp(), options_);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    std::cerr << "spark outcome with " << spark::HandlerName(handler) << ": " << spark::Summary(result->outcome) << "\n";
    return *result;
  }

  spark::ScenarioOptions options_;
};

// A driver pod's run: its pods made from the shipped templates (their labels and scheduler),
// the driver on the on-demand node, the doomed executor decommissioned, no map output
// recomputed, and everything the driver asked of the API server its Role allowed.
void ExpectDriverPodOnDemandAndNothingRecomputed(const spark::ScenarioResult& r) {
  ASSERT_FALSE(r.doomed.empty());
  EXPECT_EQ(kube::StringAt(r.driver_pod, {"metadata", "labels", "spotguard.io/workload"}), "spark-driver");
  EXPECT_EQ(kube::StringAt(r.driver_pod, {"spec", "schedulerName"}), "spotguard-scheduler");
  ASSERT_FALSE(r.executor_pods.empty());
  for (const kube::Json& pod : r.executor_pods) {
    EXPECT_EQ(kube::StringAt(pod, {"metadata", "labels", "spotguard.io/workload"}), "spark-executor");
    EXPECT_EQ(kube::StringAt(pod, {"spec", "schedulerName"}), "spotguard-scheduler");
  }
  EXPECT_TRUE(absl::EndsWith(r.driver_node, "-ondemand")) << "the driver ran on " << r.driver_node;
  EXPECT_EQ(r.outcome.map_outputs_recomputed, 0);
  EXPECT_EQ(r.outcome.executors_decommissioned, 1);
  std::ifstream log(r.driver_log);
  ASSERT_TRUE(log.good()) << r.driver_log;
  for (std::string line; std::getline(log, line);) EXPECT_FALSE(absl::StrContains(line, "is forbidden")) << line;
}

// Verifies spotguard decommissions the doomed node's executor inside Azure's 30 s: its
// shuffle blocks migrate and no map output is recomputed. (Reduce tasks that start on other
// executors right after it leaves may still fail once, fetching from its old address — their
// executors cached the map output locations — and their stage is retried without recomputing
// a map: Spark's own behaviour, visible in the outcome line.)
TEST_F(SparkE2E, PreemptWithSpotguardRecomputesNothing) {
  spark::ScenarioResult r = Run(spark::Handler::kSpotguard);
  ASSERT_FALSE(r.doomed.empty());
  EXPECT_EQ(r.outcome.map_outputs_recomputed, 0);
  EXPECT_EQ(r.outcome.failed_by_reason["ExecutorLostFailure"], 0);
  EXPECT_EQ(r.outcome.executors_decommissioned, 1);
  int decommissioned = 0;
  for (const auto& [pod, end] : r.pods) {
    if (end.node != r.doomed) continue;
    decommissioned += end.decommissioned;
    EXPECT_FALSE(end.reclaimed) << pod << " was still on the node when the VM went";
  }
  EXPECT_EQ(decommissioned, 1) << "the doomed node's executor was not decommissioned through its preStop hook";
}

// Verifies the twin without a notice handler loses work: the same job placed the same way, the
// same Preempt, but no agent on the node — the VM goes with the executor's shuffle output, and
// its map tasks run again.
TEST_F(SparkE2E, PreemptWithoutSpotguardRecomputesMapOutputs) {
  spark::ScenarioResult r = Run(spark::Handler::kNone);
  ASSERT_FALSE(r.doomed.empty());
  EXPECT_GT(r.outcome.map_outputs_recomputed, 0);
  EXPECT_GT(r.outcome.stage_retries, 0);
  EXPECT_EQ(r.outcome.executors_decommissioned, 0);
  int reclaimed = 0;
  for (const auto& [pod, end] : r.pods) reclaimed += end.reclaimed;
  EXPECT_EQ(reclaimed, 1);
}

// Verifies the cluster-mode setup as shipped: spark-submit creates the driver pod, the driver
// template keeps it to the on-demand node, the driver runs as manifests/spark/driver-rbac.yaml's
// ServiceAccount (its Role is all it may do) and creates the executors itself — and the
// Preempt still costs no map output.
TEST_F(SparkE2E, ClusterModeDriverOnDemandPreemptWithSpotguardRecomputesNothing) {
  spark::ScenarioResult r = Run(spark::Handler::kSpotguard, spark::DeployMode::kCluster);
  ExpectDriverPodOnDemandAndNothingRecomputed(r);
}

// Verifies the Spark operator's setup as README gives it: a SparkApplication with
// spark-defaults.conf's keys in spec.sparkConf and the shipped templates in
// spec.driver/executor.template, submitted by the real operator — driver on the on-demand
// node, executors decommissioned through the Preempt, nothing recomputed.
TEST_F(SparkE2E, OperatorSparkApplicationPreemptWithSpotguardRecomputesNothing) {
  spark::ScenarioResult r = Run(spark::Handler::kSpotguard, spark::DeployMode::kOperator);
  ExpectDriverPodOnDemandAndNothingRecomputed(r);
}

}  // namespace
}  // namespace spotguard::e2e
