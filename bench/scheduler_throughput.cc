// Scheduler throughput: the real kube-scheduler schedules K Spark executors onto N kwok nodes
// with no extender, with spotguard-extender (the production configuration: filter,
// prioritize and bind, nodeCacheCapable), with spotguard without bindVerb, and with the Go
// reference extender (bench/baseline/extender, filter and prioritize). Side by side in one run,
// against one API server.
//
// Per configuration and size: K pods are created while no scheduler serves their
// schedulerName, then kube-scheduler starts with that configuration and schedules the backlog.
// Throughput is pods/s between the first and the last binding a watch sees; per-pod latency
// is kube-scheduler's own scheduling_attempt_duration (algorithm + binding, extenders
// included), p50/p99 interpolated in its histogram. Every client involved (kube-scheduler,
// the extender, this driver) runs without client-side rate limits, so the numbers are the
// scheduler's and the extenders', not a QPS setting's.
//
// Usage: spotguard-bench-scheduler [--nodes=1000,5000] [--pods=2000]
//          [--configs=none,spotguard,spotguard-nobind,reference] [--out=FILE]
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/live_cluster.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "common/kube/resources.h"
#include "common/kube/watch.h"
#include "common/log.h"
#include "httplib.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"
#include "test/e2e/process.h"

namespace spotguard::bench {
namespace {

using e2e::Json;

struct Options {
  std::vector<std::string> nodes = {"1000", "5000"};
  int pods = 2000;
  std::vector<std::string> configs = {"none", "spotguard", "spotguard-nobind", "reference"};
  std::string reference;
  std::vector<std::string> extender_flags;
  absl::Duration timeout = absl::Minutes(15);
  std::string out;
};

// The q-quantile of a Prometheus histogram (cumulative buckets by upper bound), interpolated
// linearly inside its bucket as histogram_quantile() does.
double HistogramQuantile(const std::vector<std::pair<double, double>>& buckets, double q) {
  if (buckets.empty() || buckets.back().second <= 0) return 0;
  const double rank = q * buckets.back().second;
  double lower = 0, below = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return lower;
      return lower + (le - lower) * (count > below ? (rank - below) / (count - below) : 0);
    }
    lower = le;
    below = count;
  }
  return lower;
}

// kube-scheduler's scheduling_attempt_duration_seconds for scheduled pods of `profile`:
// cumulative buckets (upper bound, count).
absl::StatusOr<std::vector<std::pair<double, double>>> AttemptHistogram(e2e::ControlPlane& cp, const std::string& profile) {
  const std::string url = cp.Env("SCHEDULER_METRICS");
  auto hp = absl::string_view(url).substr(std::string("https://").size());
  std::vector<std::string> parts = absl::StrSplit(hp.substr(0, hp.find('/')), ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) return absl::InternalError("no scheduler metrics URL");
  httplib::SSLClient cli(parts[0], port);
  cli.enable_server_certificate_verification(false);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError(absl::StrCat("kube-scheduler ", url, " did not answer: ",
                                               res ? absl::StrCat("HTTP ", res->status) : httplib::to_string(res.error())));
  }
  std::map<double, double> cumulative;
  const std::string want = absl::StrCat("profile=\"", profile, "\"");
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    if (!absl::StartsWith(line, "scheduler_scheduling_attempt_duration_seconds_bucket{")) continue;
    if (!absl::StrContains(line, want) || !absl::StrContains(line, "result=\"scheduled\"")) continue;
    size_t le = line.find(",le=\"");  // (not the "le=" of profile=)
    if (le == absl::string_view::npos) continue;
    absl::string_view bound = line.substr(le + 5, line.find('"', le + 5) - le - 5);
    double upper = 0, count = 0;
    if (bound == "+Inf") {
      upper = std::numeric_limits<double>::infinity();
    } else if (!absl::SimpleAtod(bound, &upper)) {
      continue;
    }
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &count)) continue;
    cumulative[upper] += count;
  }
  return std::vector<std::pair<double, double>>(cumulative.begin(), cumulative.end());
}

