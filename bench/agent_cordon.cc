// Agent benchmark: how long from a notice appearing in the metadata service to the node
// cordoned in the API server, against the poll interval; and what the agent costs (RSS,
// CPU per poll). Real agents, the real API server (scripts/controlplane.sh), an in-process
// extender, side by side in one run:
//
//   spotguard-azure  spotguard-agent against the Azure Scheduled Events fake;
//   spotguard-aemm   spotguard-agent against AWS's ec2-metadata-mock (AEMM);
//   nth-aemm         aws-node-termination-handler (IMDS mode, --cordon-only) against the
//                    same AEMM. Its IMDS poll is fixed at 2 s (time.Tick in its main), so
//                    it runs once, whatever --intervals says.
//
// For each setup and poll interval: N notices one after another, each made visible at a
// random point of the poll cycle (t0); a watch on the node records when it turns
// unschedulable (t1): visible→cordon = t1 − t0. Then the notice goes away and the node is
// uncordoned (spotguard undoes its own cordon; NTH never uncordons after a spot notice, so
// the bench does) before the next one.
//
// AEMM cannot change its answer while running (its spot notice starts at a whole-second
// trigger time), so each notice is its own AEMM process (`spot --time=…`, a fresh notice
// time, as NTH derives its event id from it) and the agents talk to AEMMs through a small
// HTTP switch in this process: it forwards every request to the quiet AEMM (no notice) and
// at t0 to the notice's AEMM. The switch also records when a notice was first answered
// (visible→first answer is the wait for the next poll; first answer→cordon the agent's
// reaction) and counts requests. The AEMMs run without --imdsv2 so that a session token
// from one is accepted by the next; both agents still fetch and send IMDSv2 tokens.
//
// Cost: RSS (and its anonymous and file-backed parts, from smaps_rollup) once settled
// before the first notice and again after all of them; CPU per poll over an idle window,
// all threads (/proc/<pid>/task/*/schedstat), divided by the polls in that window (one
// poll = every source of the agent asked once: 1 for Azure, 3 for spotguard on AWS, 1 for
// NTH as run here).
//
// Usage: spotguard-bench-agent [--notices=50] [--intervals=1s,250ms] [--idle=10s]
//          [--setups=spotguard-azure,spotguard-aemm,nth-aemm] [--out=FILE]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "common/kube/resources.h"
#include "common/time_format.h"
#include "common/kube/watch.h"
#include "common/log.h"
#include "httplib.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/fakes/fake_eviction_service.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::bench {
namespace {

using e2e::Json;

constexpr char kSpotPath[] = "/latest/meta-data/spot/instance-action";
constexpr absl::Duration kNthPeriod = absl::Seconds(2);  // time.Tick(time.Second * 2) in NTH's main

struct Options {
  int notices = 50;
  std::vector<std::string> intervals = {"1s", "250ms"};
  absl::Duration idle = absl::Seconds(10);
  std::vector<std::string> setups = {"spotguard-azure", "spotguard-aemm", "nth-aemm"};
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

// An HTTP switch in front of ec2-metadata-mocks: forwards each request to the current
// backend, records when the spot notice was first answered after the last Route() and
// counts requests. One connection to the backend per request (loopback).
class ImdsSwitch {
 public:
  ImdsSwitch() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
    auto forward = [this](const httplib::Request& req, httplib::Response& res) { Forward(req, res); };
    server_.Get(".*", forward);
    server_.Put(".*", forward);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });  // bound: connections queue until then
  }
  ~ImdsSwitch() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  // Requests from now on go to the mock on `port`.
  void Route(int port) {
    absl::MutexLock lock(&mu_);
    backend_ = port;
    first_notice_.reset();
  }
  std::optional<absl::Time> first_notice() const {
    absl::MutexLock lock(&mu_);
    return first_notice_;
  }
  int64_t requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  int64_t spot_requests() const {
    absl::MutexLock lock(&mu_);
    return spot_requests_;
  }

 private:
  void Forward(const httplib::Request& req, httplib::Response& res) {
    int port;
    {
      absl::MutexLock lock(&mu_);
      port = backend_;
      ++requests_;
      if (req.path == kSpotPath) ++spot_requests_;
    }
    httplib::Client backend("127.0.0.1", port);
    backend.set_connection_timeout(2);
    httplib::Headers headers;
    for (const auto& [k, v] : req.headers) {
      if (absl::StartsWithIgnoreCase(k, "X-aws-ec2-metadata-token")) headers.emplace(k, v);
    }
    httplib::Result r = req.method == "PUT" ? backend.Put(req.path, headers, req.body, "text/plain")
                                            : backend.Get(req.path, headers);
    if (!r) {
      res.status = 502;
      return;
    }
    if (req.path == kSpotPath && r->status == 200) {
      absl::MutexLock lock(&mu_);
      if (backend_ == port && !first_notice_.has_value()) first_notice_ = absl::Now();
    }
    res.status = r->status;
    for (const auto& [k, v] : r->headers) {
      if (absl::StartsWithIgnoreCase(k, "X-aws-ec2-metadata-token")) res.set_header(k, v);
    }
    const std::string type = r->has_header("Content-Type") ? r->get_header_value("Content-Type") : "text/plain";
    res.set_content(r->body, type.c_str());
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mu_;
  int backend_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<absl::Time> first_notice_ ABSL_GUARDED_BY(mu_);
  int64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t spot_requests_ ABSL_GUARDED_BY(mu_) = 0;
};

