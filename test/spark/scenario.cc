#include "test/spark/scenario.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "common/http_client.h"
#include "common/kube/resources.h"
#include "common/time_format.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/extender_harness.h"
#include "test/e2e/process.h"
#include "test/fakes/fake_imds.h"
#include "test/spark/spark_job.h"

namespace spotguard::spark {
namespace {

using e2e::Process;
using kube::Json;

constexpr int kExecutors = 3;
constexpr int kNodes = 3;

absl::Duration Window(Cloud c) { return c == Cloud::kAzure ? absl::Seconds(30) : absl::Minutes(2); }

std::string PoolLabel(Cloud c) { return c == Cloud::kAzure ? "kubernetes.azure.com/agentpool" : "eks.amazonaws.com/nodegroup"; }

// The job's Spark configuration beyond spark-defaults.conf, as "key=value": executors on the
// run's spot pool; in cluster and operator mode the driver on the on-demand node.
std::vector<std::string> JobConf(e2e::ControlPlane& cp, const ScenarioOptions& o, const std::string& group,
                                 const std::string& dir) {
  std::vector<std::string> conf = {
      "spark.kubernetes.container.image=spark:unused",  // the runner runs the JVM, not an image
      absl::StrCat("spark.kubernetes.executor.label.", kRunnerLabel, "=", kRunnerLabelValue),
      "spark.kubernetes.executor.podNamePrefix=" + group,
      absl::StrCat("spark.kubernetes.executor.node.selector.", PoolLabel(o.cloud), "=", group, "-pool"),
      absl::StrCat("spark.executor.instances=", kExecutors),
      "spark.executor.cores=1",
      "spark.executor.memory=512m",
      // Start once every executor is in, so the map outputs spread over all three.
      "spark.scheduler.minRegisteredResourcesRatio=1.0",
      "spark.scheduler.maxRegisteredResourcesWaitingTime=180s",
      "spark.locality.wait=0s",
      // The driver's Kubernetes client: a machine busy starting JVMs can take longer than its
      // 10 s defaults to connect (seen with four drivers starting at once).
      "spark.kubernetes.driver.connectionTimeout=60000",
      "spark.kubernetes.driver.requestTimeout=60000",
      "spark.ui.enabled=false",
      "spark.eventLog.enabled=true",
      "spark.eventLog.dir=file://" + dir + "/events",
      "spark.eventLog.compress=false",
      "spark.eventLog.rolling.enabled=false",
  };
  if (o.deploy_mode == DeployMode::kClient) {
    conf.insert(conf.end(), {"spark.driver.host=127.0.0.1", "spark.driver.bindAddress=127.0.0.1"});
  } else {
    conf.insert(conf.end(), {
        absl::StrCat("spark.kubernetes.driver.label.", kRunnerLabel, "=", kRunnerLabelValue),
        "spark.kubernetes.driver.node.selector.e2e-group=" + group,
        "spark.kubernetes.authenticate.driver.serviceAccountName=spark",
        // The harness has no Service network: the driver pod reaches the API server at its
        // own address rather than at kubernetes.default.svc.
        "spark.kubernetes.driver.master=" + cp.Env("APISERVER_URL"),
        "spark.driver.memory=512m",
    });
  }
  return conf;
}

std::vector<std::string> JobArgs(const ScenarioOptions& o) {
  const int reduce_ms = o.reduce_ms > 0 ? o.reduce_ms : (o.cloud == Cloud::kAzure ? 10000 : 40000);
  return {std::to_string(o.maps), std::to_string(o.reduces), std::to_string(o.map_ms), std::to_string(reduce_ms),
          std::to_string(o.records_per_map)};
}

// spark-submit with the shipped defaults and pod templates.
std::vector<std::string> SubmitArgs(e2e::ControlPlane& cp, const ScenarioOptions& o, const std::string& group,
                                    const std::string& dir) {
  const std::string src = e2e::SourceDir(), pki = cp.dir() + "/pki";
  const bool cluster = o.deploy_mode == DeployMode::kCluster;
  // The submitting process's credentials: in cluster mode spark-submit's own
  // (authenticate.submission), the driver using its pod's ServiceAccount.
  const std::string auth = cluster ? "spark.kubernetes.authenticate.submission." : "spark.kubernetes.authenticate.";
  std::vector<std::string> conf = {
      "spark.kubernetes.executor.podTemplateFile=" + src + "/manifests/spark/executor-pod-template.yaml",
      "spark.kubernetes.driver.podTemplateFile=" + src + "/manifests/spark/driver-pod-template.yaml",
      "spark.kubernetes.namespace=" + group,
      auth + "caCertFile=" + pki + "/ca.crt",
      auth + "clientCertFile=" + pki + "/admin.crt",
      auth + "clientKeyFile=" + pki + "/admin.key",
  };
  for (std::string& c : JobConf(cp, o, group, dir)) conf.push_back(std::move(c));
  std::vector<std::string> argv = {o.spark_home + "/bin/spark-submit", "--master", "k8s://" + cp.Env("APISERVER_URL"),
                                   "--deploy-mode", cluster ? "cluster" : "client", "--name", group, "--class",
                                   kShuffleJobClass, "--properties-file", src + "/manifests/spark/spark-defaults.conf"};
  for (const std::string& c : conf) argv.insert(argv.end(), {"--conf", c});
  // In cluster mode the jar is in the driver's "image": this machine's file system.
  argv.push_back(cluster ? "local://" + o.jar : o.jar);
  for (std::string& a : JobArgs(o)) argv.push_back(std::move(a));
  return argv;
}

// The Spark version of `spark_home`, from its spark-core jar's name.
std::string SparkVersion(const std::string& spark_home) {
  constexpr absl::string_view kCore = "spark-core_2.13-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(spark_home + "/jars", ec)) {
    const std::string name = entry.path().filename();
    if (absl::StartsWith(name, kCore) && absl::EndsWith(name, ".jar")) {
      return name.substr(kCore.size(), name.size() - kCore.size() - 4);
    }
  }
  return "unknown";
}

// A SparkApplication's state as the operator reports it ("" before it has one, or for null), and
// whether the operator is done with it.
std::string AppState(const Json& app) { return kube::StringAt(app, {"status", "applicationState", "state"}); }
bool Final(absl::string_view state) { return state == "COMPLETED" || state == "FAILED" || state == "SUBMISSION_FAILED"; }

// A YAML scalar: JSON's quoted string is one.
std::string Quoted(absl::string_view s) { return Json(std::string(s)).dump(); }

// The shipped file `name` of manifests/spark, each line indented by `indent`.
absl::StatusOr<std::string> Indented(const std::string& name, int indent) {
  std::ifstream in(e2e::SourceDir() + "/manifests/spark/" + name);
  if (!in) return absl::NotFoundError("cannot read manifests/spark/" + name);
  std::string out;
  for (std::string line; std::getline(in, line);) absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  return out;
}

// The SparkApplication a user of the Spark operator writes with manifests/spark as README says:
// spark-defaults.conf's keys in spec.sparkConf, the pod templates as spec.driver.template and
// spec.executor.template (the operator passes its own template files to spark-submit, so the
// podTemplateFile keys give way to these).
absl::StatusOr<std::string> SparkApplicationYaml(e2e::ControlPlane& cp, const ScenarioOptions& o,
                                                 const std::string& group, const std::string& dir) {
  std::ifstream defaults(e2e::SourceDir() + "/manifests/spark/spark-defaults.conf");
  if (!defaults) return absl::NotFoundError("cannot read manifests/spark/spark-defaults.conf");
  std::string conf;
  for (std::string line; std::getline(defaults, line);) {
    line = std::string(absl::StripAsciiWhitespace(line));
    if (line.empty() || line[0] == '#') continue;
    const size_t gap = line.find_first_of(" \t");
    if (gap == std::string::npos) return absl::InvalidArgumentError("spark-defaults.conf: no value in: " + line);
    const std::string key = line.substr(0, gap);
    if (absl::EndsWith(key, ".podTemplateFile")) continue;
    absl::StrAppend(&conf, "    ", Quoted(key), ": ", Quoted(absl::StripAsciiWhitespace(line.substr(gap))), "\n");
  }
  for (const std::string& c : JobConf(cp, o, group, dir)) {
    const size_t eq = c.find('=');
    absl::StrAppend(&conf, "    ", Quoted(c.substr(0, eq)), ": ", Quoted(c.substr(eq + 1)), "\n");
  }
  std::string args;
  for (const std::string& a : JobArgs(o)) absl::StrAppend(&args, args.empty() ? "" : ", ", Quoted(a));
  auto driver = Indented("driver-pod-template.yaml", 6);
  if (!driver.ok()) return driver.status();
  auto executor = Indented("executor-pod-template.yaml", 6);
  if (!executor.ok()) return executor.status();
  return absl::StrCat(R"(apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: )", group, R"(
spec:
  type: Java
  mode: cluster
  image: spark:unused
  sparkVersion: )", Quoted(SparkVersion(o.spark_home)), R"(
  mainClass: )", kShuffleJobClass, R"(
  mainApplicationFile: )", Quoted("local://" + o.jar), R"(
  arguments: [)", args, R"(]
  restartPolicy: {type: Never}
  sparkConf:
)", conf, R"(  driver:
    cores: 1
    memory: 512m
    serviceAccount: spark
    template:
)", *driver, R"(  executor:
    instances: )", kExecutors, R"(
    cores: 1
    memory: 512m
    template:
)", *executor);
}

