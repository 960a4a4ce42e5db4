// Agent benchmark: how long from a notice appearing in the metadata service to the node
// cordoned in the API server, against the poll interval; and what the agent costs (RSS,
// CPU per poll). The real spotguard-agent binary, the real API server (scripts/
// controlplane.sh), the Azure Scheduled Events fake, an in-process extender.
//
// For each poll interval: N notices one after another. Each: add a Preempt to the fake at
// t0; a watch on the node records when it turns unschedulable (t1): visible→cordon = t1−t0.
// The agent's own first-sight→cordon comes from its log. Then the event is removed and the
// node uncordoned before the next one, after a random pause so notices land at random
// points of the poll cycle.
//
// Usage: spotguard-bench-agent [--notices=50] [--intervals=1s,250ms] [--idle=10s] [--out=FILE]
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "common/kube/resources.h"
#include "common/kube/watch.h"
#include "common/log.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/fakes/fake_eviction_service.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::bench {
namespace {

using e2e::Json;

struct Options {
  int notices = 50;
  std::vector<std::string> intervals = {"1s", "250ms"};
  absl::Duration idle = absl::Seconds(10);
  std::string out;
};

// Watches one node and records when spec.unschedulable changes.
class NodeWatch {
 public:
  NodeWatch(kube::KubeClient& client, const std::string& name)
      : reflector_(client, {.path = "/api/v1/nodes", .field_selector = "metadata.name=" + name},
                   {.replace = [this](std::vector<Json> items) { for (auto& n : items) Observe(n); },
                    .apply = [this](kube::WatchEvent::Type, const Json& n) { Observe(n); }}),
        thread_([this] { reflector_.Run(stop_); }) {}
  ~NodeWatch() {
    stop_.Stop();
    thread_.join();
  }
  // Waits until the node's unschedulable flag is `want`; returns when the watch saw it.
  absl::StatusOr<absl::Time> WaitFor(bool want, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [&] { return unschedulable_ == want; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) return absl::DeadlineExceededError("node never changed");
    return changed_at_;
  }

 private:
  void Observe(const Json& n) {
    bool u = n["spec"].value("unschedulable", false);
    absl::MutexLock lock(&mu_);
    if (u != unschedulable_) changed_at_ = absl::Now();
    unschedulable_ = u;
  }
  absl::Mutex mu_;
  bool unschedulable_ = false;
  absl::Time changed_at_;
  StopSignal stop_;
  kube::Reflector reflector_;
  std::thread thread_;
};

int64_t PollCount(const std::string& metrics) {
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, "spotguard_agent_poll_duration_seconds_count")) continue;
    int64_t v = 0;
    if (absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &v)) total += v;
  }
  return total;
}

