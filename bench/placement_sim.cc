// spotguard-bench-placement: a deterministic discrete-event simulator of Spark executors on
// spot capacity. It asks how much executor work risk-aware placement saves over risk-blind
// placement, scoring with the extender's own code: extender/risk's RiskModel (fed exposure and
// evictions as ClusterState feeds it) and Prioritize over a Snapshot built from the simulated
// cluster. Nothing here re-implements the scoring.
//
// The world (one per seed, shared by every arm, so arms differ only in where they place):
//   - spot nodes in (pool, zone, instance type) cells, each cell with a true monthly
//     interruption rate drawn from the AWS Spot Instance Advisor / Azure eviction-rate bands;
//   - reclaims: per-node Poisson at the cell's rate, plus correlated reclaims that take a
//     fraction of one pool-zone's nodes at once; a notice comes `notice_lead` before the node
//     goes; a new node (same cell) is ready `replace_delay` after;
//   - Spark applications arriving as a Poisson stream, each with N executors of equal work.
// Arms: spotguard (learned risk), oracle (true risk, same scoring), risk-blind (kube-scheduler's
// least-allocated alone), no-spot (everything on on-demand).
//
// Lost executor-hours: when a node goes, each executor on it loses the work it did since its
// last stage boundary (a stage is `stage` hours of the executor's work; finished stages are
// kept), i.e. at most one stage. Recomputed work: lost executor-hours plus the start-up time of
// the replacement executors — the executor-hours billed beyond a run without reclaims.
// Decommissioning in the notice window (which would save some of the loss) is not modelled;
// it would apply to every spot arm alike.
//
// Clock: simulated absl::Time; randomness: std::mt19937_64 seeded from --seed. No wall clock.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "extender/risk/model.h"
#include "extender/risk/policy.h"
#include "extender/risk/snapshot.h"
#include "nlohmann/json.hpp"