// An ec2-metadata-mock in `spot` mode behind the switch: quiet (its notice a day away) or
// answering a spot notice for `time` at once.
absl::StatusOr<std::unique_ptr<e2e::Process>> StartMock(e2e::ControlPlane& cp, int port,
                                                        std::optional<absl::Time> notice_time) {
  const std::string far = FormatApiTime(absl::Now() + absl::Hours(24));
  std::vector<std::string> args = {"spot", "--action=terminate", "--rebalance-trigger-time=" + far};
  args.push_back(notice_time.has_value() ? "--time=" + FormatApiTime(*notice_time) : "--mock-trigger-time=" + far);
  return e2e::StartEc2MetadataMock(cp, port, std::move(args), /*imdsv2_only=*/false);
}

int64_t PollCount(const std::string& metrics) {
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, "spotguard_agent_poll_duration_seconds_count")) continue;
    int64_t v = 0;
    if (absl::SimpleAtoi(line.substr(line.rfind(' ') + 1), &v)) total += v;
  }
  return total;
}

// Resident memory of `pid` in KiB: all of it, its anonymous part (heap, stacks, arenas) and
// the file-backed rest (mapped code and data of the binary and its shared libraries), PSS,
// and the thread count.
Json Memory(int pid) {
  int threads = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
       it != std::filesystem::directory_iterator(); ++it) {
    ++threads;
  }
  Json m = {{"rss_kib", ProcStatusKib(pid, "VmRSS")}, {"threads", threads}};
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  int64_t rss = 0, anon = 0, pss = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 2) continue;
    if (f[0] == "Rss:") (void)absl::SimpleAtoi(f[1], &rss);
    if (f[0] == "Pss:") (void)absl::SimpleAtoi(f[1], &pss);
    if (f[0] == "Anonymous:") (void)absl::SimpleAtoi(f[1], &anon);
  }
  m["pss_kib"] = pss;
  m["anon_kib"] = anon;
  m["file_kib"] = rss - anon;
  return m;
}

// CPU per poll and per second of an idle agent: `polls` counts completed polls so far.
Json IdleCost(int pid, const std::function<int64_t()>& polls, absl::Duration idle) {
  const int64_t polls0 = polls(), cpu0 = ProcCpuMicros(pid);
  const absl::Time start = absl::Now();
  absl::SleepFor(idle);
  const int64_t polls1 = polls(), cpu1 = ProcCpuMicros(pid);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return {{"idle_polls", polls1 - polls0},
          {"cpu_us_per_poll", polls1 > polls0 ? double(cpu1 - cpu0) / double(polls1 - polls0) : -1.0},
          {"cpu_us_per_s", double(cpu1 - cpu0) / seconds}};
}

// The agent's own first-sight→cordon (spotguard's log), for the `nth` time it cordoned for
// `id` (AWS spot notices all have the id aws-spot-<action>).
std::optional<double> FirstSightToCordonMs(e2e::Process& agent, const std::string& id, int nth) {
  int seen = 0;
  auto line = agent.WaitForLine([&](absl::string_view l) {
    return absl::StrContains(l, "node cordoned and tainted") && absl::StrContains(l, "\"" + id + "\"") && seen++ == nth;
  });
  if (!line.ok()) return std::nullopt;
  return Json::parse(*line)["since_first_sight_s"].get<double>() * 1000;
}

