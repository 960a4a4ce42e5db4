// spotguard-bench-soak: the notice lifecycle under churn, end to end on the harness.
//
// N nodes (half AKS with the Azure Scheduled Events fake, half EKS with a fake IMDS serving
// the AWS documents), each with the real spotguard-agent under its RBAC, one real
// spotguard-extender (--decommission_lead 60 s), kube-controller-manager and kwok. For the
// whole run each node lives through episodes drawn from a seeded generator, one after another:
//   immediate   Azure Preempt (30 s) / AWS spot interruption (40 s): evicted at once
//   started     Azure Preempt that turns Started (NotBefore empty) after 10 s
//   recurring   the same notice id twice, withdrawn in between (AWS aws-spot-stop repeats)
//   far_ahead   Azure Reboot / AWS instance-retirement 100 s ahead: evicted only 60 s before
//   withdrawn   a far-ahead notice withdrawn after 20 s, before its lead: never evicted
// Each dooming occurrence gets an executor pod of its own created just before the notice.
// At the end it checks, from the API server: every executor that should go was decommissioned
// exactly once (SparkExecutorDecommission Events), none before its lead window, none of the
// withdrawn ones; the agents' node writes against the notices' state changes; and the threads
// and RSS of the extender and the agents at minute 2 and at the end.
//
// Usage: spotguard-bench-soak [--nodes=100] [--duration=10m] [--notices=1000] [--out=FILE]
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/live_cluster.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "common/kube/resources.h"
#include "common/log.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "test/e2e/agent_harness.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/extender_harness.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::bench {
namespace {

using e2e::Json;
using testing::FakeAzureScheduledEvents;
using testing::FakeImds;

constexpr char kNamespace[] = "soak";
constexpr absl::Duration kLead = absl::Seconds(60);
constexpr char kSpotPath[] = "/latest/meta-data/spot/instance-action";
constexpr char kScheduledPath[] = "/latest/meta-data/events/maintenance/scheduled";

struct Options {
  int nodes = 100;
  absl::Duration duration = absl::Minutes(10);
  int notices = 1000;
  int64_t seed = 1;
  std::string out;
};

// One notice occurrence and what must happen to its executor.
struct Occurrence {
  std::string kind, node, pod;
  bool should_evict = true;
  absl::Time appeared, earliest;  // no eviction before `earliest`
};

struct Node {
  e2e::NodeSpec spec;
  bool azure = false;
  std::string vm;
  std::unique_ptr<FakeAzureScheduledEvents> az;
  std::unique_ptr<FakeImds> aws;
  e2e::AgentCredentials creds;
  std::vector<std::string> flags;
  std::unique_ptr<e2e::Process> agent;
};

std::string Rfc1123(absl::Time t) { return FakeAzureScheduledEvents::Rfc1123(t); }
std::string AwsEventTime(absl::Time t) { return absl::FormatTime("%e %b %Y %H:%M:%S GMT", t, absl::UTCTimeZone()); }

class Soak {
 public:
  Soak(e2e::ControlPlane& cp, const Options& o) : cp_(cp), o_(o) {}

  int Run() {
    if (absl::Status s = Setup(); !s.ok()) return Fail(s);
    ObjectWatch evicted(cp_.admin(), absl::StrCat("/api/v1/namespaces/", kNamespace, "/pods"),
                        [](const Json& p) { return p["metadata"].contains("deletionTimestamp"); });
    start_ = absl::Now();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < nodes_.size(); ++i) threads.emplace_back([this, i] { Timeline(i); });
    // Resources every tenth of the run (every minute of a full one); "minute 2" is the first
    // sample once every node is busy.
    std::atomic<bool> done{false};
    Json samples = Json::array();
    std::thread sampler([&] {
      const absl::Duration every = o_.duration / 10;
      for (absl::Time next = start_ + every; !done; next += every) {
        while (!done && absl::Now() < next) absl::SleepFor(absl::Milliseconds(200));
        if (!done) samples.push_back(Resources());
      }
    });
    for (auto& t : threads) t.join();
    done = true;
    sampler.join();
    const Json at_2min = samples.size() > 1 ? samples[1] : Resources();
    // The last evictions and Events land; the agents settle.
    absl::SleepFor(absl::Seconds(20));
    const Json at_end = Resources();
    return Report(evicted, at_2min, at_end, samples);
  }

