// Eviction storm and decommission fan-out: the real spotguard-extender against the real API
// server, called the way agents call it.
//
// Storm: N distinct nodes (kwok), each with its agent pod and a ServiceAccount token bound to
// that pod (audience spotguard), report an AWS spot interruption over gRPC at once —
// `--concurrency` calls in flight over `--channels` connections. Every call is authenticated
// as in production: TokenReview per token (the extender caches only what it has seen), and
// the token's node must be the node reported. Reports/s is N over first send → last
// acknowledgement; latency is per call.
//
// Fan-out: a node runs `--executors` Spark executors (kwok pods); one report for it; the time
// from sending the report until a watch sees every executor's eviction accepted
// (deletionTimestamp set), and the extender's own "executor evictions sent" time. Repeated
// on `--fanout_runs` nodes.
//
// Usage: spotguard-bench-storm [--nodes=5000] [--concurrency=64] [--channels=8]
//          [--executors=50] [--fanout_runs=5] [--extender_flags=...] [--out=FILE]
#include <atomic>
#include <cstdio>
#include <optional>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/live_cluster.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "common/kube/resources.h"
#include "common/log.h"
#include "grpcpp/grpcpp.h"
#include "node-agent/reporter.h"
#include "spotguard/v1/eviction.grpc.pb.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"

namespace spotguard::bench {
namespace {

using e2e::Json;

struct Options {
  int nodes = 5000;
  int concurrency = 64;
  int channels = 8;
  int executors = 50;
  int fanout_runs = 5;
  std::vector<std::string> extender_flags;
  std::string out;
};

// One reporting agent: its node's facts and its report token.
struct Agent {
  v1::NodeFacts node;
  std::string token;
};

// Creates the node, its agent pod (bound to it, as the DaemonSet's would be) and a report
// token bound to that pod.
absl::StatusOr<Agent> Provision(kube::KubeClient& admin, const e2e::NodeSpec& spec) {
  auto node = e2e::CreateNode(admin, spec);
  if (!node.ok()) return node.status();
  const std::string pod_name = "spotguard-agent-" + spec.name;
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", pod_name}, {"namespace", "spotguard-system"}}},
              {"spec",
               {{"nodeName", spec.name},
                {"serviceAccountName", "spotguard-agent"},
                {"tolerations", Json::array({{{"operator", "Exists"}}})},
                {"containers", Json::array({{{"name", "agent"}, {"image", "spotguard:bench"}}})}}}};
  auto created = e2e::CreatePod(admin, pod);
  if (!created.ok()) return created.status();
  auto token = kube::RequestToken(admin, {.namespace_ = "spotguard-system", .service_account = "spotguard-agent",
                                          .audiences = {"spotguard"}, .bound_pod_name = pod_name,
                                          .bound_pod_uid = (*created)["metadata"]["uid"]});
  if (!token.ok()) return token.status();
  return Agent{.node = agent::ToProto(kube::FactsOf(*node)), .token = token->first};
}

v1::ReportNoticeRequest SpotInterruption(const v1::NodeFacts& node, absl::Time now, absl::string_view action = "terminate") {
  v1::ReportNoticeRequest req;
  *req.mutable_node() = node;
  v1::Notice& n = *req.mutable_notice();
  n.set_id(absl::StrCat(action, "@", absl::ToUnixSeconds(now)));
  n.set_cloud(v1::CLOUD_AWS);
  n.set_kind(v1::NOTICE_KIND_EVICTION);
  n.set_raw_action(std::string(action));
  n.set_source("aws-spot-itn");
  n.set_action("cordon");
  n.mutable_not_before()->set_seconds(absl::ToUnixSeconds(now + absl::Minutes(2)));
  n.mutable_detected_at()->set_seconds(absl::ToUnixSeconds(now));
  return req;
}

grpc::Status Report(v1::EvictionService::Stub& stub, const Agent& a, const v1::ReportNoticeRequest& req) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + a.token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::ReportNoticeResponse res;
  return stub.ReportNotice(&ctx, req, &res);
}

std::vector<std::unique_ptr<v1::EvictionService::Stub>> Stubs(const e2e::RunningExtender& ext, int n) {
  std::vector<std::unique_ptr<v1::EvictionService::Stub>> stubs;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct channels, not one shared subchannel
    stubs.push_back(v1::EvictionService::NewStub(grpc_tls::NewChannel(ext.grpc_address, e2e::AgentChannel(ext), args)));
  }
  return stubs;
}