// The number of sources the agent polls, from its "watching the node" line.
int SourceCount(e2e::Process& agent) {
  auto line = agent.WaitForLine([](absl::string_view l) { return absl::StrContains(l, "watching the node"); });
  return line.ok() ? Json::parse(*line).value("sources", 1) : 1;
}

// "node-termination-handler-v1.25.1": the cached build the tools directory links to.
std::string ToolVersion(const std::string& tool) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(e2e::ToolsBinDir() + "/" + tool, ec);
  return ec ? tool : target.parent_path().filename().string();
}

absl::Duration ParsePeriod(const std::string& interval) {
  absl::Duration d;
  return absl::ParseDuration(interval, &d) ? d : absl::Seconds(1);
}

Json Latencies(const std::vector<double>& visible, const std::vector<double>& first_sight) {
  return {{"visible_to_cordon_ms", Summarize(visible).ToJson()},
          {"first_sight_to_cordon_ms", Summarize(first_sight).ToJson()}};
}

absl::StatusOr<Json> RunAzure(e2e::ControlPlane& cp, const std::string& interval, const Options& o) {
  e2e::NodeSpec node{.name = e2e::UniqueName("bench-aks"), .kind = e2e::NodeKind::kAksSpot, .pool = "bench"};
  auto creds = e2e::ProvisionAgent(cp, node);
  if (!creds.ok()) return creds.status();
  auto created = kube::GetNode(cp.admin(), node.name);
  if (!created.ok()) return created.status();
  std::string vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*created, {"spec", "providerID"}));
  testing::FakeAzureScheduledEvents imds;
  testing::FakeEvictionService extender;
  auto agent = e2e::StartAgent(cp, node.name, *creds, extender.address(),
                               {"--azure_endpoint=" + imds.url(), "--poll_interval=" + interval, "--log_level=info"});
  if (!agent.ok()) return agent.status();
  const int pid = (*agent)->pid();
  NodeWatch watch(cp.admin(), node.name);
  const absl::Duration period = ParsePeriod(interval);
  absl::SleepFor(absl::Seconds(1) + 2 * period);  // settled, before any notice
  Json before = Memory(pid);

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
    if (auto ms = FirstSightToCordonMs(**agent, id, 0)) first_sight_ms.push_back(*ms);
    imds.Remove(id);
    if (auto back = watch.WaitFor(false, absl::Seconds(30)); !back.ok()) return back.status();
  }

  const int sources = SourceCount(**agent);
  Json result = {{"setup", "spotguard-azure"}, {"agent", "spotguard-agent"}, {"imds", "Azure Scheduled Events fake"},
                 {"poll_interval", interval}, {"notices", o.notices}, {"sources", sources},
                 {"memory_before_notices", before}};
  result.update(Latencies(visible_ms, first_sight_ms));
  result["memory"] = Memory(pid);
  result["memory"]["peak_rss_kib"] = ProcStatusKib(pid, "VmHWM");
  result.update(IdleCost(pid, [&] { return PollCount(e2e::ScrapeMetrics(**agent)) / sources; }, o.idle));
  (*agent)->Signal(SIGTERM);
  (*agent)->Wait(absl::Seconds(10));
  return result;
}