 private:
  absl::Status Setup() {
    if (absl::Status s = e2e::ApplyAgentRbac(cp_); !s.ok()) return s;
    if (absl::Status s = e2e::ApplyExtenderRbac(cp_); !s.ok()) return s;
    if (absl::Status s = e2e::CreateNamespace(cp_.admin(), kNamespace); !s.ok()) return s;
    auto ext = e2e::StartExtender(cp_, {"--decommission_lead=" + absl::FormatDuration(kLead)});
    if (!ext.ok()) return ext.status();
    extender_ = std::move(*ext);
    nodes_.resize(o_.nodes);
    absl::Status made = Parallel(o_.nodes, 4, [&](int i) -> absl::Status {
      Node& n = nodes_[i];
      n.azure = i % 2 == 0;
      n.spec = {.name = absl::StrCat("soak-", n.azure ? "aks-" : "eks-", i),
                .kind = n.azure ? e2e::NodeKind::kAksSpot : e2e::NodeKind::kEksSpot,
                .zone = absl::StrCat("zone-", i % 3), .pool = absl::StrCat("pool", i % 4)};
      auto creds = e2e::ProvisionAgent(cp_, n.spec);
      if (!creds.ok()) return creds.status();
      std::vector<std::string> flags = {"--poll_interval=1s"};
      if (n.azure) {
        auto node = kube::GetNode(cp_.admin(), n.spec.name);
        if (!node.ok()) return node.status();
        n.vm = agent::sources::AzureVmNameFromProviderId(kube::StringAt(*node, {"spec", "providerID"}));
        n.az = std::make_unique<FakeAzureScheduledEvents>();
        flags.push_back("--azure_endpoint=" + n.az->url());
      } else {
        n.aws = std::make_unique<FakeImds>();
        n.aws->Set(kScheduledPath, {.body = "[]"});
        flags.push_back("--aws_endpoint=" + n.aws->url());
        flags.push_back("--aws_imdsv1");
      }
      n.creds = std::move(*creds);
      n.flags = std::move(flags);
      return absl::OkStatus();
    });
    if (!made.ok()) return made;
    // From this thread: a child started by a thread dies with it (PR_SET_PDEATHSIG).
    for (Node& n : nodes_) {
      auto agent = e2e::StartAgent(cp_, n.spec.name, n.creds, extender_.grpc_address, n.flags);
      if (!agent.ok()) return agent.status();
      n.agent = std::move(*agent);
    }
    std::fprintf(stderr, "soak: %d nodes with agents, extender up; running %s\n", o_.nodes,
                 absl::FormatDuration(o_.duration).c_str());
    return absl::OkStatus();
  }

  // A new executor on the node, for one occurrence.
  std::string Executor(Node& n) {
    const std::string name = absl::StrCat("exec-", ++pods_);
    absl::Status s = e2e::CreatePod(cp_.admin(), e2e::MakeSparkPod({.namespace_ = kNamespace, .name = name,
                                                                    .app_id = "soak", .exec_id = pods_.load(),
                                                                    .node = n.spec.name,
                                                                    .termination_grace_seconds = 120,
                                                                    .use_full_grace = false}))
                         .status();
    if (!s.ok()) std::fprintf(stderr, "soak: cannot create %s: %s\n", name.c_str(), std::string(s.message()).c_str());
    return name;
  }

  void Record(Occurrence o) {
    absl::MutexLock lock(&mu_);
    occurrences_.push_back(std::move(o));
  }

