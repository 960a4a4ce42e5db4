#include "extender/risk_store.h"

#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::extender {

using kube::Json;

RiskStore::RiskStore(RiskStoreOptions options, Clock& clock, kube::KubeClient& kube)
    : options_(std::move(options)), clock_(clock), kube_(kube), model_(options_.risk) {}

bool RiskStore::RecordEviction(const std::string& id, const risk::Domains& domains) {
  absl::MutexLock lock(&mu_);
  return model_.RecordEviction(id, domains, clock_.Now());
}

void RiskStore::AddExposure(const risk::Domains& domains, absl::Duration spot_time) {
  absl::MutexLock lock(&mu_);
  model_.AddExposure(domains, spot_time, clock_.Now());
}

double RiskStore::Risk(const risk::Domains& domains, bool rebalance, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return model_.Risk(domains, rebalance, now);
}

std::vector<std::tuple<std::string, std::string, double>> RiskStore::Rates(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::tuple<std::string, std::string, double>> out;
  for (const std::string& key : model_.DomainKeys()) {
    const size_t slash = key.find('/');
    const std::string kind = key.substr(0, slash), name = key.substr(slash + 1);
    risk::Domains d;
    if (kind == "pool") d.pool = name;
    if (kind == "zone") d.zone = name;
    if (kind == "type") d.instance_type = name;
    out.emplace_back(kind, name, model_.Rate(d, now));
  }
  return out;
}

risk::RiskModel RiskStore::Model() const {
  absl::MutexLock lock(&mu_);
  return model_;
}

void RiskStore::Load() {
  if (options_.configmap_namespace.empty()) return;
  auto cm = kube::GetConfigMap(kube_, options_.configmap_namespace, options_.configmap_name);
  if (!cm.ok()) {
    if (!absl::IsNotFound(cm.status())) log::Warn("cannot read the risk history", {{"error", cm.status()}});
    return;
  }
  auto model = risk::RiskModel::FromJson(Json::parse(kube::StringAt(*cm, {"data", "model.json"}), nullptr, false),
                                         options_.risk);
  if (!model.ok()) {
    log::Warn("ignoring an unreadable risk history", {{"error", model.status()}});
    return;
  }
  absl::MutexLock lock(&mu_);
  model_.Merge(*model, clock_.Now());
  log::Info("risk history loaded", {{"configmap", options_.configmap_name}, {"domains", model->DomainKeys().size()}});
}

absl::Status RiskStore::Persist() {
  if (options_.configmap_namespace.empty()) return absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cm = kube::GetConfigMap(kube_, options_.configmap_namespace, options_.configmap_name);
    if (!cm.ok() && !absl::IsNotFound(cm.status())) return cm.status();
    Json body;
    {
      absl::MutexLock lock(&mu_);
      // Another replica's history joins ours (max per domain), then both are written.
      if (cm.ok()) {
        auto theirs = risk::RiskModel::FromJson(
            Json::parse(kube::StringAt(*cm, {"data", "model.json"}), nullptr, false), options_.risk);
        if (theirs.ok()) model_.Merge(*theirs, clock_.Now());
      }
      body = {{"metadata", {{"name", options_.configmap_name}, {"namespace", options_.configmap_namespace}}},
              {"data", {{"model.json", model_.ToJson(clock_.Now()).dump()}}}};
    }
    absl::StatusOr<Json> written;
    if (cm.ok()) {
      body["metadata"]["resourceVersion"] = (*cm)["metadata"]["resourceVersion"];
      written = kube::UpdateConfigMap(kube_, body);
    } else {
      written = kube::CreateConfigMap(kube_, body);
    }
    if (written.ok()) return absl::OkStatus();
    if (!kube::IsConflict(written.status())) return written.status();
    // Another replica wrote in between: read it again and merge.
  }
  return absl::AbortedError("risk history: too many concurrent writers");
}

}  // namespace spotguard::extender