absl::StatusOr<Json> RunInterval(e2e::ControlPlane& cp, const std::string& interval, const Options& o) {
  e2e::NodeSpec node{.name = e2e::UniqueName("bench-aks"), .kind = e2e::NodeKind::kAksSpot, .pool = "bench"};
  auto creds = e2e::ProvisionAgent(cp, node);
  if (!creds.ok()) return creds.status();
  auto created = kube::GetNode(cp.admin(), node.name);
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  testing::FakeAzureScheduledEvents imds;
  testing::FakeEvictionService extender;
  auto agent = e2e::StartAgent(cp, node.name, *creds, extender.address(),
                               {"--azure_endpoint=" + imds.url(), "--poll_interval=" + interval, "--log_level=info"});
  if (!agent.ok()) return agent.status();
  NodeWatch watch(cp.admin(), node.name);
  absl::Duration period;
  (void)absl::ParseDuration(interval, &period);

  absl::BitGen rng;
  std::vector<double> visible_ms, first_sight_ms;
  for (int i = 0; i < o.notices; ++i) {
    absl::SleepFor(period * absl::Uniform(rng, 0.0, 1.0));  // land at a random point of the poll cycle
    std::string id = absl::StrCat("bench-", i);
    absl::Time t0 = absl::Now();
    imds.Add({.id = id, .type = "Preempt", .resources = {vm},
              .not_before = testing::FakeAzureScheduledEvents::Rfc1123(t0 + absl::Seconds(30))});
    auto t1 = watch.WaitFor(true, absl::Seconds(30));
    if (!t1.ok()) return t1.status();
    visible_ms.push_back(absl::ToDoubleMilliseconds(*t1 - t0));
    auto line = (*agent)->WaitForLine([&](absl::string_view l) {
      return absl::StrContains(l, "node cordoned and tainted") && absl::StrContains(l, "\"" + id + "\"");
    });
    if (line.ok()) first_sight_ms.push_back(Json::parse(*line)["since_first_sight_s"].get<double>() * 1000);
    imds.Remove(id);
    if (auto back = watch.WaitFor(false, absl::Seconds(30)); !back.ok()) return back.status();
  }

  // Cost while idle: CPU per poll over a quiet window, and memory.
  const int pid = (*agent)->pid();
  int64_t polls0 = PollCount(e2e::ScrapeMetrics(**agent)), cpu0 = ProcCpuMicros(pid);
  absl::SleepFor(o.idle);
  int64_t polls1 = PollCount(e2e::ScrapeMetrics(**agent)), cpu1 = ProcCpuMicros(pid);
  Summary visible = Summarize(visible_ms), first = Summarize(first_sight_ms);
  Json result = {{"poll_interval", interval},
                 {"notices", o.notices},
                 {"visible_to_cordon_ms", visible.ToJson()},
                 {"first_sight_to_cordon_ms", first.ToJson()},
                 {"rss_kib", ProcStatusKib(pid, "VmRSS")},
                 {"peak_rss_kib", ProcStatusKib(pid, "VmHWM")},
                 {"idle_polls", polls1 - polls0},
                 {"cpu_us_per_poll", polls1 > polls0 ? double(cpu1 - cpu0) / double(polls1 - polls0) : -1.0}};
  (*agent)->Signal(SIGTERM);
  (*agent)->Wait(absl::Seconds(10));
  return result;
}

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-agent", "Notice → cordon latency and agent cost against the real API server.");
  flags.Add("notices", &o.notices, "Notices per poll interval");
  flags.Add("intervals", &o.intervals, "Poll intervals to compare");
  flags.Add("idle", &o.idle, "Idle window for CPU per poll");
  flags.Add("out", &o.out, "Write the results as JSON here");
  auto parsed = flags.Parse(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (*parsed == FlagSet::Outcome::kExit) return 0;
  log::SetLevel(log::Level::kWarn);

  auto cp = e2e::ControlPlane::Start();
  if (!cp.ok()) {
    std::fprintf(stderr, "%s\n", std::string(cp.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = e2e::ApplyAgentRbac(**cp); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  Json results = {{"benchmark", "agent_notice_to_cordon"}, {"runs", Json::array()}};
  std::printf("| poll interval | notices | visible→cordon p50 / p90 / p99 / max (ms) | first sight→cordon p50 / p99 (ms) | RSS (MiB) | CPU per poll (µs) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const std::string& interval : o.intervals) {
    auto r = RunInterval(**cp, interval, o);
    if (!r.ok()) {
      std::fprintf(stderr, "interval %s: %s\n", interval.c_str(), std::string(r.status().message()).c_str());
      return 1;
    }
    const Json& v = (*r)["visible_to_cordon_ms"];
    const Json& f = (*r)["first_sight_to_cordon_ms"];
    std::printf("| %s | %d | %.0f / %.0f / %.0f / %.0f | %.1f / %.1f | %.1f | %.0f |\n", interval.c_str(), o.notices,
                v["p50"].get<double>(), v["p90"].get<double>(), v["p99"].get<double>(), v["max"].get<double>(),
                f["p50"].get<double>(), f["p99"].get<double>(), (*r)["rss_kib"].get<int64_t>() / 1024.0,
                (*r)["cpu_us_per_poll"].get<double>());
    std::fflush(stdout);
    results["runs"].push_back(*r);
  }
  if (!o.out.empty()) std::ofstream(o.out) << results.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