// Waits until the application's event log (in `dir`, flushed at each stage's end) records
// stage `stage` completed, or `ended` says the application has ended without it.
absl::Status WaitForStageCompleted(const std::string& dir, int stage, const std::function<absl::Status()>& ended,
                                   absl::Duration timeout) {
  for (absl::Time end = absl::Now() + timeout; absl::Now() < end; absl::SleepFor(absl::Milliseconds(200))) {
    if (auto s = ended(); !s.ok()) return s;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      auto outcome = AnalyzeEventLog(entry.path());
      if (outcome.ok() && outcome->stages_completed.contains(stage)) return absl::OkStatus();
    }
  }
  return absl::DeadlineExceededError(absl::StrCat("stage ", stage, " did not complete within ", absl::FormatDuration(timeout)));
}

}  // namespace

const char* CloudName(Cloud c) { return c == Cloud::kAzure ? "azure" : "aws"; }

const char* HandlerName(Handler h) {
  switch (h) {
    case Handler::kNone:
      return "none";
    case Handler::kSpotguard:
      return "spotguard";
    case Handler::kNodeTerminationHandler:
      return "aws-node-termination-handler";
  }
  return "?";
}

absl::StatusOr<ScenarioResult> RunScenario(e2e::ControlPlane& cp, const ScenarioOptions& o) {
  if (o.handler == Handler::kNodeTerminationHandler && o.cloud != Cloud::kAws) {
    return absl::InvalidArgumentError("aws-node-termination-handler handles AWS notices only");
  }
  ScenarioResult result;
  const std::string group = e2e::UniqueName(absl::StrCat("spark-", CloudName(o.cloud)));
  result.dir = absl::StrCat(cp.dir(), "/", group);
  std::filesystem::create_directories(result.dir + "/events");
  auto failed = [&](absl::string_view step, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(step, ": ", s.message(), " (logs in ", result.dir, ")"));
  };
  if (auto s = e2e::ApplyAgentRbac(cp); !s.ok()) return failed("agent RBAC", s);
  if (auto s = e2e::ApplyExtenderRbac(cp); !s.ok()) return failed("extender RBAC", s);
  if (auto s = e2e::CreateNamespace(cp.admin(), group); !s.ok()) return failed("namespace", s);
  const bool cluster = o.deploy_mode != DeployMode::kClient;  // the driver in a pod
  const bool operated = o.deploy_mode == DeployMode::kOperator;
  if (cluster) {
    auto applied = cp.Kubectl(absl::StrCat("apply -n ", group, " -f ", e2e::SourceDir(), "/manifests/spark/driver-rbac.yaml"));
    if (!applied.ok()) return failed("driver RBAC", applied.status());
  }

  std::optional<e2e::RunningExtender> own;
  if (o.extender == nullptr) {
    auto started = e2e::StartExtender(cp);
    if (!started.ok()) return failed("spotguard-extender", started.status());
    own = std::move(*started);
    if (auto s = cp.StartScheduler(e2e::SchedulerConfig(*own, true)); !s.ok()) return failed("spotguard-scheduler", s);
  }
  const e2e::RunningExtender& ext = o.extender != nullptr ? *o.extender : *own;

  std::map<std::string, e2e::AgentCredentials> creds;
  for (int i = 1; i <= kNodes; ++i) {
    e2e::NodeSpec spec{.name = absl::StrCat(group, "-node-", i),
                       .kind = o.cloud == Cloud::kAzure ? e2e::NodeKind::kAksSpot : e2e::NodeKind::kEksSpot,
                       .zone = o.cloud == Cloud::kAzure ? absl::StrCat("westeurope-", i) : absl::StrCat("us-east-1", std::string(1, "abc"[i - 1])),
                       .pool = group + "-pool",
                       .instance_type = o.cloud == Cloud::kAzure ? "Standard_D8s_v5" : "m5.2xlarge"};
    auto c = e2e::ProvisionAgent(cp, spec);
    if (!c.ok()) return failed("nodes", c.status());
    creds[spec.name] = *c;
    if (auto s = e2e::WaitSchedulable(cp.admin(), spec.name); !s.ok()) return failed("nodes", s);
    auto labelled = kube::PatchNode(cp.admin(), spec.name, kube::PatchType::kMerge,
                                    {{"metadata", {{"labels", {{"e2e-group", group}}}}}});
    if (!labelled.ok()) return failed("nodes", labelled.status());
  }
  if (cluster) {  // the driver's on-demand node
    e2e::NodeSpec spec{.name = group + "-ondemand",
                       .kind = o.cloud == Cloud::kAzure ? e2e::NodeKind::kAksOnDemand : e2e::NodeKind::kEksOnDemand,
                       .zone = o.cloud == Cloud::kAzure ? "westeurope-1" : "us-east-1a",
                       .pool = group + "-system",
                       .instance_type = o.cloud == Cloud::kAzure ? "Standard_D4s_v5" : "m5.xlarge"};
    auto node = e2e::CreateNode(cp.admin(), spec);
    if (!node.ok()) return failed("nodes", node.status());
    if (auto s = e2e::WaitSchedulable(cp.admin(), spec.name); !s.ok()) return failed("nodes", s);
    auto labelled = kube::PatchNode(cp.admin(), spec.name, kube::PatchType::kMerge,
                                    {{"metadata", {{"labels", {{"e2e-group", group}}}}}});
    if (!labelled.ok()) return failed("nodes", labelled.status());
  }

  const std::string operator_script = e2e::SourceDir() + "/scripts/spark-operator.sh";
  absl::Cleanup stop_operator = [&] {
    if (operated) (void)e2e::Run(absl::StrCat(operator_script, " down ", cp.dir()));
  };
  if (operated) {
    if (auto out = e2e::Run(absl::StrCat(operator_script, " up ", cp.dir(), " ", group)); !out.ok()) {
      return failed("the Spark operator", out.status());
    }
  }

  SparkPodRunner runner({.spark_home = o.spark_home, .work_dir = result.dir + "/pods", .namespace_ = group}, cp.admin());
  if (auto s = runner.Start(); !s.ok()) return failed("pod runner", s);
  // The application: spark-submit's process, or the operator's SparkApplication.
  std::unique_ptr<Process> submit;
  const std::string app_path = absl::StrCat("/apis/sparkoperator.k8s.io/v1beta2/namespaces/", group, "/sparkapplications");
  if (operated) {
    auto yaml = SparkApplicationYaml(cp, o, group, result.dir);
    if (!yaml.ok()) return failed("the SparkApplication", yaml.status());
    const std::string file = result.dir + "/sparkapplication.yaml";
    std::ofstream(file) << *yaml;
    auto applied = cp.Kubectl(absl::StrCat("apply -n ", group, " -f ", file));
    if (!applied.ok()) return failed("the SparkApplication", applied.status());
  } else {
    auto started = Process::Start(group + "-driver", SubmitArgs(cp, o, group, result.dir), result.dir,
                                  {"SPARK_HOME=" + o.spark_home});
    if (!started.ok()) return failed("spark-submit", started.status());
    submit = std::move(*started);
  }
  auto ended = [&]() -> absl::Status {
    if (!operated) return submit->running() ? absl::OkStatus() : absl::AbortedError("spark-submit exited before it");
    auto app = cp.admin().Get(absl::StrCat(app_path, "/", group));
    if (!app.ok()) return app.status();
    if (!Final(AppState(*app))) return absl::OkStatus();
    return absl::AbortedError(absl::StrCat("the SparkApplication ended before it: ", AppState(*app), " ",
                                           kube::StringAt(*app, {"status", "applicationState", "errorMessage"})));
  };

  // The map stage is over: its outputs are on the executors.
  if (auto s = WaitForStageCompleted(result.dir + "/events", 0, ended, absl::Minutes(4)); !s.ok()) {
    return failed("waiting for the map stage", s);
  }
  auto exec1 = e2e::WaitForList(cp.admin(), absl::StrCat("/api/v1/namespaces/", group, "/pods"),
                                "labelSelector=" + UrlEncode("spark-exec-id=1"),
                                [](const std::vector<Json>& items) { return items.size() == 1; });
  if (!exec1.ok()) return failed("finding executor 1", exec1.status());
  result.doomed = kube::StringAt((*exec1)[0], {"spec", "nodeName"});

  // One executor per node, as the extender spreads them: the eviction takes exactly one.
  auto placed = e2e::WaitForList(cp.admin(), absl::StrCat("/api/v1/namespaces/", group, "/pods"),
                                 "labelSelector=" + UrlEncode("spark-role=executor"),
                                 [](const std::vector<Json>& items) { return !items.empty(); });
  if (!placed.ok()) return failed("listing the executors", placed.status());
  result.executor_pods = *placed;
  if (cluster) {
    auto driver_pods = e2e::WaitForList(cp.admin(), absl::StrCat("/api/v1/namespaces/", group, "/pods"),
                                        "labelSelector=" + UrlEncode("spark-role=driver"),
                                        [](const std::vector<Json>& items) { return items.size() == 1; });
    if (!driver_pods.ok()) return failed("finding the driver pod", driver_pods.status());
    result.driver_pod = (*driver_pods)[0];
  }
  std::map<std::string, int> per_node;
  for (const Json& p : *placed) {
    if (!p["metadata"].contains("deletionTimestamp")) ++per_node[kube::StringAt(p, {"spec", "nodeName"})];
  }
  if (per_node[result.doomed] != 1) {
    return failed("placement", absl::FailedPreconditionError(absl::StrCat(
                                   per_node[result.doomed], " executors on the doomed node, not one: the spread failed")));
  }

  // The handler on the doomed node, then the notice. Azure: the handler is up (a DaemonSet
  // would be) before the event appears, so all 30 s are its own. AWS: ec2-metadata-mock serves
  // the interruption from its start, so the handler's start (about a second) comes out of
  // the 2 minutes.
  std::unique_ptr<testing::FakeAzureScheduledEvents> azure;
  std::unique_ptr<Process> aemm, handler;
  std::string metadata_url;
  absl::Time not_before = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + Window(o.cloud)));
  if (o.cloud == Cloud::kAzure) {
    azure = std::make_unique<testing::FakeAzureScheduledEvents>();
    metadata_url = azure->url();
  } else {
    const int port = e2e::FreePort();
    auto mock = e2e::StartEc2MetadataMock(
        cp, port,
        {"spot", "--action=terminate", "--time=" + FormatApiTime(not_before),
         "--rebalance-trigger-time=" + FormatApiTime(absl::Now() + absl::Hours(24))},
        /*imdsv2_only=*/false);
    if (!mock.ok()) return failed("ec2-metadata-mock", mock.status());
    aemm = std::move(*mock);
    metadata_url = absl::StrCat("http://127.0.0.1:", port);
  }
  if (o.handler == Handler::kSpotguard) {
    auto agent = e2e::StartAgent(cp, result.doomed, creds[result.doomed], ext.grpc_address,
                                 {(o.cloud == Cloud::kAzure ? "--azure_endpoint=" : "--aws_endpoint=") + metadata_url});
    if (!agent.ok()) return failed("spotguard-agent", agent.status());
    handler = std::move(*agent);
  } else if (o.handler == Handler::kNodeTerminationHandler) {
    // Its defaults (cordon and drain); its scheduled-events monitor is off, as in the agent
    // benchmark: ec2-metadata-mock's spot mode answers 404 there, which NTH ends up panicking on.
    auto nth = e2e::StartNodeTerminationHandler(cp, result.doomed, metadata_url,
                                                {"--enable-scheduled-event-draining=false", "--log-level=info"});
    if (!nth.ok()) return failed("aws-node-termination-handler", nth.status());
    handler = std::move(*nth);
  }
  if (azure != nullptr) {
    auto node = kube::GetNode(cp.admin(), result.doomed);
    if (!node.ok()) return failed("the doomed node", node.status());
    not_before = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + Window(o.cloud)));
    azure->Add({.id = "preempt-" + group, .type = "Preempt",
                .resources = {agent::sources::AzureVmNameFromProviderId(kube::StringAt(*node, {"spec", "providerID"}))},
                .not_before = testing::FakeAzureScheduledEvents::Rfc1123(not_before)});
  }

  // The cloud takes the VM at the notice's time, whatever was done about it.
  absl::SleepFor(std::max(absl::ZeroDuration(), not_before - absl::Now()));
  if (auto s = runner.Reclaim(result.doomed); !s.ok()) return failed("reclaiming the node", s);
  absl::Status job = absl::OkStatus();
  if (operated) {
    auto app = e2e::WaitForObject(
        cp.admin(), app_path, group,
        [](const Json& a) { return Final(AppState(a)); }, absl::Minutes(6));
    const std::string state = app.ok() ? AppState(*app) : "";
    if (state != "COMPLETED") {
      job = absl::InternalError(absl::StrCat("the SparkApplication ", app.ok() ? "ended " + state : "did not end within 6 minutes",
                                             "; the operator's log: ", cp.dir(), "/logs/spark-operator.log"));
    }
  } else if (std::optional<int> code = submit->Wait(absl::Minutes(6)); code != 0) {
    job = absl::InternalError(absl::StrCat("the Spark job ", code.has_value() ? "failed" : "did not end within 6 minutes",
                                           "; its log: ", result.dir, "/", group, "-driver.log"));
  }
  if (handler != nullptr) handler->Signal(SIGKILL);
  runner.Stop();
  result.pods = runner.Ended();
  if (!job.ok()) return job;
  if (cluster) {  // spark-submit only watches the driver pod: its JVM's exit is the job's
    bool driven = false;
    for (const auto& [pod, end] : result.pods) {
      if (!absl::EndsWith(pod, "-driver")) continue;
      driven = true;
      result.driver_node = end.node;
      const std::string name = pod.substr(pod.find('/') + 1);
      result.driver_log = absl::StrCat(result.dir, "/pods/", group, "_", name, "/", group, "_", name, ".log");
      if (end.exit_code != 0) {
        return absl::InternalError(absl::StrCat("the driver pod ", pod, " exited with ", end.exit_code, "; its log is under ",
                                                result.dir, "/pods"));
      }
    }
    if (!driven) return failed("the driver pod", absl::NotFoundError("the runner ran no driver pod"));
  }
  std::string log;
  for (const auto& entry : std::filesystem::directory_iterator(result.dir + "/events")) log = entry.path();
  if (log.empty()) return absl::NotFoundError(absl::StrCat("no event log in ", result.dir, "/events"));
  auto outcome = AnalyzeEventLog(log);
  if (!outcome.ok()) return failed("the event log", outcome.status());
  result.outcome = *outcome;
  return result;
}

}  // namespace spotguard::spark
