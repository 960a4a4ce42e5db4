// One real Spark job through one spot eviction, under one notice handler: the scenario the
// Spark e2e tests, the outcome benchmark and the demo all run.
//
//   1. Three spot nodes of the cloud's kind (AKS or EKS) of the run's own; spotguard-extender
//      and spotguard-scheduler (kube-scheduler calling it) place the executors under every
//      handler, so placement is the same and only the handling of the notice differs.
//   2. spark-submit on this machine with manifests/spark's spark-defaults.conf and pod
//      templates as shipped, three one-core executors on the run's spot pool (its pool label as
//      the executors' node selector, as a dedicated Spark pool is chosen), the shuffle job
//      (ShuffleJob.java). Client mode: the driver runs here, outside the cluster (a notebook's
//      kernel). Cluster mode: spark-submit creates the driver pod, which the driver template
//      keeps to the run's on-demand node, running as the ServiceAccount of
//      manifests/spark/driver-rbac.yaml. Operator mode: the same driver from a SparkApplication
//      the Kubeflow Spark operator submits (scripts/spark-operator.sh, watching the run's
//      namespace), written as README says (spark-defaults.conf in spec.sparkConf, the pod
//      templates in spec.driver/executor.template). The Spark pod runner runs the pods' JVMs.
//   3. Once the map stage is over, the node of executor 1 gets the cloud's notice — Azure: a
//      Preempt with 30 s of notice from the Scheduled Events fake; AWS: a spot interruption
//      2 minutes ahead from ec2-metadata-mock — and the handler for that node starts:
//      none; spotguard-agent (reporting to the extender, which decommissions); or
//      aws-node-termination-handler in IMDS mode with its default drain (AWS only).
//   4. At the notice's time the cloud takes the VM (SparkPodRunner::Reclaim). The job runs
//      to its end; its event log gives the outcome.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"
#include "test/spark/event_log.h"
#include "test/spark/pod_runner.h"

namespace spotguard::spark {

enum class Cloud { kAzure, kAws };
enum class Handler { kNone, kSpotguard, kNodeTerminationHandler };
enum class DeployMode { kClient, kCluster, kOperator };

const char* CloudName(Cloud c);      // "azure", "aws"
const char* HandlerName(Handler h);  // "none", "spotguard", "aws-node-termination-handler"

struct ScenarioOptions {
  Cloud cloud = Cloud::kAzure;
  Handler handler = Handler::kSpotguard;
  DeployMode deploy_mode = DeployMode::kClient;
  std::string spark_home;  // SparkHome()
  std::string jar;         // BuildShuffleJobJar()
  // The job: the reduce stage must outlast the notice (default: 12 reduces of 10 s on Azure,
  // of 40 s on AWS, on three executors).
  int maps = 12, reduces = 12, map_ms = 500, reduce_ms = 0, records_per_map = 20000;
  // Given: placement by this extender through the spotguard-scheduler already running with
  // it (runs side by side share them); null: the run starts its own.
  const e2e::RunningExtender* extender = nullptr;
};

struct ScenarioResult {
  SparkOutcome outcome;
  std::string doomed;                                  // the node taken
  std::string driver_node;                             // cluster/operator mode: where the driver pod ran
  std::string driver_log;                              // cluster/operator mode: the driver pod's JVM's output
  kube::Json driver_pod;                               // cluster/operator mode: the driver pod, as created
  std::vector<kube::Json> executor_pods;               // the executor pods when the notice came
  std::map<std::string, SparkPodRunner::PodEnd> pods;  // what the runner saw of each pod
  std::string dir;                                     // logs: the driver's, each JVM's, the event log
};

// Runs the scenario on `cp` (ApplyAgentRbac and ApplyExtenderRbac included). Errors name the
// step that failed and where its logs are.
absl::StatusOr<ScenarioResult> RunScenario(e2e::ControlPlane& cp, const ScenarioOptions& options);

}  // namespace spotguard::spark