// p50 and p99 (ms) of the attempts of `pods` scheduled pods. kube-scheduler records an attempt
// once its binding call returns, a moment after the watch sees the pod bound: this waits for
// the count to catch up.
absl::StatusOr<std::pair<double, double>> AttemptLatency(e2e::ControlPlane& cp, const std::string& profile, int pods) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    auto buckets = AttemptHistogram(cp, profile);
    if (!buckets.ok()) return buckets.status();
    if (!buckets->empty() && buckets->back().second >= pods) {
      return std::pair{1000 * HistogramQuantile(*buckets, 0.5), 1000 * HistogramQuantile(*buckets, 0.99)};
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("kube-scheduler recorded ", buckets->empty() ? 0 : buckets->back().second,
                                                      " of ", pods, " scheduling attempts for ", profile));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// `tls`: kube-scheduler's client certificate and the CA, for an https:// extender.
std::string SchedulerConfig(const std::string& profile, const std::string& extender_url, bool bind,
                            const tls::Files* tls = nullptr) {
  std::string cfg = absl::StrCat(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: __KUBECONFIG__
  qps: 100000
  burst: 100000
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: )", profile, "\n");
  if (extender_url.empty()) return cfg;
  // As manifests/base/scheduler-config.yaml.
  absl::StrAppend(&cfg, R"(extenders:
  - urlPrefix: )", extender_url, R"(
    filterVerb: filter
    prioritizeVerb: prioritize
)", bind ? "    bindVerb: bind\n" : "", R"(    weight: 10
    nodeCacheCapable: true
    httpTimeout: 5s
    ignorable: false
)");
  if (tls == nullptr) {
    absl::StrAppend(&cfg, "    enableHTTPS: false\n");
  } else {
    absl::StrAppend(&cfg, "    enableHTTPS: true\n    tlsConfig:\n      certFile: ", tls->cert_file, "\n      keyFile: ",
                    tls->key_file, "\n      caFile: ", tls->ca_file, "\n");
  }
  return cfg;
}

std::string SelfDir() { return std::filesystem::read_symlink("/proc/self/exe").parent_path().string(); }

// The reference extender's state: every node, spot or not, its pool and zone (risk 0 for all:
// a fresh cluster, as spotguard's own model starts).
std::string WriteReferenceState(int n, const std::string& dir) {
  Json nodes = Json::array();
  for (int i = 0; i < n; ++i) {
    e2e::NodeSpec s = Spec(i);
    nodes.push_back({{"name", s.name}, {"spot", s.kind != e2e::NodeKind::kAksOnDemand}, {"risk", 0.0},
                     {"doomed", false}, {"pool", i % 4}, {"zone", i % 3}});
  }
  std::string path = absl::StrCat(dir, "/reference-state-", n, ".json");
  std::ofstream(path) << Json{{"nodes", nodes}, {"apps", Json::object()}}.dump();
  return path;
}

struct Run {
  std::string config;
  int nodes = 0, pods = 0;
  double pods_per_s = 0, p50_ms = 0, p99_ms = 0, seconds = 0;
  Json extender_ms = Json::object();  // spotguard's mean time in each handler, by verb
};

// spotguard-extender's mean handler time per verb (ms), from its request-duration histogram.
Json ExtenderHandlerMs(const std::string& metrics_address) {
  std::vector<std::string> hp = absl::StrSplit(metrics_address, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) return Json::object();
  httplib::Client cli(hp[0], port);
  auto res = cli.Get("/metrics");
  if (!res) return Json::object();
  std::map<std::string, std::pair<double, double>> by_verb;  // sum, count
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    const bool sum = absl::StartsWith(line, "spotguard_extender_request_duration_seconds_sum{");
    if (!sum && !absl::StartsWith(line, "spotguard_extender_request_duration_seconds_count{")) continue;
    size_t v = line.find("verb=\"");
    if (v == absl::string_view::npos) continue;
    std::string verb(line.substr(v + 6, line.find('"', v + 6) - v - 6));
    double x = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &x)) continue;
    (sum ? by_verb[verb].first : by_verb[verb].second) += x;
  }
  Json out = Json::object();
  for (const auto& [verb, sc] : by_verb) {
    if (sc.second > 0) out[verb] = 1000 * sc.first / sc.second;
  }
  return out;
}