  bool Budget() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(occurrences_.size()) < o_.notices && absl::Now() - start_ < o_.duration;
  }

  // Shows a dooming notice of `kind` due at `not_before` with id `id`.
  void Show(Node& n, const std::string& id, const std::string& kind, absl::Time not_before, bool started = false) {
    if (n.azure) {
      const std::string type = kind == "far_ahead" || kind == "withdrawn" ? "Reboot" : "Preempt";
      n.az->Remove(id);
      n.az->Add({.id = id, .type = type, .resources = {n.vm}, .status = started ? "Started" : "Scheduled",
                 .not_before = started ? "" : Rfc1123(not_before)});
    } else if (kind == "far_ahead" || kind == "withdrawn") {
      Json events = Json::array({{{"Code", "instance-retirement"}, {"Description", "soak"}, {"State", "active"},
                                  {"EventId", id}, {"NotBefore", AwsEventTime(not_before)},
                                  {"NotAfter", AwsEventTime(not_before + absl::Hours(1))}}});
      n.aws->Set(kScheduledPath, {.body = events.dump()});
    } else {
      n.aws->Set(kSpotPath, {.body = Json{{"action", id == "aws-spot-stop" ? "stop" : "terminate"},
                                          {"time", kube::FormatApiTime(not_before)}}
                                         .dump()});
    }
  }

  void Hide(Node& n, const std::string& id) {
    if (n.azure) {
      n.az->Remove(id);
    } else {
      n.aws->Set(kSpotPath, {.status = 404, .body = "not found"});
      n.aws->Set(kScheduledPath, {.body = "[]"});
    }
  }

  // One dooming occurrence: an executor, the notice, `shown` of it, then gone.
  void Episode(Node& n, const std::string& kind, const std::string& id, absl::Duration ahead, absl::Duration shown,
               bool evict, absl::Duration started_after = absl::InfiniteDuration()) {
    Occurrence occ{.kind = kind, .node = n.spec.name, .pod = Executor(n), .should_evict = evict};
    const absl::Time t0 = absl::Now(), not_before = absl::FromUnixSeconds(absl::ToUnixSeconds(t0 + ahead));
    occ.appeared = t0;
    occ.earliest = ahead > kLead ? not_before - kLead - absl::Seconds(2) : absl::InfinitePast();
    Show(n, id, kind, not_before);
    if (started_after < shown) {
      absl::SleepFor(started_after);
      Show(n, id, kind, not_before, /*started=*/true);
      absl::SleepFor(shown - started_after);
    } else {
      absl::SleepFor(shown);
    }
    Hide(n, id);
    const std::string pod = occ.pod;
    Record(std::move(occ));
    // Two polls for the withdrawal, one for the agent to undo the node.
    absl::SleepFor(absl::Seconds(4));
    if (!evict) (void)kube::DeletePod(cp_.admin(), kNamespace, pod, 0);
  }

  void Timeline(size_t i) {
    Node& n = nodes_[i];
    absl::BitGen rng(std::seed_seq{o_.seed, static_cast<int64_t>(i)});
    // Nodes start spread over the first minute (of a full run).
    absl::SleepFor(absl::Uniform(rng, 0.0, 1.0) * std::min(absl::Minutes(1), o_.duration / 10));
    for (int e = 0; Budget(); ++e) {
      const std::string id = n.azure ? absl::StrCat("ev-", i, "-", e) : "aws-spot-terminate";
      switch (absl::Uniform(rng, 0, 5)) {
        case 0:
          Episode(n, "immediate", id, absl::Seconds(n.azure ? 30 : 40), absl::Seconds(n.azure ? 32 : 42), true);
          break;
        case 1:
          if (n.azure) {
            Episode(n, "started", id, absl::Seconds(30), absl::Seconds(32), true, absl::Seconds(10));
            break;
          }
          [[fallthrough]];
        case 2: {
          const std::string rid = n.azure ? id : "aws-spot-stop";
          Episode(n, "recurring", rid, absl::Seconds(30), absl::Seconds(15), true);
          Episode(n, "recurring", rid, absl::Seconds(30), absl::Seconds(15), true);
          break;
        }
        case 3:
          Episode(n, "far_ahead", n.azure ? id : absl::StrCat("instance-event-", i, "-", e), absl::Seconds(100),
                  absl::Seconds(100), true);
          break;
        default:
          Episode(n, "withdrawn", n.azure ? id : absl::StrCat("instance-event-", i, "-", e), absl::Seconds(100),
                  absl::Seconds(20), false);
      }
    }
  }

  static Json ProcResources(pid_t pid) {
    int threads = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
         it != std::filesystem::directory_iterator(); ++it) {
      ++threads;
    }
    return {{"rss_kib", ProcStatusKib(pid, "VmRSS")}, {"threads", threads}};
  }

  Json Resources() {
    int64_t agent_rss_max = 0, agent_threads_max = 0, agent_threads_sum = 0;
    for (const Node& n : nodes_) {
      Json r = ProcResources(n.agent->pid());
      agent_rss_max = std::max(agent_rss_max, r["rss_kib"].get<int64_t>());
      agent_threads_max = std::max(agent_threads_max, r["threads"].get<int64_t>());
      agent_threads_sum += r["threads"].get<int64_t>();
    }
    return {{"at_s", absl::ToInt64Seconds(absl::Now() - start_)},
            {"extender", ProcResources(extender_.process->pid())},
            {"agent_rss_kib_max", agent_rss_max},
            {"agent_threads_max", agent_threads_max},
            {"agent_threads_sum", agent_threads_sum}};
  }

  static int64_t Counter(const std::string& metrics, const std::string& series) {
    size_t at = metrics.find(series + " ");
    if (at == std::string::npos) return 0;
    int64_t v = 0;
    std::string rest = metrics.substr(at + series.size() + 1);
    (void)absl::SimpleAtoi(rest.substr(0, rest.find('\n')), &v);
    return v;
  }

  int Report(ObjectWatch& evicted, const Json& at_2min, const Json& at_end, const Json& samples) {
    // Decommission Events per pod, and evictions as the watch saw them.
    absl::flat_hash_map<std::string, int> events;
    auto list = cp_.admin().Get(absl::StrCat("/api/v1/namespaces/", kNamespace,
                                             "/events?fieldSelector=reason%3DSparkExecutorDecommission"));
    if (!list.ok()) return Fail(list.status());
    for (const Json& e : (*list)["items"]) ++events[kube::StringAt(e, {"involvedObject", "name"})];
    absl::MutexLock lock(&mu_);
    std::map<std::string, std::map<std::string, int>> by_kind;  // kind → outcome → count
    int missed = 0, twice = 0, early = 0, wrongly = 0;
    for (const Occurrence& o : occurrences_) {
      const int n = events.contains(o.pod) ? events[o.pod] : 0;
      ++by_kind[o.kind]["notices"];
      if (o.should_evict) {
        if (n == 0) ++missed, ++by_kind[o.kind]["missed"];
        if (n > 1) ++twice, ++by_kind[o.kind]["twice"];
        if (n == 1) ++by_kind[o.kind]["decommissioned_once"];
      } else if (n > 0) {
        ++wrongly, ++by_kind[o.kind]["evicted_though_withdrawn"];
      }
      auto when = evicted.When(o.pod);
      if (o.should_evict && when.has_value() && o.earliest != absl::InfinitePast() && *when < o.earliest) {
        ++early, ++by_kind[o.kind]["before_lead"];
      }
    }
    int64_t writes = 0, write_errors = 0, reports = 0;
    for (const Node& n : nodes_) {
      const std::string m = e2e::ScrapeMetrics(*n.agent);
      writes += Counter(m, R"(spotguard_agent_node_updates_total{result="ok"})");
      write_errors += Counter(m, R"(spotguard_agent_node_updates_total{result="error"})");
      reports += Counter(m, R"(spotguard_agent_reports_total{result="ok"})");
    }
    // Each occurrence changes its node twice (shown, gone); an agent's start writes nothing.
    const int64_t state_changes = 2 * static_cast<int64_t>(occurrences_.size());
    Json result = {{"benchmark", "notice_soak"},
                   {"nodes", o_.nodes},
                   {"duration_s", absl::ToInt64Seconds(o_.duration)},
                   {"notices", occurrences_.size()},
                   {"by_kind", by_kind},
                   {"missed", missed},
                   {"decommissioned_twice", twice},
                   {"evicted_before_lead", early},
                   {"evicted_though_withdrawn", wrongly},
                   {"agent_node_writes", writes},
                   {"agent_node_write_errors", write_errors},
                   {"notice_state_changes", state_changes},
                   {"agent_reports_ok", reports},
                   {"resources_at_2min", at_2min},
                   {"resources_at_end", at_end},
                   {"resources", samples}};
    std::printf("%s\n", result.dump(2).c_str());
    if (!o_.out.empty()) std::ofstream(o_.out) << result.dump(2) << "\n";
    const bool ok = missed == 0 && twice == 0 && early == 0 && wrongly == 0 && writes <= state_changes;
    if (!ok) std::fprintf(stderr, "soak: FAILED (missed %d, twice %d, early %d, withdrawn-but-evicted %d, writes %lld > %lld?)\n",
                          missed, twice, early, wrongly, static_cast<long long>(writes),
                          static_cast<long long>(state_changes));
    return ok ? 0 : 1;
  }

  e2e::ControlPlane& cp_;
  const Options o_;
  e2e::RunningExtender extender_;
  std::vector<Node> nodes_;
  std::atomic<int> pods_{0};
  absl::Time start_;
  absl::Mutex mu_;
  std::vector<Occurrence> occurrences_ ABSL_GUARDED_BY(mu_);
};

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-soak", "The notice lifecycle under churn: many nodes, many notices, real components.");
  flags.Add("nodes", &o.nodes, "Nodes, each with its agent (half AKS, half EKS)");
  flags.Add("duration", &o.duration, "How long notices keep coming");
  flags.Add("notices", &o.notices, "Stop starting notices after this many");
  flags.Add("seed", &o.seed, "Seed of the episode generator");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  log::SetLevel(log::Level::kWarn);
  auto cp = e2e::ControlPlane::Start();
  if (!cp.ok()) return Fail(cp.status());
  return Soak(**cp, o).Run();
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
