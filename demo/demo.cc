#include "demo/demo.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/http_server.h"
#include "common/kube/resources.h"
#include "common/signals.h"
#include "httplib.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"
#include "test/fakes/fake_imds.h"
#include "test/spark/scenario.h"
#include "test/spark/spark_job.h"

namespace spotguard::demo {
namespace {

using e2e::Json;
using e2e::NodeKind;
using e2e::NodeSpec;

#define RETURN_IF_ERROR(expr)            \
  do {                                   \
    absl::Status _s = (expr);            \
    if (!_s.ok()) return _s;             \
  } while (0)

void Say(const std::string& text) {
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}
void Step(const std::string& text) { Say("\n▶ " + text); }

struct SpotNode {
  NodeSpec spec;
  std::string cloud;
  e2e::AgentCredentials creds;
  std::unique_ptr<e2e::Process> agent;
  int aemm_port = 0;
  std::unique_ptr<e2e::Process> aemm;
  std::unique_ptr<testing::FakeAzureScheduledEvents> azure;
  std::string vm;  // Azure VM name
};

struct Line {
  absl::Time at;
  std::string text;
};

absl::Time LogTime(const Json& j) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", j.value("ts", ""), &t, &err)) return t;
  return absl::InfinitePast();
}

// The interesting lines of a daemon's JSON log after `since`, narrated.
void Narrate(e2e::Process& p, const std::string& who, absl::Time since, std::vector<Line>& out) {
  for (const std::string& raw : p.lines()) {
    Json j = Json::parse(raw, nullptr, false);
    if (!j.is_object()) continue;
    absl::Time at = LogTime(j);
    if (at < since) continue;
    std::string msg = j.value("msg", "");
    std::string text;
    if (msg == "new notice") {
      absl::Time nb;
      std::string err, when = "no deadline given (a risk signal)";
      if (absl::ParseTime(absl::RFC3339_full, j.value("not_before", ""), &nb, &err) && nb != absl::InfinitePast()) {
        when = absl::StrFormat("the cloud acts in %.0f s", absl::ToDoubleSeconds(nb - at));
      }
      text = absl::StrFormat("%s sees notice %s (%s %s); %s", who, j.value("notice_id", ""), j.value("cloud", ""),
                             j.value("raw_action", ""), when);
    } else if (msg == "node cordoned and tainted") {
      text = absl::StrFormat("%s cordoned + tainted the node, %.0f ms after first sight", who,
                             j.value("since_first_sight_s", 0.0) * 1000);
    } else if (msg == "reported to the extender") {
      text = absl::StrFormat("%s reported %s to the extender (gRPC)", who, j.value("notice_id", ""));
    } else if (msg == "notice received") {
      text = absl::StrFormat("extender heard of %s on %s via %s", j.value("notice_id", ""), j.value("node", ""),
                             j.value("channel", ""));
    } else if (msg == "executor evicted" || absl::StartsWith(msg, "executor deleted")) {
      text = absl::StrFormat("extender evicted %s with a grace period of %d s", j.value("pod", ""),
                             j.value("grace_s", 0));
    } else if (msg == "executor evictions sent") {
      text = absl::StrFormat("extender: %d eviction(s) sent for %s in %.0f ms", j.value("sent", 0),
                             j.value("node", ""), j.value("took_s", 0.0) * 1000);
    } else {
      continue;
    }
    out.push_back({at, text});
  }
}

std::string Scrape(const std::string& address) {
  httplib::Client http("http://" + address);
  auto res = http.Get("/metrics");
  return res ? res->body : "";
}

// Sum of a metric's samples whose line contains `match` (labels), from a text exposition.
double Metric(const std::string& text, const std::string& name, const std::string& match = "") {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name) || !absl::StrContains(line, match)) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

}  // namespace