// spotguard-agent or NTH against ec2-metadata-mock through the switch.
absl::StatusOr<Json> RunAemm(e2e::ControlPlane& cp, bool nth, const std::string& interval, const Options& o) {
  e2e::NodeSpec node{.name = e2e::UniqueName(nth ? "bench-nth" : "bench-eks"), .kind = e2e::NodeKind::kEksSpot,
                     .pool = "bench", .instance_type = "m5.2xlarge"};
  ImdsSwitch imds;
  const int quiet_port = e2e::FreePort();
  auto quiet = StartMock(cp, quiet_port, std::nullopt);
  if (!quiet.ok()) return quiet.status();
  imds.Route(quiet_port);
  testing::FakeEvictionService extender;

  absl::StatusOr<std::unique_ptr<e2e::Process>> agent;
  if (nth) {
    if (auto n = e2e::CreateNode(cp.admin(), node); !n.ok()) return n.status();
    // NTH's defaults otherwise (no taint, no Events, no metrics server); cordon only, as
    // spotguard does. Its scheduled-events monitor is off: AEMM's spot mode answers 404 on
    // /latest/meta-data/events/maintenance/scheduled (real IMDS answers []), which NTH counts
    // as an error, and after four identical errors in a row it panics.
    agent = e2e::StartNodeTerminationHandler(
        cp, node.name, imds.url(), {"--cordon-only", "--enable-scheduled-event-draining=false", "--log-level=info"});
  } else {
    auto creds = e2e::ProvisionAgent(cp, node);
    if (!creds.ok()) return creds.status();
    agent = e2e::StartAgent(cp, node.name, *creds, extender.address(),
                            {"--aws_endpoint=" + imds.url(), "--poll_interval=" + interval, "--log_level=info"});
  }
  if (!agent.ok()) return agent.status();
  const int pid = (*agent)->pid();
  NodeWatch watch(cp.admin(), node.name);
  const absl::Duration period = nth ? kNthPeriod : ParsePeriod(interval);
  absl::SleepFor(absl::Seconds(1) + 2 * period);  // settled, before any notice
  Json before = Memory(pid);

  absl::BitGen rng;
  std::vector<double> visible_ms, answered_ms, reaction_ms, first_sight_ms;
  for (int i = 0; i < o.notices; ++i) {
    // Real AWS gives two minutes; NTH acts once (notice time − 120 s) has passed.
    const int port = e2e::FreePort();
    auto mock = StartMock(cp, port, absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) + absl::Minutes(2));
    if (!mock.ok()) return mock.status();
    absl::SleepFor(period * absl::Uniform(rng, 0.0, 1.0));  // land at a random point of the poll cycle
    const absl::Time t0 = absl::Now();
    imds.Route(port);
    auto t1 = watch.WaitFor(true, absl::Seconds(30));
    if (!t1.ok()) return absl::DeadlineExceededError(absl::StrCat("notice ", i, ": the node was not cordoned in 30 s"));
    visible_ms.push_back(absl::ToDoubleMilliseconds(*t1 - t0));
    if (auto answered = imds.first_notice()) {
      answered_ms.push_back(absl::ToDoubleMilliseconds(*answered - t0));
      reaction_ms.push_back(absl::ToDoubleMilliseconds(*t1 - *answered));
    }
    if (!nth) {
      if (auto ms = FirstSightToCordonMs(**agent, "aws-spot-terminate", i)) first_sight_ms.push_back(*ms);
    }
    imds.Route(quiet_port);
    (*mock)->Signal(SIGTERM);
    (*mock)->Wait(absl::Seconds(10));
    if (nth) {  // NTH leaves the node cordoned after a spot notice
      auto un = kube::PatchNode(cp.admin(), node.name, kube::PatchType::kMerge, {{"spec", {{"unschedulable", false}}}});
      if (!un.ok()) return un.status();
    }
    if (auto back = watch.WaitFor(false, absl::Seconds(30)); !back.ok()) return back.status();
  }

  Json result = {{"setup", nth ? "nth-aemm" : "spotguard-aemm"},
                 {"agent", nth ? ToolVersion("node-termination-handler") : "spotguard-agent"},
                 {"imds", ToolVersion("ec2-metadata-mock")},
                 {"poll_interval", nth ? "2s (fixed)" : interval},
                 {"notices", o.notices},
                 {"memory_before_notices", before}};
  result.update(Latencies(visible_ms, first_sight_ms));
  result["visible_to_first_answer_ms"] = Summarize(answered_ms).ToJson();
  result["first_answer_to_cordon_ms"] = Summarize(reaction_ms).ToJson();
  result["memory"] = Memory(pid);
  result["memory"]["peak_rss_kib"] = ProcStatusKib(pid, "VmHWM");
  const int64_t requests0 = imds.requests();
  if (nth) {
    result["sources"] = 1;
    result.update(IdleCost(pid, [&] { return imds.spot_requests(); }, o.idle));
  } else {
    const int sources = SourceCount(**agent);
    result["sources"] = sources;
    result.update(IdleCost(pid, [&] { return PollCount(e2e::ScrapeMetrics(**agent)) / sources; }, o.idle));
  }
  const int64_t polls = result["idle_polls"];
  result["imds_requests_per_poll"] = polls > 0 ? double(imds.requests() - requests0) / double(polls) : -1.0;
  if (nth) {
    (*agent)->Signal(SIGKILL);  // NTH ignores SIGTERM (see StartNodeTerminationHandler)
  } else {
    (*agent)->Signal(SIGTERM);
  }
  (*agent)->Wait(absl::Seconds(10));
  return result;
}