// Every agent reports `action` at once.
absl::StatusOr<Json> Storm(const std::vector<Agent>& agents, const e2e::RunningExtender& ext, const Options& o,
                           absl::string_view action) {
  auto stubs = Stubs(ext, o.channels);
  const absl::Time now = absl::Now();
  std::vector<v1::ReportNoticeRequest> requests;
  for (const Agent& a : agents) requests.push_back(SpotInterruption(a.node, now, action));
  std::vector<double> latency_ms(agents.size());
  std::atomic<int> next{0}, failed{0};
  absl::Mutex mu;
  std::string first_error;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) {
    threads.emplace_back([&, t] {
      for (int i; (i = next++) < static_cast<int>(agents.size());) {
        const absl::Time t0 = absl::Now();
        grpc::Status s = Report(*stubs[(t + i) % stubs.size()], agents[i], requests[i]);
        latency_ms[i] = absl::ToDoubleMilliseconds(absl::Now() - t0);
        if (!s.ok()) {
          ++failed;
          absl::MutexLock lock(&mu);
          if (first_error.empty()) first_error = absl::StrCat(agents[i].node.name(), ": ", s.error_message());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (failed > 0) return absl::InternalError(absl::StrCat(failed.load(), " reports failed; first: ", first_error));
  const Summary s = Summarize(latency_ms);
  return Json{{"reports", agents.size()}, {"concurrency", o.concurrency}, {"channels", o.channels},
              {"seconds", seconds}, {"reports_per_s", agents.size() / seconds}, {"latency_ms", s.ToJson()}};
}

// The extender's own measure: "executor evictions sent" took_s for `node`.
std::optional<double> ExtenderSentMs(e2e::Process& extender, const std::string& node) {
  for (const std::string& l : extender.lines()) {
    if (!absl::StrContains(l, "executor evictions sent") || !absl::StrContains(l, "\"" + node + "\"")) continue;
    Json j = Json::parse(l, nullptr, false);
    if (j.is_object() && j.contains("took_s") && j["took_s"].is_number()) return 1000 * j["took_s"].get<double>();
  }
  return std::nullopt;
}

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-storm", "Eviction storm (gRPC reports/s) and decommission fan-out.");
  flags.Add("nodes", &o.nodes, "Distinct nodes reporting at once");
  flags.Add("concurrency", &o.concurrency, "Reports in flight");
  flags.Add("channels", &o.channels, "gRPC connections they share");
  flags.Add("executors", &o.executors, "Spark executors on each fan-out node");
  flags.Add("fanout_runs", &o.fanout_runs, "Fan-out nodes (one report each, one after another)");
  flags.Add("extender_flags", &o.extender_flags, "More flags for spotguard-extender (comma-separated)");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  if (o.nodes < 1 || o.concurrency < 1 || o.channels < 1 || o.executors < 1 || o.fanout_runs < 0) {
    std::fprintf(stderr, "--nodes, --concurrency, --channels and --executors must be >= 1\n");
    return 2;
  }
  log::SetLevel(log::Level::kWarn);

  auto cp = e2e::ControlPlane::Start();
  if (!cp.ok()) return Fail(cp.status());
  if (absl::Status s = e2e::ApplyExtenderRbac(**cp); !s.ok()) return Fail(s);
  if (absl::Status s = e2e::ApplyAgentRbac(**cp); !s.ok()) return Fail(s);
  auto kcfg = kube::LoadKubeconfig((*cp)->kubeconfig());
  if (!kcfg.ok()) return Fail(kcfg.status());
  auto admin = kube::KubeClient::Create(*kcfg, RealClock::Get(), {.qps = 0, .user_agent = "spotguard-bench"});
  if (!admin.ok()) return Fail(admin.status());

  // Every node, agent and executor exists before the extender starts: its first list has them.
  std::vector<Agent> agents(o.nodes), fanout(o.fanout_runs);
  const absl::Time setup = absl::Now();
  absl::Status made = Parallel(o.nodes, 8, [&](int i) {
    auto a = Provision(**admin, Spec(i, "storm-"));
    if (!a.ok()) return a.status();
    agents[i] = std::move(*a);
    return absl::OkStatus();
  });
  if (!made.ok()) return Fail(made);
  if (absl::Status s = e2e::CreateNamespace(**admin, "spark-fanout"); !s.ok()) return Fail(s);
  made = Parallel(o.fanout_runs, 4, [&](int r) {
    e2e::NodeSpec spec = Spec(1, "fanout-");  // an EKS spot node
    spec.name = absl::StrCat("fanout-", r);
    auto a = Provision(**admin, spec);
    if (!a.ok()) return a.status();
    fanout[r] = std::move(*a);
    return Parallel(o.executors, 4, [&](int e) {
      return e2e::CreatePod(**admin, e2e::MakeSparkPod({.namespace_ = "spark-fanout",
                                                        .name = absl::StrCat("exec-", r, "-", e),
                                                        .app_id = absl::StrCat("app-", r), .exec_id = e + 1,
                                                        .node = spec.name, .termination_grace_seconds = 120}))
          .status();
    });
  });
  if (!made.ok()) return Fail(made);
  std::fprintf(stderr, "set up %d nodes and %d×%d executors in %.0f s\n", o.nodes, o.fanout_runs, o.executors,
               absl::ToDoubleSeconds(absl::Now() - setup));

  {
    // The node lifecycle controller lifts each new node's not-ready taint once kwok reports it
    // Ready: let that finish, so the storm is not measured during one node update per node.
    ObjectWatch settled(**admin, "/api/v1/nodes", [](const Json& node) {
      return !kube::StringAt(node, {"status", "allocatable", "pods"}).empty() &&
             !kube::HasTaint(node, "node.kubernetes.io/not-ready", "NoSchedule");
    });
    auto ready = settled.WaitFor(o.nodes + o.fanout_runs, absl::Minutes(10));
    if (!ready.ok()) return Fail(ready.status());
  }
  auto extender = e2e::StartExtender(**cp, o.extender_flags);
  if (!extender.ok()) return Fail(extender.status());

  // Cold: every token is new to the extender (one TokenReview each), as when a whole pool is
  // reclaimed. Warm: the same agents report a second notice (stop after terminate), their
  // tokens cached — the extender's own cost of absorbing a report.
  Json results = {{"benchmark", "eviction_storm"}, {"extender_flags", o.extender_flags}};
  std::printf("| storm | reports | concurrency | wall (s) | reports/s | latency p50 / p99 / max (ms) |\n|---|---|---|---|---|---|\n");
  for (const auto& [pass, action] : {std::pair{"cold tokens", "terminate"}, std::pair{"cached tokens", "stop"}}) {
    auto storm = Storm(agents, *extender, o, action);
    if (!storm.ok()) return Fail(storm.status());
    results[absl::StrCat("storm_", action == std::string("terminate") ? "cold" : "cached")] = *storm;
    std::printf("| %s | %d | %d | %.2f | %.0f | %.1f / %.1f / %.1f |\n", pass, o.nodes, o.concurrency,
                (*storm)["seconds"].get<double>(), (*storm)["reports_per_s"].get<double>(),
                (*storm)["latency_ms"]["p50"].get<double>(), (*storm)["latency_ms"]["p99"].get<double>(),
                (*storm)["latency_ms"]["max"].get<double>());
    std::fflush(stdout);
  }

  // Fan-out, one node at a time, after the storm has settled (its decommissions found no
  // executors on the storm nodes).
  ObjectWatch evicted(**admin, "/api/v1/namespaces/spark-fanout/pods",
                      [](const Json& p) { return p["metadata"].contains("deletionTimestamp"); });
  auto stub = Stubs(*extender, 1);
  std::vector<double> watched_ms, sent_ms;
  results["fanout"] = Json::array();
  for (int r = 0; r < o.fanout_runs; ++r) {
    const std::string prefix = absl::StrCat("exec-", r, "-");
    const absl::Time t0 = absl::Now();
    grpc::Status s = Report(*stub[0], fanout[r], SpotInterruption(fanout[r].node, t0));
    if (!s.ok()) return Fail(absl::InternalError(absl::StrCat("fan-out report: ", s.error_message())));
    auto times = evicted.WaitFor(o.executors, absl::Seconds(60),
                                 [&](const std::string& name) { return absl::StartsWith(name, prefix); });
    if (!times.ok()) return Fail(absl::Status(times.status().code(), absl::StrCat("fan-out ", r, ": ", times.status().message())));
    const double ms = absl::ToDoubleMilliseconds(*std::max_element(times->begin(), times->end()) - t0);
    watched_ms.push_back(ms);
    // The extender logs its line after the last eviction returns; wait for it briefly.
    std::optional<double> sent;
    for (int i = 0; i < 100 && !(sent = ExtenderSentMs(*extender->process, fanout[r].node.name())); ++i) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (sent) sent_ms.push_back(*sent);
    results["fanout"].push_back({{"node", fanout[r].node.name()}, {"executors", o.executors},
                                 {"report_to_all_evicted_ms", ms}, {"extender_sent_ms", sent ? Json(*sent) : Json()}});
  }
  if (o.fanout_runs > 0) {
    const Summary w = Summarize(watched_ms), e = Summarize(sent_ms);
    std::printf("\n| fan-out: executors | runs | report → all evictions accepted p50 / max (ms) | extender: evictions sent p50 / max (ms) |\n|---|---|---|---|\n");
    std::printf("| %d | %d | %.0f / %.0f | %.0f / %.0f |\n", o.executors, o.fanout_runs, w.p50, w.max, e.p50, e.max);
    results["fanout_summary"] = {{"report_to_all_evicted_ms", w.ToJson()}, {"extender_sent_ms", e.ToJson()}};
  }
  if (!o.out.empty()) std::ofstream(o.out) << results.dump(2) << "\n";
  extender->process->Signal(SIGTERM);
  return 0;
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