// The same shuffle job four times at once, on nodes of its own: through an AWS interruption
// and an Azure Preempt, each with spotguard and without (no agent on the node); one line per
// eviction from the jobs' event logs.
absl::Status RealSpark(e2e::ControlPlane& cp, const e2e::RunningExtender& ext) {
  Step("A real Spark job (client mode, 3 executors, a 12 x 12 shuffle) through each eviction, with spotguard "
       "and without, side by side (about four minutes)");
  auto home = spark::SparkHome();
  if (!home.ok()) return home.status();
  auto jar = spark::BuildShuffleJobJar(*home, cp.dir() + "/shuffle-job");
  if (!jar.ok()) return jar.status();
  struct Arm {
    spark::Cloud cloud;
    spark::Handler handler;
    absl::StatusOr<spark::ScenarioResult> result = absl::UnknownError("not run");
  };
  std::vector<Arm> arms = {{spark::Cloud::kAws, spark::Handler::kSpotguard}, {spark::Cloud::kAws, spark::Handler::kNone},
                           {spark::Cloud::kAzure, spark::Handler::kSpotguard}, {spark::Cloud::kAzure, spark::Handler::kNone}};
  {
    std::vector<std::thread> threads;
    for (Arm& a : arms) {
      const absl::Duration delay = absl::Seconds(5) * static_cast<int>(threads.size());  // JVMs start staggered
      threads.emplace_back([&cp, &ext, &a, &home, &jar, delay] {
        absl::SleepFor(delay);
        a.result = spark::RunScenario(
            cp, {.cloud = a.cloud, .handler = a.handler, .spark_home = *home, .jar = *jar, .extender = &ext});
      });
    }
    for (std::thread& t : threads) t.join();
  }
  for (const Arm& a : arms) {
    if (!a.result.ok()) return a.result.status();
  }
  for (size_t i = 0; i < arms.size(); i += 2) {
    const spark::SparkOutcome& with = arms[i].result->outcome;
    const spark::SparkOutcome& without = arms[i + 1].result->outcome;
    Say(absl::StrFormat("  %-28s with spotguard: %d map tasks recomputed, %.0f executor-s lost, job %.0f s; "
                        "without: %d recomputed, %.0f executor-s lost, job %.0f s",
                        arms[i].cloud == spark::Cloud::kAws ? "AWS spot interruption (2 min)" : "Azure Preempt (30 s)",
                        with.map_outputs_recomputed, with.executor_seconds_lost, absl::ToDoubleSeconds(with.job_duration),
                        without.map_outputs_recomputed, without.executor_seconds_lost,
                        absl::ToDoubleSeconds(without.job_duration)));
  }
  // What the lines claim, checked: a run that contradicts them fails the demo.
  std::vector<std::string> contradicted;
  for (const Arm& a : arms) {
    const int recomputed = a.result->outcome.map_outputs_recomputed;
    if ((a.handler == spark::Handler::kSpotguard) != (recomputed == 0)) {
      contradicted.push_back(absl::StrCat(spark::CloudName(a.cloud), " ", spark::HandlerName(a.handler), ": ", recomputed,
                                          " map tasks recomputed (logs in ", a.result->dir, ")"));
    }
  }
  if (!contradicted.empty()) {
    Say("  ERROR: spotguard recomputed map outputs, or going without it did not");
    return absl::InternalError(absl::StrCat("the side-by-side contradicts spotguard's claim: ", absl::StrJoin(contradicted, "; ")));
  }
  return absl::OkStatus();
}

