#include "extender/risk/policy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace spotguard::extender::risk {

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  LabelSelector s;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    Req r;
    if (size_t ne = part.find("!="); ne != absl::string_view::npos) {
      r = {std::string(absl::StripAsciiWhitespace(part.substr(0, ne))),
           std::string(absl::StripAsciiWhitespace(part.substr(ne + 2))), Req::kNe};
    } else if (size_t eq = part.find('='); eq != absl::string_view::npos) {
      absl::string_view value = part.substr(eq + 1);
      absl::ConsumePrefix(&value, "=");  // "==" too
      r = {std::string(absl::StripAsciiWhitespace(part.substr(0, eq))), std::string(absl::StripAsciiWhitespace(value)),
           Req::kEq};
    } else if (absl::ConsumePrefix(&part, "!")) {
      r = {std::string(absl::StripAsciiWhitespace(part)), "", Req::kAbsent};
    } else {
      r = {std::string(part), "", Req::kExists};
    }
    if (r.key.empty()) return absl::InvalidArgumentError(absl::StrCat("label selector '", text, "' has an empty key"));
    s.reqs_.push_back(std::move(r));
  }
  return s;
}

bool LabelSelector::Matches(const absl::flat_hash_map<std::string, std::string>& labels) const {
  if (reqs_.empty()) return false;  // an empty selector selects nothing here
  for (const Req& r : reqs_) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    switch (r.op) {
      case Req::kEq: if (!has || it->second != r.value) return false; break;
      case Req::kNe: if (has && it->second == r.value) return false; break;
      case Req::kExists: if (!has) return false; break;
      case Req::kAbsent: if (has) return false; break;
    }
  }
  return true;
}

absl::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNotice: return "notice";
    case Reason::kDriverOnSpot: return "driver_on_spot";
    case Reason::kRiskCeiling: return "risk_ceiling";
    case Reason::kUnknownNode: return "unknown_node";
  }
  return "unknown";
}

namespace {
// std::lround for the small values scores take, without the libm call.
int RoundHalfAway(double x) { return x >= 0 ? static_cast<int>(x + 0.5) : -static_cast<int>(0.5 - x); }
}  // namespace

int RiskScore(double p, double cap) {
  if (cap <= 0) return p > 0 ? 0 : 10;
  return std::clamp(RoundHalfAway(10.0 * (1.0 - p / cap)), 0, 10);
}

FilterResult Filter(const PodInfo& pod, const std::vector<absl::string_view>& nodes, const Snapshot& snapshot,
                    const PolicyConfig& config, const RequestSpot& request_spot) {
  FilterResult r;
  r.passed.reserve(nodes.size());
  const bool driver = config.driver_selector.Matches(pod.labels);
  double ceiling = 2.0;  // none
  if (auto it = pod.annotations.find(config.max_risk_annotation); it != pod.annotations.end()) {
    if (!absl::SimpleAtod(it->second, &ceiling) || ceiling < 0 || ceiling > 1) {
      r.error = absl::StrCat("pod annotation ", config.max_risk_annotation, "='", it->second,
                             "' must be a number between 0 and 1");
      return r;
    }
  }
  snapshot.nodes->ForEach(nodes, [&](absl::string_view name, const NodeInfo* n) {
      if (n == nullptr) {
        ++r.unknown;
        if (!driver) {
          r.passed.push_back(name);
          return;
        }
        std::optional<bool> spot = request_spot ? request_spot(name) : std::nullopt;
        if (spot == false) {
          r.passed.push_back(name);
        } else if (spot == true) {
          ++r.rejected[Reason::kDriverOnSpot];
          r.unresolvable.emplace_back(name, "spotguard: Spark drivers are kept off spot nodes");
        } else {
          ++r.rejected[Reason::kUnknownNode];
          r.failed.emplace_back(name, "spotguard: node not known to spotguard yet; a Spark driver waits for it");
        }
        return;
      }
      if (n->doomed) {
        ++r.rejected[Reason::kNotice];
        r.unresolvable.emplace_back(name, absl::StrCat("spotguard: node has an active ", n->notice_kind,
                                                       " notice ", n->notice_id));
        return;
      }
      if (driver && n->spot) {
        ++r.rejected[Reason::kDriverOnSpot];
        r.unresolvable.emplace_back(name, "spotguard: Spark drivers are kept off spot nodes");
        return;
      }
      if (n->risk > ceiling) {
        ++r.rejected[Reason::kRiskCeiling];
        r.failed.emplace_back(name, absl::StrFormat("spotguard: eviction risk %.3f exceeds the pod's ceiling %.3f",
                                                    n->risk, ceiling));
        return;
      }
      r.passed.push_back(name);
  });
  return r;
}

PrioritizeResult Prioritize(const PodInfo& pod, const std::vector<absl::string_view>& nodes, const Snapshot& snapshot,
                            const PolicyConfig& config) {
  PrioritizeResult r;
  r.scores.reserve(nodes.size());
  const bool executor = config.executor_selector.Matches(pod.labels);
  if (!executor && !config.score_all_pods) {
    for (absl::string_view name : nodes) r.scores.emplace_back(name, 0);
    return r;
  }
  const AppSpread* app = nullptr;
  if (auto it = pod.labels.find(config.app_label); it != pod.labels.end()) app = snapshot.App(it->second);
  // The application's share of executors per pool and per zone, indexed by the dense ids.
  std::vector<double> pool_share, zone_share;
  if (app != nullptr && app->total > 0) {
    for (auto [m, share] : {std::pair{&app->per_pool, &pool_share}, {&app->per_zone, &zone_share}}) {
      for (const auto& [id, count] : *m) {
        if (id < 0) continue;
        if (share->size() <= static_cast<size_t>(id)) share->resize(id + 1, 0.0);
        (*share)[id] = static_cast<double>(count) / app->total;
      }
    }
  }
  auto share = [](const std::vector<double>& v, int id) {
    return id >= 0 && static_cast<size_t>(id) < v.size() ? v[id] : 0.0;
  };
  snapshot.nodes->ForEach(nodes, [&](absl::string_view name, const NodeInfo* n) {
      if (n == nullptr) {
        ++r.unknown;
        r.scores.emplace_back(name, 0);
        return;
      }
      if (n->doomed) {
        r.scores.emplace_back(name, 0);
        return;
      }
      if (!n->spot) {
        r.scores.emplace_back(name, std::clamp(config.on_demand_score, 0, 10));
        return;
      }
      int score = RiskScore(n->risk, config.risk_cap);
      if (app != nullptr && app->total > 0) {
        double crowding = (share(pool_share, n->pool_id) + share(zone_share, n->zone_id)) / 2;
        score -= RoundHalfAway(config.spread_weight * crowding);
      }
      r.scores.emplace_back(name, std::clamp(score, 0, 10));
  });
  return r;
}

}  // namespace spotguard::extender::risk