std::string Ms(const Json& s, const char* a, const char* b) {
  if (s["n"].get<size_t>() == 0) return "—";
  return absl::StrFormat("%.0f / %.0f", s[a].get<double>(), s[b].get<double>());
}

void PrintRow(const Json& r) {
  const Json& v = r["visible_to_cordon_ms"];
  const Json* answered = r.contains("visible_to_first_answer_ms") ? &r["visible_to_first_answer_ms"] : nullptr;
  const Json* reaction = r.contains("first_answer_to_cordon_ms") ? &r["first_answer_to_cordon_ms"] : nullptr;
  const Json& f = r["first_sight_to_cordon_ms"];
  std::printf("| %s | %s | %d | %.0f / %.0f / %.0f / %.0f | %s | %s | %s | %.1f / %.1f | %.1f | %.0f | %.0f |\n",
              r["setup"].get<std::string>().c_str(), r["poll_interval"].get<std::string>().c_str(),
              r["notices"].get<int>(), v["p50"].get<double>(), v["p90"].get<double>(), v["p99"].get<double>(),
              v["max"].get<double>(), answered ? Ms(*answered, "p50", "p99").c_str() : "—",
              reaction ? Ms(*reaction, "p50", "p99").c_str() : "—",
              f["n"].get<size_t>() > 0 ? absl::StrFormat("%.1f / %.1f", f["p50"].get<double>(), f["p99"].get<double>()).c_str() : "—",
              r["memory_before_notices"]["rss_kib"].get<int64_t>() / 1024.0, r["memory"]["rss_kib"].get<int64_t>() / 1024.0,
              r["memory"]["anon_kib"].get<int64_t>() / 1024.0, r["cpu_us_per_poll"].get<double>(),
              r["cpu_us_per_s"].get<double>());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-agent", "Notice → cordon latency and agent cost against the real API server.");
  flags.Add("notices", &o.notices, "Notices per setup and poll interval");
  flags.Add("intervals", &o.intervals, "spotguard's poll intervals to compare (NTH's is fixed at 2s)");
  flags.Add("idle", &o.idle, "Idle window for CPU per poll");
  flags.Add("setups", &o.setups, "spotguard-azure, spotguard-aemm, nth-aemm");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  for (const std::string& s : o.setups) {
    if (s != "spotguard-azure" && s != "spotguard-aemm" && s != "nth-aemm") {
      std::fprintf(stderr, "unknown setup '%s'\n", s.c_str());
      return 2;
    }
  }
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
  std::printf("| setup | poll interval | notices | visible→cordon p50 / p90 / p99 / max (ms) | visible→first answer p50 / p99 (ms) "
              "| first answer→cordon p50 / p99 (ms) | spotguard's first sight→cordon p50 / p99 (ms) "
              "| RSS before / after notices (MiB) | anon (MiB) | CPU per poll (µs) | CPU (µs/s) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  int failures = 0;
  for (const std::string& setup : o.setups) {
    std::vector<std::string> intervals = setup == "nth-aemm" ? std::vector<std::string>{"2s"} : o.intervals;
    for (const std::string& interval : intervals) {
      absl::StatusOr<Json> r = setup == "spotguard-azure" ? RunAzure(**cp, interval, o)
                                                          : RunAemm(**cp, setup == "nth-aemm", interval, o);
      if (!r.ok()) {
        // Fail loudly, but still run and report the other setups.
        std::fprintf(stderr, "%s at %s FAILED: %s\n", setup.c_str(), interval.c_str(),
                     std::string(r.status().message()).c_str());
        results["runs"].push_back({{"setup", setup}, {"poll_interval", interval}, {"error", r.status().ToString()}});
        ++failures;
        continue;
      }
      PrintRow(*r);
      results["runs"].push_back(*r);
    }
  }
  if (!o.out.empty()) std::ofstream(o.out) << results.dump(2) << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