namespace spotguard::bench {
namespace {

namespace risk = extender::risk;
using Json = nlohmann::json;

constexpr double kHoursPerMonth = 730;

struct Options {
  int nodes = 1000;
  int runs = 5;
  int seed = 1;
  double days = 30;         // measured period
  double warmup_days = 14;  // before it: the model learns, nothing is counted
  int pools = 6, zones = 3, types = 8;
  int slots = 4;                       // executors per node
  double load = 0.6;                   // mean executor demand / spot slots
  double correlated_per_month = 0.05;  // correlated reclaims per pool-zone per month
  std::string rates = "cell";          // cell: a band per cell; type: per (cloud, type)
  absl::Duration notice_lead = absl::Minutes(2), replace_delay = absl::Minutes(10);
  absl::Duration startup = absl::Minutes(2);  // an executor's start-up, billed, no work
  absl::Duration refresh = absl::Seconds(30);  // as ClusterStateOptions::refresh
  int extender_weight = 10;                    // manifests/base/scheduler-config.yaml
  double on_demand_price = 0.192;              // $ per executor-hour (4 vCPU, 16 GiB)
  double spot_price = 0.0576;                  // 30 % of on-demand
  // The risk model (defaults: extender/risk/model.h) and the policy (policy.h).
  absl::Duration half_life = risk::RiskParams{}.half_life, horizon = risk::RiskParams{}.horizon;
  double prior_evictions = risk::RiskParams{}.prior_evictions, prior_hours = risk::RiskParams{}.prior_hours;
  double risk_cap = risk::PolicyConfig{}.risk_cap;
  int spread_weight = risk::PolicyConfig{}.spread_weight;
  // The tuning grid; empty: no sweep.
  std::vector<std::string> sweep_half_life, sweep_horizon, sweep_prior_hours;
  int sweep_runs = 3;
  std::string out;
};

// Interruption bands, % per month, with the share of cells in each (the advisor puts most
// capacity in the lowest band). The open top band is drawn from 20–30 %.
struct Band {
  double lo, hi, weight;
};
constexpr Band kAwsBands[] = {{0, 5, 0.55}, {5, 10, 0.20}, {10, 15, 0.10}, {15, 20, 0.07}, {20, 30, 0.08}};
constexpr Band kAzureBands[] = {{0, 5, 0.50}, {5, 10, 0.20}, {10, 15, 0.12}, {15, 20, 0.08}, {20, 30, 0.10}};

using Rng = std::mt19937_64;
double Uniform(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
absl::Duration ExpDuration(Rng& rng, double per_hour) {
  if (per_hour <= 0) return absl::InfiniteDuration();
  return absl::Hours(std::exponential_distribution<double>(per_hour)(rng));
}
double DrawMonthlyRate(Rng& rng, bool azure) {
  const Band* bands = azure ? kAzureBands : kAwsBands;
  std::discrete_distribution<int> pick({bands[0].weight, bands[1].weight, bands[2].weight, bands[3].weight, bands[4].weight});
  const Band& b = bands[pick(rng)];
  return Uniform(rng, b.lo, b.hi) / 100;
}

struct Cell {
  int pool, zone, type;
  double rate_per_hour;  // independent reclaims
  risk::Domains domains;
  bool azure;
};

struct NodeEvent {
  enum Kind { kReady, kNotice, kGone } kind;
  absl::Time t;
  int slot, gen;
};

struct App {
  absl::Time arrival;
  int executors;
  double work_h, stage_h;
};

struct World {
  std::vector<Cell> cells;
  std::vector<int> slot_cell;     // node slot → cell
  std::vector<NodeEvent> events;  // in time order
  std::vector<App> apps;          // in arrival order
  absl::Time start, measured_from, end;
  int reclaims = 0, correlated = 0;  // in the measured period
  double correlated_per_hour = 0;    // per pool-zone
};

World MakeWorld(const Options& o, uint64_t seed) {
  World w;
  Rng rng(seed);
  w.start = absl::UnixEpoch();
  w.measured_from = w.start + absl::Hours(24 * o.warmup_days);
  w.end = w.measured_from + absl::Hours(24 * o.days);
  w.correlated_per_hour = o.correlated_per_month / kHoursPerMonth;
  std::vector<double> type_rate(2 * o.types);  // (cloud, type) for --rates=type
  for (int i = 0; i < 2 * o.types; ++i) type_rate[i] = DrawMonthlyRate(rng, /*azure=*/i >= o.types);
  for (int p = 0; p < o.pools; ++p) {
    const bool azure = p >= o.pools / 2;
    const std::string pool = absl::StrCat(azure ? "aks-spot-" : "eks-spot-", p);
    for (int z = 0; z < o.zones; ++z) {
      for (int t = 0; t < o.types; ++t) {
        double monthly = o.rates == "type" ? type_rate[(azure ? o.types : 0) + t] * Uniform(rng, 0.75, 1.25)
                                           : DrawMonthlyRate(rng, azure);
        w.cells.push_back({p, z, t, monthly / kHoursPerMonth,
                           {pool, absl::StrCat("zone-", z), absl::StrCat(azure ? "Standard_D" : "m5.", t)}, azure});
      }
    }
  }
  for (int i = 0; i < o.nodes; ++i) w.slot_cell.push_back(std::uniform_int_distribution<int>(0, w.cells.size() - 1)(rng));

  // Node lifecycles: a heap of pending happenings, processed in time order.
  enum Kind { kIndependent, kCorrelated, kGone, kReady };
  struct Pending {
    absl::Time t;
    uint64_t seq;
    Kind kind;
    int slot, gen;  // for kCorrelated, slot is the pool-zone
    bool operator>(const Pending& b) const { return t != b.t ? t > b.t : seq > b.seq; }
  };
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> heap;
  uint64_t seq = 0;
  struct SlotState {
    int gen = 0;
    bool live = false, doomed = false;
  };
  std::vector<SlotState> slots(o.nodes);
  auto notice = [&](int slot, absl::Time t) {
    slots[slot].doomed = true;
    w.events.push_back({NodeEvent::kNotice, t, slot, slots[slot].gen});
    heap.push({t + o.notice_lead, seq++, kGone, slot, slots[slot].gen});
    if (t >= w.measured_from) ++w.reclaims;
  };
  for (int s = 0; s < o.nodes; ++s) heap.push({w.start, seq++, kReady, s, 0});
  for (int pz = 0; pz < o.pools * o.zones; ++pz) heap.push({w.start + ExpDuration(rng, w.correlated_per_hour), seq++, kCorrelated, pz, 0});
  while (!heap.empty() && heap.top().t <= w.end) {
    Pending p = heap.top();
    heap.pop();
    switch (p.kind) {
      case kReady:
        slots[p.slot] = {p.gen, true, false};
        w.events.push_back({NodeEvent::kReady, p.t, p.slot, p.gen});
        heap.push({p.t + ExpDuration(rng, w.cells[w.slot_cell[p.slot]].rate_per_hour), seq++, kIndependent, p.slot, p.gen});
        break;
      case kIndependent:
        if (slots[p.slot].gen == p.gen && slots[p.slot].live && !slots[p.slot].doomed) notice(p.slot, p.t);
        break;
      case kCorrelated: {
        const double fraction = Uniform(rng, 0.2, 1.0);
        for (int s = 0; s < o.nodes; ++s) {
          const Cell& c = w.cells[w.slot_cell[s]];
          if (c.pool * o.zones + c.zone != p.slot || !slots[s].live || slots[s].doomed) continue;
          if (Uniform(rng, 0, 1) < fraction) notice(s, p.t);
        }
        if (p.t >= w.measured_from) ++w.correlated;
        heap.push({p.t + ExpDuration(rng, w.correlated_per_hour), seq++, kCorrelated, p.slot, 0});
        break;
      }
      case kGone:
        slots[p.slot].live = false;
        w.events.push_back({NodeEvent::kGone, p.t, p.slot, p.gen});
        heap.push({p.t + o.replace_delay, seq++, kReady, p.slot, p.gen + 1});
        break;
    }
  }

  // Applications: 4–40 executors, 1–6 h of work each, stages of 10–60 min; the arrival rate
  // makes the mean executor demand `load` of the spot slots.
  const double per_hour = o.load * o.nodes * o.slots / (22.0 * 3.5);
  for (absl::Time t = w.start + ExpDuration(rng, per_hour); t < w.end; t += ExpDuration(rng, per_hour)) {
    w.apps.push_back({t, std::uniform_int_distribution<int>(4, 40)(rng), Uniform(rng, 1, 6), Uniform(rng, 10, 60) / 60});
  }
  return w;
}

enum class Arm { kSpotguard, kOracle, kBlind, kNoSpot };
constexpr Arm kArms[] = {Arm::kSpotguard, Arm::kOracle, Arm::kBlind, Arm::kNoSpot};
const char* ArmName(Arm a) {
  switch (a) {
    case Arm::kSpotguard: return "spotguard";
    case Arm::kOracle: return "oracle";
    case Arm::kBlind: return "risk_blind";
    case Arm::kNoSpot: return "no_spot";
  }
  return "?";
}

struct Result {
  double lost_h = 0, recomputed_h = 0, spot_h = 0, on_demand_h = 0, cost = 0;
  double rate_weighted_h = 0;  // Σ spot executor-hours × the node's true independent rate (%/month)
  int64_t placements = 0, losses = 0, fallbacks = 0;
  double spot_share() const { return spot_h + on_demand_h > 0 ? spot_h / (spot_h + on_demand_h) : 0; }
  // The true interruption rate of the nodes executors ran on, per spot executor-hour.
  double rate_under_executors() const { return spot_h > 0 ? rate_weighted_h / spot_h : 0; }
};

// One arm over one world. Owns the cluster as kube-scheduler and spotguard would see it.
class ArmSim {
 public:
  ArmSim(const Options& o, const World& w, Arm arm, uint64_t seed)
      : o_(o), w_(w), arm_(arm), rng_(seed),
        model_({.half_life = o.half_life, .horizon = o.horizon, .prior_evictions = o.prior_evictions,
                .prior_hours = o.prior_hours}),
        nodes_(o.nodes), cell_live_(w.cells.size()) {
    policy_.risk_cap = o.risk_cap;
    policy_.spread_weight = o.spread_weight;
  }

  Result Run() {
    size_t next_event = 0, next_app = 0;
    absl::Time next_refresh = w_.start, last_refresh = w_.start;
    for (;;) {
      // The next happening: a node event, an arrival, a completion or a refresh tick; ties in
      // that order.
      absl::Time t = w_.end;
      if (next_event < w_.events.size()) t = std::min(t, w_.events[next_event].t);
      if (next_app < w_.apps.size()) t = std::min(t, w_.apps[next_app].arrival);
      if (!done_.empty()) t = std::min(t, done_.top().t);
      if (arm_ == Arm::kSpotguard) t = std::min(t, next_refresh);
      if (t >= w_.end) break;
      if (next_event < w_.events.size() && w_.events[next_event].t == t) {
        OnNode(w_.events[next_event++]);
      } else if (next_app < w_.apps.size() && w_.apps[next_app].arrival == t) {
        OnApp(next_app++);
      } else if (!done_.empty() && done_.top().t == t) {
        Done d = done_.top();
        done_.pop();
        if (execs_[d.exec].attempt == d.attempt) Finish(d.exec, t, /*lost=*/false);
      } else {
        Refresh(t, t - last_refresh);
        last_refresh = t;
        next_refresh = t + o_.refresh;
      }
    }
    for (size_t e = 0; e < execs_.size(); ++e) {
      if (execs_[e].running) Bill(execs_[e], w_.end);
    }
    r_.cost = r_.spot_h * o_.spot_price + r_.on_demand_h * o_.on_demand_price;
    return r_;
  }

 private:
  struct Node {
    bool live = false, doomed = false;
    int used = 0;
    std::shared_ptr<risk::NodeInfo> info;
    std::vector<int> execs;
  };
  struct Exec {
    int app;
    double remaining_h;
    int slot = -1;  // -1: on-demand
    absl::Time placed;
    int attempt = 0;
    bool running = false;
  };
  struct Done {
    absl::Time t;
    int exec, attempt;
    bool operator>(const Done& b) const { return t != b.t ? t > b.t : exec > b.exec; }
  };

  const Cell& CellOf(int slot) const { return w_.cells[w_.slot_cell[slot]]; }

  // p as the arm's scoring sees it: the learned model's (as ClusterState::NodeInfoLocked), or
  // the truth over the same horizon (independent rate plus the expected share of correlated
  // reclaims: a fraction of 0.6 on average).
  double NodeRisk(const Cell& c, absl::Time now) const {
    if (arm_ == Arm::kOracle) {
      double rate = c.rate_per_hour + 0.6 * w_.correlated_per_hour;
      return 1 - std::exp(-rate * absl::ToDoubleHours(o_.horizon));
    }
    return model_.Risk(c.domains, /*rebalance=*/false, now);
  }

  // ClusterState::Refresh: spot node-hours of the live, undoomed nodes into their domains,
  // then every node's risk recomputed. Exposure is added once per cell (count × elapsed): the
  // same sums as once per node.
  void Refresh(absl::Time now, absl::Duration elapsed) {
    if (elapsed > absl::ZeroDuration()) {
      for (size_t c = 0; c < w_.cells.size(); ++c) {
        if (cell_live_[c] > 0) model_.AddExposure(w_.cells[c].domains, cell_live_[c] * elapsed, now);
      }
    }
    UpdateRisks(now);
  }

  // Risk is updated in the NodeInfos the current table points at, which equals publishing a
  // new table: this simulator is one thread and no Prioritize call is in flight.
  void UpdateRisks(absl::Time now) {
    std::vector<double> cell_risk(w_.cells.size());
    for (size_t c = 0; c < w_.cells.size(); ++c) cell_risk[c] = NodeRisk(w_.cells[c], now);
    for (int s = 0; s < o_.nodes; ++s) {
      if (nodes_[s].live && !nodes_[s].doomed) nodes_[s].info->risk = cell_risk[w_.slot_cell[s]];
    }
  }

  void OnNode(const NodeEvent& ev) {
    Node& n = nodes_[ev.slot];
    const Cell& c = CellOf(ev.slot);
    switch (ev.kind) {
      case NodeEvent::kReady: {
        n = Node{};
        n.live = true;
        auto info = std::make_shared<risk::NodeInfo>();
        info->name = absl::StrCat("node-", ev.slot, "-", ev.gen);
        info->spot = true;
        info->cloud = c.azure ? "azure" : "aws";
        info->pool = c.domains.pool;
        info->zone = c.domains.zone;
        info->instance_type = c.domains.instance_type;
        info->pool_id = c.pool;
        info->zone_id = c.zone;
        info->risk = NodeRisk(c, ev.t);
        n.info = std::move(info);
        ++cell_live_[w_.slot_cell[ev.slot]];
        table_.reset();
        break;
      }
      case NodeEvent::kNotice:
        // The agent cordons the node (kube-scheduler stops offering it) and reports; the
        // extender marks it doomed and counts the eviction in its domains at once.
        n.doomed = true;
        n.info->doomed = true;
        n.info->risk = 1.0;
        n.info->notice_kind = "eviction";
        n.info->notice_id = n.info->name;
        --cell_live_[w_.slot_cell[ev.slot]];
        if (arm_ == Arm::kSpotguard && model_.RecordEviction(n.info->notice_id, c.domains, ev.t)) UpdateRisks(ev.t);
        break;
      case NodeEvent::kGone: {
        std::vector<int> lost = std::move(n.execs);
        n = Node{};
        table_.reset();
        for (int e : lost) {
          Finish(e, ev.t, /*lost=*/true);
          Place(e, ev.t);  // Spark asks for a replacement at once
        }
        break;
      }
    }
  }

  void OnApp(size_t a) {
    const App& app = w_.apps[a];
    risk::PodInfo pod;
    pod.name = absl::StrCat("app-", a, "-exec");
    pod.namespace_ = "spark";
    pod.labels = {{"spark-role", "executor"}, {"spark-app-selector", absl::StrCat("app-", a)}};
    pods_.push_back(std::move(pod));
    spread_.emplace_back();
    for (int i = 0; i < app.executors; ++i) {
      Exec x;
      x.app = static_cast<int>(a);
      x.remaining_h = app.work_h;
      execs_.push_back(x);
      Place(execs_.size() - 1, app.arrival);
    }
  }

  // Bills the attempt's time inside the measured period.
  void Bill(const Exec& x, absl::Time until) {
    const absl::Time from = std::max(x.placed, w_.measured_from);
    if (until <= from) return;
    const double h = absl::ToDoubleHours(until - from);
    if (x.slot < 0) {
      r_.on_demand_h += h;
      return;
    }
    r_.spot_h += h;
    r_.rate_weighted_h += h * CellOf(x.slot).rate_per_hour * kHoursPerMonth * 100;
  }

  void Finish(int e, absl::Time now, bool lost) {
    Exec& x = execs_[e];
    Bill(x, now);
    x.running = false;
    ++x.attempt;
    if (x.slot >= 0) {
      Node& n = nodes_[x.slot];
      if (!lost) {
        --n.used;
        n.execs.erase(std::find(n.execs.begin(), n.execs.end(), e));
      }
      risk::AppSpread& s = spread_[x.app];
      --s.total;
      --s.per_pool[CellOf(x.slot).pool];
      --s.per_zone[CellOf(x.slot).zone];
    }
    if (!lost) return;
    // Work since the last stage boundary is lost; finished stages are kept.
    const double stage = w_.apps[x.app].stage_h;
    const double progress = std::max(0.0, absl::ToDoubleHours(now - x.placed - o_.startup));
    const double lost_h = std::fmod(progress, stage);
    x.remaining_h -= progress - lost_h;
    if (now >= w_.measured_from) {
      ++r_.losses;
      r_.lost_h += lost_h;
      r_.recomputed_h += lost_h + absl::ToDoubleHours(o_.startup);
    }
  }

  // kube-scheduler's numFeasibleNodesToFind for this many nodes (adaptive percentage).
  static int FeasibleToFind(int n) {
    if (n < 100) return n;
    int pct = std::max(5, 50 - n / 125);
    return std::max(100, n * pct / 100);
  }

  void Place(int e, absl::Time now) {
    Exec& x = execs_[e];
    ++r_.placements;
    int chosen = -1;
    if (arm_ != Arm::kNoSpot) {
      // kube-scheduler: feasible nodes from a rotating start, until it has enough.
      std::vector<int> feasible;
      const int want = FeasibleToFind(o_.nodes);
      int looked = 0;
      for (; looked < o_.nodes && static_cast<int>(feasible.size()) < want; ++looked) {
        int s = (next_start_ + looked) % o_.nodes;
        if (nodes_[s].live && !nodes_[s].doomed && nodes_[s].used < o_.slots) feasible.push_back(s);
      }
      next_start_ = (next_start_ + looked) % o_.nodes;
      std::vector<int> extender(feasible.size(), 0);
      if (!feasible.empty() && (arm_ == Arm::kSpotguard || arm_ == Arm::kOracle)) {
        std::vector<absl::string_view> names;
        names.reserve(feasible.size());
        for (int s : feasible) names.push_back(nodes_[s].info->name);
        risk::Snapshot snap;
        snap.nodes = Table();
        auto apps = std::make_shared<risk::AppTable>();
        (*apps)[absl::StrCat("app-", x.app)] = std::make_shared<const risk::AppSpread>(spread_[x.app]);
        snap.apps = std::move(apps);
        risk::PrioritizeResult pr = risk::Prioritize(pods_[x.app], names, snap, policy_);
        for (size_t i = 0; i < feasible.size(); ++i) extender[i] = pr.scores[i].second;
      }
      // Score: NodeResourcesFit least-allocated (0..100) + extender score × 10 × weight; ties
      // at random, as selectHost does.
      int64_t best = -1, ties = 0;
      for (size_t i = 0; i < feasible.size(); ++i) {
        const int s = feasible[i];
        int64_t score = int64_t{100} * (o_.slots - nodes_[s].used - 1) / o_.slots + int64_t{extender[i]} * 10 * o_.extender_weight;
        if (score > best) {
          best = score, ties = 1, chosen = s;
        } else if (score == best && std::uniform_int_distribution<int64_t>(0, ties++)(rng_) == 0) {
          chosen = s;
        }
      }
      if (chosen < 0) ++r_.fallbacks;
    }
    x.slot = chosen;
    x.placed = now;
    x.running = true;
    if (chosen >= 0) {
      Node& n = nodes_[chosen];
      ++n.used;
      n.execs.push_back(e);
      risk::AppSpread& s = spread_[x.app];
      ++s.total;
      ++s.per_pool[CellOf(chosen).pool];
      ++s.per_zone[CellOf(chosen).zone];
    }
    done_.push({now + o_.startup + absl::Hours(x.remaining_h), e, x.attempt});
  }

  // The node table of the live nodes, rebuilt when the set changes.
  std::shared_ptr<const risk::NodeTable> Table() {
    if (!table_) {
      std::vector<std::shared_ptr<const risk::NodeInfo>> infos;
      for (const Node& n : nodes_) {
        if (n.live) infos.push_back(n.info);
      }
      table_ = std::make_shared<const risk::NodeTable>(std::move(infos));
    }
    return table_;
  }

  const Options& o_;
  const World& w_;
  Arm arm_;
  Rng rng_;
  risk::RiskModel model_;
  risk::PolicyConfig policy_;
  std::vector<Node> nodes_;
  std::vector<int> cell_live_;  // live, undoomed nodes per cell
  std::vector<Exec> execs_;
  std::vector<risk::PodInfo> pods_;        // per app: the executor pod's labels
  std::vector<risk::AppSpread> spread_;    // per app: running executors per pool and zone
  std::priority_queue<Done, std::vector<Done>, std::greater<>> done_;
  std::shared_ptr<const risk::NodeTable> table_;
  int next_start_ = 0;
  Result r_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t RunSeed(const Options& o, int run) { return static_cast<uint64_t>(o.seed) * 1000003 + run; }

Json ResultJson(const Result& r) {
  return {{"lost_executor_hours", r.lost_h}, {"recomputed_executor_hours", r.recomputed_h},
          {"spot_executor_hours", r.spot_h}, {"on_demand_executor_hours", r.on_demand_h},
          {"cost_usd", r.cost}, {"spot_share", r.spot_share()}, {"placements", r.placements},
          {"executor_losses", r.losses}, {"on_demand_fallbacks", r.fallbacks},
          {"rate_under_executors_pct_month", r.rate_under_executors()}};
}

// Figures that cannot be right: said on stderr, counted.
int Check(const World& w, const std::vector<Result>& arms) {
  int bad = 0;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "NONSENSE: %s\n", what.c_str());
    ++bad;
  };
  for (size_t i = 0; i < arms.size(); ++i) {
    const Result& r = arms[i];
    const char* name = ArmName(kArms[i]);
    for (double v : {r.lost_h, r.recomputed_h, r.spot_h, r.on_demand_h, r.cost}) {
      if (!std::isfinite(v) || v < 0) fail(absl::StrCat(name, ": a negative or non-finite figure"));
    }
    if (r.placements <= 0 || r.spot_h + r.on_demand_h <= 0) fail(absl::StrCat(name, ": no executor ran"));
    if (r.recomputed_h < r.lost_h) fail(absl::StrCat(name, ": recomputed work below lost work"));
    if (kArms[i] == Arm::kNoSpot) {
      if (r.lost_h != 0 || r.losses != 0 || r.spot_h != 0) fail("no_spot: lost work or ran on spot");
    } else {
      if (r.spot_share() < 0.95) fail(absl::StrCat(name, ": spot share ", r.spot_share(), " (< 0.95): not an equal-share comparison"));
      if (r.cost >= arms.back().cost) fail(absl::StrCat(name, ": costs no less than no spot"));
    }
  }
  if (w.reclaims == 0) fail("the world had no reclaims in the measured period");
  if (arms[2].losses == 0) fail("risk_blind lost no executor: the comparison measures nothing");
  return bad;
}

absl::StatusOr<std::vector<absl::Duration>> Durations(const std::vector<std::string>& v) {
  std::vector<absl::Duration> out;
  for (const std::string& s : v) {
    absl::Duration d;
    if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration()) return absl::InvalidArgumentError(absl::StrCat("bad duration '", s, "'"));
    out.push_back(d);
  }
  return out;
}

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-placement",
                "Simulates executor placement on spot nodes: spotguard's risk scoring vs risk-blind vs no spot.");
  flags.Add("nodes", &o.nodes, "Spot nodes (500-2000 for the reported runs)");
  flags.Add("runs", &o.runs, "Seeds per arm; figures are medians over them");
  flags.Add("seed", &o.seed, "Base seed");
  flags.Add("days", &o.days, "Measured simulated days");
  flags.Add("warmup_days", &o.warmup_days, "Simulated days before measuring (the model learns)");
  flags.Add("load", &o.load, "Mean executor demand as a share of spot slots");
  flags.Add("correlated_per_month", &o.correlated_per_month, "Correlated reclaims per pool-zone per month");
  flags.Add("rates", &o.rates, "Where rates differ: cell (each pool/zone/type cell drawn) or type (per cloud and type)");
  flags.Add("replace_delay", &o.replace_delay, "From a reclaim to the replacement node being ready");
  flags.Add("refresh", &o.refresh, "How often exposure is added and risk recomputed");
  flags.Add("half_life", &o.half_life, "RiskParams::half_life");
  flags.Add("horizon", &o.horizon, "RiskParams::horizon");
  flags.Add("prior_evictions", &o.prior_evictions, "RiskParams::prior_evictions");
  flags.Add("prior_hours", &o.prior_hours, "RiskParams::prior_hours");
  flags.Add("risk_cap", &o.risk_cap, "PolicyConfig::risk_cap");
  flags.Add("spread_weight", &o.spread_weight, "PolicyConfig::spread_weight");
  flags.Add("sweep_half_life", &o.sweep_half_life, "Tuning grid: half-lives (empty: no sweep)");
  flags.Add("sweep_horizon", &o.sweep_horizon, "Tuning grid: horizons");
  flags.Add("sweep_prior_hours", &o.sweep_prior_hours, "Tuning grid: prior hours (prior_evictions stays)");
  flags.Add("sweep_runs", &o.sweep_runs, "Seeds per grid point");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a long sweep shows its rows as they come
  if (o.nodes < 10 || o.runs < 1 || o.days <= 0 || o.warmup_days < 0 || o.load <= 0 || (o.rates != "cell" && o.rates != "type")) {
    return Fail(absl::InvalidArgumentError("need --nodes >= 10, --runs >= 1, --days > 0, --warmup_days >= 0, --load > 0, --rates=cell|type"));
  }

  // The arms.
  std::vector<std::vector<Result>> per_arm(std::size(kArms));
  std::vector<double> ratios;
  Json runs = Json::array();
  int bad = 0;
  for (int run = 0; run < o.runs; ++run) {
    World w = MakeWorld(o, RunSeed(o, run));
    std::vector<Result> arms;
    for (Arm a : kArms) arms.push_back(ArmSim(o, w, a, RunSeed(o, run) ^ 0x5eed).Run());
    bad += Check(w, arms);
    Json j = {{"seed", RunSeed(o, run)}, {"reclaims", w.reclaims}, {"correlated_events", w.correlated}, {"apps", w.apps.size()}};
    for (size_t i = 0; i < arms.size(); ++i) {
      per_arm[i].push_back(arms[i]);
      j["arms"][ArmName(kArms[i])] = ResultJson(arms[i]);
    }
    if (arms[2].lost_h > 0) ratios.push_back(arms[0].lost_h / arms[2].lost_h);
    runs.push_back(j);
  }
  auto median_of = [&](size_t arm, auto field) {
    std::vector<double> v;
    for (const Result& r : per_arm[arm]) v.push_back(field(r));
    return Median(v);
  };
  std::printf("placement simulator: %d spot nodes, %d pools x %d zones x %d types (--rates=%s), %g days measured after %g warm-up, "
              "%d runs (medians)\n",
              o.nodes, o.pools, o.zones, o.types, o.rates.c_str(), o.days, o.warmup_days, o.runs);
  std::printf("%-11s %12s %13s %11s %9s %10s %7s %12s\n", "arm", "lost exec-h", "recomputed h", "executor-h", "cost $",
              "spot share", "losses", "rate %/month");
  Json medians;
  for (size_t i = 0; i < per_arm.size(); ++i) {
    double lost = median_of(i, [](const Result& r) { return r.lost_h; });
    double rec = median_of(i, [](const Result& r) { return r.recomputed_h; });
    double hours = median_of(i, [](const Result& r) { return r.spot_h + r.on_demand_h; });
    double cost = median_of(i, [](const Result& r) { return r.cost; });
    double share = median_of(i, [](const Result& r) { return r.spot_share(); });
    double losses = median_of(i, [](const Result& r) { return static_cast<double>(r.losses); });
    double rate = median_of(i, [](const Result& r) { return r.rate_under_executors(); });
    std::printf("%-11s %12.1f %13.1f %11.0f %9.0f %10.3f %7.0f %12.2f\n", ArmName(kArms[i]), lost, rec, hours, cost, share, losses,
                rate);
    medians[ArmName(kArms[i])] = {{"lost_executor_hours", lost}, {"recomputed_executor_hours", rec}, {"executor_hours", hours},
                                  {"cost_usd", cost}, {"spot_share", share}, {"executor_losses", losses},
                                  {"rate_under_executors_pct_month", rate}};
  }
  const double ratio = Median(ratios);
  std::printf("spotguard / risk-blind lost work: %.3f (median of per-seed ratios; target <= 0.5: %s); oracle / risk-blind: %.3f\n",
              ratio, ratio <= 0.5 ? "met" : "NOT met",
              median_of(1, [](const Result& r) { return r.lost_h; }) / std::max(1e-9, median_of(2, [](const Result& r) { return r.lost_h; })));

  // The tuning sweep: spotguard's arm per grid point, against the same worlds' risk-blind arm.
  Json sweep = Json::array(), best_json;
  if (!o.sweep_half_life.empty()) {
    auto half_lives = Durations(o.sweep_half_life);
    auto horizons = Durations(o.sweep_horizon.empty() ? std::vector<std::string>{absl::FormatDuration(o.horizon)} : o.sweep_horizon);
    if (!half_lives.ok()) return Fail(half_lives.status());
    if (!horizons.ok()) return Fail(horizons.status());
    std::vector<double> priors;
    for (const std::string& s : o.sweep_prior_hours.empty() ? std::vector<std::string>{absl::StrCat(o.prior_hours)} : o.sweep_prior_hours) {
      double v;
      if (!absl::SimpleAtod(s, &v) || v <= 0) return Fail(absl::InvalidArgumentError(absl::StrCat("bad prior hours '", s, "'")));
      priors.push_back(v);
    }
    std::vector<World> worlds;
    std::vector<double> blind;
    for (int run = 0; run < o.sweep_runs; ++run) {
      worlds.push_back(MakeWorld(o, RunSeed(o, run)));
      blind.push_back(ArmSim(o, worlds.back(), Arm::kBlind, RunSeed(o, run) ^ 0x5eed).Run().lost_h);
    }
    std::printf("\ntuning sweep (%d seeds each): spotguard lost exec-h, ratio to risk-blind\n", o.sweep_runs);
    std::printf("%-10s %-10s %-12s %12s %8s %12s\n", "half_life", "horizon", "prior_hours", "lost exec-h", "ratio", "rate %/month");
    Options best = o;
    double best_lost = INFINITY;
    for (absl::Duration hl : *half_lives) {
      for (absl::Duration h : *horizons) {
        for (double ph : priors) {
          Options g = o;
          g.half_life = hl, g.horizon = h, g.prior_hours = ph;
          std::vector<double> lost, rs, rate;
          for (int run = 0; run < o.sweep_runs; ++run) {
            Result r = ArmSim(g, worlds[run], Arm::kSpotguard, RunSeed(o, run) ^ 0x5eed).Run();
            lost.push_back(r.lost_h);
            rate.push_back(r.rate_under_executors());
            if (blind[run] > 0) rs.push_back(r.lost_h / blind[run]);
          }
          std::printf("%-10s %-10s %-12g %12.1f %8.3f %12.2f\n", absl::FormatDuration(hl).c_str(), absl::FormatDuration(h).c_str(), ph,
                      Median(lost), Median(rs), Median(rate));
          sweep.push_back({{"half_life", absl::FormatDuration(hl)}, {"horizon", absl::FormatDuration(h)}, {"prior_evictions", o.prior_evictions},
                           {"prior_hours", ph}, {"lost_executor_hours", Median(lost)}, {"ratio_to_risk_blind", Median(rs)},
                           {"rate_under_executors_pct_month", Median(rate)}});
          if (Median(lost) < best_lost) best_lost = Median(lost), best = g;
        }
      }
    }
    // The best grid point again, over every --runs seed, beside the main table's risk-blind arm.
    std::vector<double> lost, rs, rate;
    for (int run = 0; run < o.runs; ++run) {
      const World w = MakeWorld(o, RunSeed(o, run));
      Result r = ArmSim(best, w, Arm::kSpotguard, RunSeed(o, run) ^ 0x5eed).Run();
      lost.push_back(r.lost_h);
      rate.push_back(r.rate_under_executors());
      if (per_arm[2][run].lost_h > 0) rs.push_back(r.lost_h / per_arm[2][run].lost_h);
    }
    std::printf("best grid point over %d seeds: half_life %s, horizon %s, prior %g per %g h: lost %.1f exec-h, "
                "ratio to risk-blind %.3f, rate under executors %.2f %%/month\n",
                o.runs, absl::FormatDuration(best.half_life).c_str(), absl::FormatDuration(best.horizon).c_str(), best.prior_evictions,
                best.prior_hours, Median(lost), Median(rs), Median(rate));
    best_json = {{"half_life", absl::FormatDuration(best.half_life)}, {"horizon", absl::FormatDuration(best.horizon)},
                 {"prior_evictions", best.prior_evictions}, {"prior_hours", best.prior_hours}, {"runs", o.runs},
                 {"lost_executor_hours", Median(lost)}, {"ratio_to_risk_blind", Median(rs)},
                 {"rate_under_executors_pct_month", Median(rate)}};
  }

  if (!o.out.empty()) {
    Json config = {{"nodes", o.nodes}, {"runs", o.runs}, {"seed", o.seed}, {"days", o.days}, {"warmup_days", o.warmup_days},
                   {"pools", o.pools}, {"zones", o.zones}, {"types", o.types}, {"slots_per_node", o.slots}, {"load", o.load},
                   {"correlated_per_month", o.correlated_per_month}, {"rates", o.rates},
                   {"notice_lead", absl::FormatDuration(o.notice_lead)}, {"replace_delay", absl::FormatDuration(o.replace_delay)},
                   {"startup", absl::FormatDuration(o.startup)}, {"refresh", absl::FormatDuration(o.refresh)},
                   {"on_demand_price", o.on_demand_price}, {"spot_price", o.spot_price},
                   {"half_life", absl::FormatDuration(o.half_life)}, {"horizon", absl::FormatDuration(o.horizon)},
                   {"prior_evictions", o.prior_evictions}, {"prior_hours", o.prior_hours}, {"risk_cap", o.risk_cap},
                   {"spread_weight", o.spread_weight}};
    Json out = {{"config", config}, {"medians", medians}, {"spotguard_to_risk_blind_lost", ratio}, {"runs", runs}, {"sweep", sweep},
                {"sweep_best", best_json}};
    std::ofstream f(o.out);
    f << out.dump(2) << "\n";
    if (!f) return Fail(absl::UnavailableError(absl::StrCat("cannot write ", o.out)));
  }
  if (bad > 0) {
    std::fprintf(stderr, "%d nonsense figure(s)\n", bad);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