absl::Status Run(const Options& o) {
  const absl::Time start = absl::Now();
  Say("spotguard demo — Spark on spot capacity, two evictions, on one machine");
  Step("Starting the control plane: etcd, kube-apiserver, kwok (scripts/controlplane.sh)");
  auto cp_or = e2e::ControlPlane::Start();
  if (!cp_or.ok()) return cp_or.status();
  e2e::ControlPlane& cp = **cp_or;
  Say(absl::StrCat("  Kubernetes ", cp.Env("KUBERNETES_VERSION"), " at ", cp.Env("APISERVER_URL")));
  RETURN_IF_ERROR(e2e::ApplyAgentRbac(cp));
  RETURN_IF_ERROR(e2e::ApplyExtenderRbac(cp));

  Step("Starting spotguard-extender (its own ServiceAccount and RBAC) and spotguard-scheduler");
  auto ext = e2e::StartExtender(cp, {"--log_level=info", "--debug_endpoints"});
  if (!ext.ok()) return ext.status();
  RETURN_IF_ERROR(cp.StartScheduler(e2e::SchedulerConfig(*ext, /*node_cache_capable=*/true)));
  Say(absl::StrCat("  scheduler API https://", ext->http_address,
                   " (filter, prioritize, bind): TLS, kube-scheduler's client certificate required"));
  Say(absl::StrCat("  EvictionService ", ext->grpc_address, ": gRPC over TLS; agents verify it against the CA of ",
                   ext->certs.agent.ca_file));
  Say(absl::StrCat("  /metrics, /healthz, /readyz, /debug/nodes: http://", ext->metrics_address));
  {
    // The door is shut to anyone without kube-scheduler's certificate.
    auto hp = ParseHostPort(ext->http_address);
    httplib::SSLClient stranger(hp->host, hp->port);
    stranger.set_ca_cert_path(ext->certs.scheduler.ca_file.c_str());
    stranger.enable_server_certificate_verification(true);
    auto res = stranger.Post("/bind", "{}", "application/json");
    Say(res ? absl::StrCat("  ERROR: a client without a certificate got HTTP ", res->status)
            : "  a client without the scheduler's certificate: refused in the TLS handshake");
    if (res) return absl::InternalError("the scheduler API answered a client without a certificate");
  }

  Step(absl::StrCat("Creating nodes: AKS and EKS, 2 spot pools x 2 zones x ", o.nodes,
                    ", plus an on-demand node on each cloud; one agent per spot node"));
  std::vector<std::unique_ptr<SpotNode>> spot;
  std::vector<std::string> on_demand;
  for (const char* cloud : {"aks", "eks"}) {
    const bool azure = std::string(cloud) == "aks";
    for (const char* pool : {"spot-a", "spot-b"}) {
      for (int z = 1; z <= 2; ++z) {
        for (int i = 1; i <= o.nodes; ++i) {
          auto n = std::make_unique<SpotNode>();
          n->cloud = azure ? "azure" : "aws";
          n->spec = {.name = absl::StrCat(cloud, "-", pool, "-z", z, "-", i),
                     .kind = azure ? NodeKind::kAksSpot : NodeKind::kEksSpot,
                     .zone = azure ? absl::StrCat("westeurope-", z) : absl::StrCat("us-east-1", z == 1 ? "a" : "b"),
                     .pool = pool,
                     .instance_type = azure ? "Standard_D8s_v5" : "m5.2xlarge"};
          auto creds = e2e::ProvisionAgent(cp, n->spec);
          if (!creds.ok()) return creds.status();
          n->creds = *creds;
          std::vector<std::string> flags = {"--poll_interval=500ms"};
          if (azure) {
            n->azure = std::make_unique<testing::FakeAzureScheduledEvents>();
            auto node = kube::GetNode(cp.admin(), n->spec.name);
            n->vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*node, {"spec", "providerID"}));
            flags.push_back("--azure_endpoint=" + n->azure->url());
          } else {
            n->aemm_port = e2e::FreePort();
            // Quiet until the demo says so: no interruption for a day.
            auto aemm = e2e::StartEc2MetadataMock(cp, n->aemm_port, {"spot", "--mock-delay-sec=86400",
                                                                      "--rebalance-delay-sec=86400"});
            if (!aemm.ok()) return aemm.status();
            n->aemm = std::move(*aemm);
            flags.push_back(absl::StrCat("--aws_endpoint=http://127.0.0.1:", n->aemm_port));
          }
          auto agent = e2e::StartAgent(cp, n->spec.name, n->creds, ext->grpc_address, flags);
          if (!agent.ok()) return agent.status();
          n->agent = std::move(*agent);
          spot.push_back(std::move(n));
        }
      }
    }
    NodeSpec od{.name = absl::StrCat(cloud, "-on-demand-1"), .kind = azure ? NodeKind::kAksOnDemand : NodeKind::kEksOnDemand,
                .zone = azure ? "westeurope-1" : "us-east-1a", .pool = azure ? "system" : "on-demand",
                .instance_type = azure ? "Standard_D4s_v5" : "m5.xlarge"};
    if (auto n = e2e::CreateNode(cp.admin(), od); !n.ok()) return n.status();
    on_demand.push_back(od.name);
  }
  Say(absl::StrCat("  ", spot.size(), " spot nodes with agents, ", on_demand.size(), " on-demand nodes"));

  Step(absl::StrCat("Submitting ", o.apps, " Spark applications (a driver and ", o.executors,
                    " executors each, Spark's labels, schedulerName spotguard-scheduler)"));
  RETURN_IF_ERROR(e2e::CreateNamespace(cp.admin(), "spark"));
  std::map<std::string, std::vector<std::string>> placement;  // node -> pods
  auto schedule = [&](const std::string& name, const std::string& app, bool driver, int id) -> absl::StatusOr<std::string> {
    Json pod = e2e::MakeSparkPod({.namespace_ = "spark", .name = name, .app_id = app, .driver = driver, .exec_id = id,
                                  .scheduler_name = "spotguard-scheduler", .termination_grace_seconds = 120});
    if (auto c = e2e::CreatePod(cp.admin(), pod); !c.ok()) return c.status();
    auto bound = e2e::WaitForObject(cp.admin(), "/api/v1/namespaces/spark/pods", name, [](const Json& p) {
      return !p.is_null() && !kube::StringAt(p, {"spec", "nodeName"}).empty();
    });
    if (!bound.ok()) return bound.status();
    std::string node = kube::StringAt(*bound, {"spec", "nodeName"});
    placement[node].push_back(name);
    return node;
  };
  for (int a = 1; a <= o.apps; ++a) {
    std::string app = absl::StrCat("spark-app-", a);
    auto d = schedule(absl::StrCat(app, "-driver"), app, true, 0);
    if (!d.ok()) return d.status();
    for (int e = 1; e <= o.executors; ++e) {
      auto x = schedule(absl::StrCat(app, "-exec-", e), app, false, e);
      if (!x.ok()) return x.status();
    }
  }
  for (const auto& [node, pods] : placement) Say(absl::StrFormat("  %-22s %s", node, absl::StrJoin(pods, " ")));

  // The victims: the busiest spot node of each cloud.
  auto busiest = [&](const std::string& cloud) {
    SpotNode* best = nullptr;
    for (auto& n : spot) {
      if (n->cloud == cloud && (!best || placement[n->spec.name].size() > placement[best->spec.name].size())) best = n.get();
    }
    return best;
  };
  SpotNode* aws = busiest("aws");
  SpotNode* azure = busiest("azure");
  std::vector<std::string> doomed_pods;
  for (SpotNode* v : {aws, azure}) {
    for (const auto& p : placement[v->spec.name]) doomed_pods.push_back(p);
  }

  Step(absl::StrCat("Injecting an AWS spot interruption on ", aws->spec.name, " (ec2-metadata-mock) and an Azure ",
                    "Preempt with 30 s of notice on ", azure->spec.name, " (Scheduled Events)"));
  const absl::Time t0 = absl::Now();
  aws->aemm.reset();
  auto itn = e2e::StartEc2MetadataMock(cp, aws->aemm_port, {"spot", "--action=terminate"});
  if (!itn.ok()) return itn.status();
  aws->aemm = std::move(*itn);
  azure->azure->Add({.id = "demo-preempt-1", .type = "Preempt", .resources = {azure->vm},
                     .not_before = testing::FakeAzureScheduledEvents::Rfc1123(t0 + absl::Seconds(30))});

  for (SpotNode* v : {aws, azure}) {
    auto cordoned = e2e::WaitForObject(cp.admin(), "/api/v1/nodes", v->spec.name,
                                       [](const Json& n) { return !n.is_null() && n["spec"].value("unschedulable", false); });
    if (!cordoned.ok()) return cordoned.status();
  }
  auto evicted = e2e::WaitForList(cp.admin(), "/api/v1/namespaces/spark/pods", "labelSelector=spark-role%3Dexecutor",
                                  [&](const std::vector<Json>& pods) {
                                    int done = 0, want = 0;
                                    for (const Json& p : pods) {
                                      std::string name = kube::StringAt(p, {"metadata", "name"});
                                      if (std::find(doomed_pods.begin(), doomed_pods.end(), name) == doomed_pods.end()) continue;
                                      ++want;
                                      done += p["metadata"].contains("deletionTimestamp");
                                    }
                                    return want > 0 && done == want;
                                  });
  if (!evicted.ok()) return evicted.status();

  // Spark's drivers ask for replacements of the lost executors.
  std::vector<Line> lines;
  std::map<std::string, double> risk;
  for (const std::string& lost : doomed_pods) {
    if (absl::StrContains(lost, "driver")) continue;
    std::string app = lost.substr(0, lost.find("-exec-"));
    std::string name = lost + "-r";
    auto node = schedule(name, app, false, 100);
    if (!node.ok()) return node.status();
    lines.push_back({absl::Now(), absl::StrCat("kube-scheduler bound replacement spark/", name, " to ", *node)});
  }
  {
    httplib::Client http("http://" + ext->metrics_address);
    if (auto res = http.Get("/debug/nodes"); res && res->status == 200) {
      for (const Json& n : Json::parse(res->body)) risk[n["name"]] = n["risk"];
    }
  }
  for (auto& l : lines) {
    std::string node = l.text.substr(l.text.rfind(' ') + 1);
    if (risk.contains(node)) l.text += absl::StrFormat(" (eviction risk p=%.3f over the next hour)", risk[node]);
  }
  Narrate(*aws->agent, "agent on " + aws->spec.name, t0, lines);
  Narrate(*azure->agent, "agent on " + azure->spec.name, t0, lines);
  Narrate(*ext->process, "", t0, lines);
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.at < b.at; });

  Step("Timeline (t = 0 at injection)");
  for (const Line& l : lines) Say(absl::StrFormat("  t+%6.3fs  %s", absl::ToDoubleSeconds(l.at - t0), l.text));

  Step("Summary (from the daemons' /metrics)");
  std::string em = Scrape(ext->metrics_address);
  for (SpotNode* v : {aws, azure}) {
    std::string am = e2e::ScrapeMetrics(*v->agent);
    double n = Metric(am, "spotguard_agent_notice_to_cordon_seconds_count");
    double sum = Metric(am, "spotguard_agent_notice_to_cordon_seconds_sum");
    Say(absl::StrFormat("  %-22s notice → cordon %.0f ms; reports ok %.0f", v->spec.name, n > 0 ? sum / n * 1000 : -1,
                        Metric(am, "spotguard_agent_reports_total", "result=\"ok\"")));
  }
  double dn = Metric(em, "spotguard_notice_to_decommission_seconds_count");
  Say(absl::StrFormat("  executors evicted %.0f, deleted after a PDB %.0f, failed %.0f; notice → all evictions sent %.0f ms (mean)",
                      Metric(em, "spotguard_decommissions_total", "result=\"evicted\""),
                      Metric(em, "spotguard_decommissions_total", "result=\"deleted\""),
                      Metric(em, "spotguard_decommissions_total", "result=\"failed\""),
                      dn > 0 ? Metric(em, "spotguard_notice_to_decommission_seconds_sum") / dn * 1000 : -1));
  Say(absl::StrFormat("  scheduler requests: filter %.0f, prioritize %.0f; nodes rejected: notice %.0f, driver on spot %.0f",
                      Metric(em, "spotguard_extender_requests_total", "verb=\"filter\""),
                      Metric(em, "spotguard_extender_requests_total", "verb=\"prioritize\""),
                      Metric(em, "spotguard_extender_filtered_nodes_total", "reason=\"notice\""),
                      Metric(em, "spotguard_extender_filtered_nodes_total", "reason=\"driver_on_spot\"")));
  Say(absl::StrFormat("  TLS on both hops: gRPC reports accepted %.0f; scheduler-API handshakes refused %.0f (the stranger above)",
                      Metric(em, "spotguard_extender_grpc_requests_total", "code=\"OK\""),
                      Metric(em, "spotguard_extender_tls_handshakes_refused_total")));
  bool replaced_elsewhere = true;
  for (const Line& l : lines) {
    if (absl::StrContains(l.text, "bound replacement") &&
        (absl::StrContains(l.text, " to " + aws->spec.name) || absl::StrContains(l.text, " to " + azure->spec.name))) {
      replaced_elsewhere = false;
    }
  }
  Say(replaced_elsewhere ? "  every replacement executor landed on a node without a notice"
                         : "  ERROR: a replacement landed on a doomed node");
  if (!replaced_elsewhere) return absl::InternalError("a replacement executor landed on a doomed node");
  if (o.spark) RETURN_IF_ERROR(RealSpark(cp, *ext));
  Say(absl::StrFormat("\nDone in %.0f s.", absl::ToDoubleSeconds(absl::Now() - start)));

  if (o.keep) {
    Step("Still running (--keep). Explore, then press Ctrl-C to clean up:");
    Say(absl::StrCat("  export KUBECONFIG=", cp.kubeconfig()));
    Say(absl::StrCat("  ", e2e::ToolsBinDir(), "/kubectl get nodes -L spotguard.io/evicting,spotguard.io/rebalance-recommended"));
    Say(absl::StrCat("  ", e2e::ToolsBinDir(), "/kubectl get events -A --field-selector reason=SparkExecutorDecommission"));
    Say(absl::StrCat("  curl http://", ext->metrics_address, "/metrics ; curl http://", ext->metrics_address, "/debug/nodes"));
    Say(absl::StrCat("  curl --cacert ", ext->certs.scheduler.ca_file, " --cert ", ext->certs.scheduler.cert_file, " --key ",
                     ext->certs.scheduler.key_file, " -d '{}' https://", ext->http_address, "/filter"));
    Say(absl::StrCat("  logs: ", cp.dir(), "/logs/"));
    StopSignal stop;
    StopOnSignals(stop);
    stop.WaitUntil(absl::InfiniteFuture());
    Say("Cleaning up.");
  }
  return absl::OkStatus();
}

}  // namespace spotguard::demo