absl::StatusOr<Run> RunConfig(e2e::ControlPlane& cp, kube::KubeClient& client, const Options& o, int n,
                              const std::string& config, const std::string& dir) {
  const std::string ns = absl::StrCat("bench-", config, "-", n);
  const std::string profile = ns;
  if (absl::Status s = e2e::CreateNamespace(client, ns); !s.ok()) return s;
  // The backlog, created while no scheduler serves `profile`.
  absl::Status created = Parallel(o.pods, 8, [&](int i) {
    Json pod = e2e::MakeSparkPod({.namespace_ = ns, .name = absl::StrCat("exec-", i), .app_id = ns, .exec_id = i,
                                  .scheduler_name = profile, .use_full_grace = false});
    pod["spec"]["containers"][0]["resources"]["requests"] = {{"cpu", "100m"}, {"memory", "256Mi"}};
    return e2e::CreatePod(client, pod).status();
  });
  if (!created.ok()) return created;
  ObjectWatch watch(client, absl::StrCat("/api/v1/namespaces/", ns, "/pods"),
                    [](const Json& p) { return !kube::StringAt(p, {"spec", "nodeName"}).empty(); });

  std::optional<e2e::RunningExtender> extender;
  std::unique_ptr<e2e::Process> reference;
  std::string url;
  if (absl::StartsWith(config, "spotguard")) {
    std::vector<std::string> flags = {"--kube_qps=0"};
    flags.insert(flags.end(), o.extender_flags.begin(), o.extender_flags.end());
    auto started = e2e::StartExtender(cp, flags);
    if (!started.ok()) return started.status();
    extender = std::move(*started);
    url = "https://" + extender->http_address;
  } else if (config == "reference") {
    const std::string bin = o.reference.empty() ? SelfDir() + "/reference-extender" : o.reference;
    auto p = e2e::Process::Start("reference-extender", {bin, "-state", WriteReferenceState(n, dir)}, dir);
    if (!p.ok()) return p.status();
    auto line = (*p)->WaitForLine([](absl::string_view l) { return absl::StartsWith(l, "listening on "); });
    if (!line.ok()) return absl::UnavailableError(absl::StrCat("reference extender did not start: ", line.status().message()));
    reference = std::move(*p);
    url = "http://" + line->substr(13);
  } else if (config != "none") {
    return absl::InvalidArgumentError(absl::StrCat("unknown configuration ", config));
  }
  if (absl::Status s = cp.StartScheduler(SchedulerConfig(profile, url, config == "spotguard", extender ? &extender->certs.scheduler : nullptr)); !s.ok()) return s;
  auto times = watch.WaitFor(o.pods, o.timeout);
  if (!times.ok()) return times.status();
  auto latency = AttemptLatency(cp, profile, o.pods);
  if (!latency.ok()) return latency.status();
  std::sort(times->begin(), times->end());
  Run r{.config = config, .nodes = n, .pods = o.pods};
  r.seconds = absl::ToDoubleSeconds(times->back() - times->front());
  r.pods_per_s = r.seconds > 0 ? (o.pods - 1) / r.seconds : 0;
  r.p50_ms = latency->first;
  r.p99_ms = latency->second;
  if (extender.has_value()) r.extender_ms = ExtenderHandlerMs(extender->metrics_address);
  // Leave the next configuration an empty cluster: the pods go at once.
  (void)client.Delete(absl::StrCat("/api/v1/namespaces/", ns, "/pods"), Json{{"gracePeriodSeconds", 0}});
  if (extender.has_value()) extender->process->Signal(SIGTERM);
  if (reference) reference->Signal(SIGTERM);
  return r;
}

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-scheduler", "kube-scheduler throughput with and without extenders.");
  flags.Add("nodes", &o.nodes, "Cluster sizes (kwok nodes)");
  flags.Add("pods", &o.pods, "Pods scheduled per configuration and size");
  flags.Add("configs", &o.configs, "none, spotguard, spotguard-nobind, reference");
  flags.Add("reference", &o.reference, "The reference extender binary (default: next to this one)");
  flags.Add("extender_flags", &o.extender_flags, "More flags for spotguard-extender (comma-separated)");
  flags.Add("timeout", &o.timeout, "Longest wait for one configuration's pods");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  log::SetLevel(log::Level::kWarn);

  auto cp = e2e::ControlPlane::Start();
  if (!cp.ok()) return Fail(cp.status());
  if (absl::Status s = e2e::ApplyExtenderRbac(**cp); !s.ok()) return Fail(s);
  auto kcfg = kube::LoadKubeconfig((*cp)->kubeconfig());
  if (!kcfg.ok()) return Fail(kcfg.status());
  auto client = kube::KubeClient::Create(*kcfg, RealClock::Get(), {.qps = 0, .user_agent = "spotguard-bench"});
  if (!client.ok()) return Fail(client.status());
  char tmpl[] = "/tmp/spotguard-bench-scheduler-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Fail(absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno))));
  const std::string dir = tmpl;

  Json results = {{"benchmark", "scheduler_throughput"}, {"pods", o.pods}, {"runs", Json::array()}};
  std::printf("| nodes | configuration | pods/s | vs no extender | scheduling attempt p50 / p99 (ms) | spotguard handler mean (ms) |\n"
              "|---|---|---|---|---|---|\n");
  int have = 0;
  // Sizes grow the one cluster: smallest first.
  std::vector<int> sizes;
  for (const std::string& size : o.nodes) {
    int n = 0;
    if (!absl::SimpleAtoi(size, &n) || n <= 0) return Fail(absl::InvalidArgumentError("bad --nodes"));
    sizes.push_back(n);
  }
  std::sort(sizes.begin(), sizes.end());
  for (int n : sizes) {
    absl::Status made = Parallel(n - have, 8, [&](int i) { return e2e::CreateNode(**client, Spec(have + i)).status(); });
    if (!made.ok()) return Fail(made);
    have = std::max(have, n);
    // kwok gives them capacity and readiness; then the node lifecycle controller lifts the
    // not-ready taint.
    ObjectWatch nodes(**client, "/api/v1/nodes", [](const Json& node) {
      return !kube::StringAt(node, {"status", "allocatable", "pods"}).empty() &&
             !kube::HasTaint(node, "node.kubernetes.io/not-ready", "NoSchedule");
    });
    auto ready = nodes.WaitFor(n, absl::Minutes(10));
    if (!ready.ok()) return Fail(ready.status());
    double baseline = 0;
    for (const std::string& config : o.configs) {
      auto r = RunConfig(**cp, **client, o, n, config, dir);
      if (!r.ok()) return Fail(absl::Status(r.status().code(), absl::StrCat(config, " at ", n, " nodes: ", r.status().message())));
      if (config == "none") baseline = r->pods_per_s;
      const double ratio = baseline > 0 ? r->pods_per_s / baseline : 0;
      std::string handlers;
      for (const auto& [verb, ms] : r->extender_ms.items()) {
        absl::StrAppend(&handlers, handlers.empty() ? "" : ", ", verb, " ", absl::StrFormat("%.2f", ms.get<double>()));
      }
      std::printf("| %d | %s | %.0f | %s | %.1f / %.1f | %s |\n", n, config.c_str(), r->pods_per_s,
                  baseline > 0 ? absl::StrCat(static_cast<int>(100 * ratio + 0.5), " %").c_str() : "–", r->p50_ms,
                  r->p99_ms, handlers.empty() ? "–" : handlers.c_str());
      std::fflush(stdout);
      results["runs"].push_back({{"nodes", n}, {"config", config}, {"pods", r->pods}, {"seconds", r->seconds},
                                 {"pods_per_s", r->pods_per_s}, {"attempt_p50_ms", r->p50_ms},
                                 {"attempt_p99_ms", r->p99_ms}, {"vs_no_extender", ratio},
                                 {"spotguard_handler_mean_ms", r->extender_ms}});
    }
  }
  if (!o.out.empty()) std::ofstream(o.out) << results.dump(2) << "\n";
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
