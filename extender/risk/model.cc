#include "extender/risk/model.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/time_format.h"

namespace spotguard::extender::risk {

std::vector<std::string> Domains::Keys() const {
  std::vector<std::string> keys;
  if (!pool.empty()) keys.push_back("pool/" + pool);
  if (!zone.empty()) keys.push_back("zone/" + zone);
  if (!instance_type.empty()) keys.push_back("type/" + instance_type);
  return keys;
}

RiskModel::RiskModel(RiskParams params) : params_(params) {}

RiskModel::Entry RiskModel::Decayed(const Entry& e, absl::Time now) const {
  if (e.as_of == absl::InfinitePast() || now <= e.as_of) return e;
  double f = std::exp2(-absl::FDivDuration(now - e.as_of, params_.half_life));
  return Entry{e.evictions * f, e.exposure_hours * f, now};
}

bool RiskModel::RecordEviction(const std::string& notice_id, const Domains& node, absl::Time now) {
  // Forget ids older than four half-lives: their evidence has decayed to ~6 %.
  for (auto it = counted_.begin(); it != counted_.end();) {
    if (now - it->second > 4 * params_.half_life) {
      counted_.erase(it++);
    } else {
      ++it;
    }
  }
  if (!counted_.emplace(notice_id, now).second) return false;
  for (const std::string& key : node.Keys()) {
    Entry e = Decayed(domains_[key], now);
    e.evictions += 1;
    e.as_of = now;
    domains_[key] = e;
  }
  return true;
}

void RiskModel::AddExposure(const Domains& node, absl::Duration node_time, absl::Time now) {
  for (const std::string& key : node.Keys()) {
    Entry e = Decayed(domains_[key], now);
    e.exposure_hours += absl::ToDoubleHours(node_time);
    e.as_of = now;
    domains_[key] = e;
  }
}

double RiskModel::DomainRate(const std::string& key, absl::Time now) const {
  Entry e;
  if (auto it = domains_.find(key); it != domains_.end()) e = Decayed(it->second, now);
  return (e.evictions + params_.prior_evictions) / (e.exposure_hours + params_.prior_hours);
}

double RiskModel::Rate(const Domains& node, absl::Time now) const {
  std::vector<std::string> keys = node.Keys();
  if (keys.empty()) return params_.prior_evictions / params_.prior_hours;
  double sum = 0;
  for (const std::string& key : keys) sum += DomainRate(key, now);
  return sum / keys.size();
}

double RiskModel::Risk(const Domains& node, bool rebalance, absl::Time now) const {
  double p = 1.0 - std::exp(-Rate(node, now) * absl::ToDoubleHours(params_.horizon));
  return rebalance ? std::max(p, params_.rebalance_risk) : p;
}

RiskModel::DomainState RiskModel::State(const std::string& key, absl::Time now) const {
  auto it = domains_.find(key);
  if (it == domains_.end()) return {};
  Entry e = Decayed(it->second, now);
  return {e.evictions, e.exposure_hours};
}

std::vector<std::string> RiskModel::DomainKeys() const {
  std::vector<std::string> keys;
  for (const auto& [k, e] : domains_) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

nlohmann::json RiskModel::ToJson(absl::Time now) const {
  nlohmann::json domains = nlohmann::json::object(), counted = nlohmann::json::object();
  for (const auto& [k, e] : domains_) {
    Entry d = Decayed(e, now);
    domains[k] = {{"evictions", d.evictions}, {"exposureHours", d.exposure_hours}};
  }
  for (const auto& [id, t] : counted_) counted[id] = FormatApiTime(t);
  return {{"version", 1}, {"asOf", FormatApiTime(now)}, {"domains", domains}, {"counted", counted}};
}

absl::StatusOr<RiskModel> RiskModel::FromJson(const nlohmann::json& j, RiskParams params) {
  if (!j.is_object() || !j.contains("version") || j["version"] != 1 || !j.contains("domains") ||
      !j["domains"].is_object()) {
    return absl::InvalidArgumentError("risk model: not a version-1 document with a domains object");
  }
  auto as_of = ParseApiTime(j.is_object() && j.contains("asOf") && j["asOf"].is_string() ? j["asOf"].get<std::string>() : "");
  if (!as_of.ok()) return absl::InvalidArgumentError(absl::StrCat("risk model: asOf: ", as_of.status().message()));
  RiskModel m(params);
  for (const auto& [k, v] : j["domains"].items()) {
    if (!v.is_object() || !v.contains("evictions") || !v["evictions"].is_number() || !v.contains("exposureHours") ||
        !v["exposureHours"].is_number()) {
      return absl::InvalidArgumentError(absl::StrCat("risk model: domain ", k, " lacks numeric evictions/exposureHours"));
    }
    m.domains_[k] = Entry{v["evictions"].get<double>(), v["exposureHours"].get<double>(), *as_of};
  }
  if (j.contains("counted") && j["counted"].is_object()) {
    for (const auto& [id, t] : j["counted"].items()) {
      if (auto when = ParseApiTime(t.is_string() ? t.get<std::string>() : ""); when.ok()) m.counted_[id] = *when;
    }
  }
  return m;
}

void RiskModel::Merge(const RiskModel& other, absl::Time now) {
  for (const auto& [k, e] : other.domains_) {
    Entry theirs = other.Decayed(e, now);
    Entry ours = Decayed(domains_[k], now);
    domains_[k] = Entry{std::max(ours.evictions, theirs.evictions),
                        std::max(ours.exposure_hours, theirs.exposure_hours), now};
  }
  for (const auto& [id, t] : other.counted_) counted_.emplace(id, t);
}

}  // namespace spotguard::extender::risk
