#include "extender/agent_pods.h"

#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "common/time_format.h"

namespace spotguard::extender {
namespace {
std::string KeyOf(const kube::Json& pod) {
  return absl::StrCat(kube::StringAt(pod, {"metadata", "namespace"}), "/", kube::StringAt(pod, {"metadata", "name"}));
}
}  // namespace

AgentPods::AgentPods(kube::KubeClient& kube, kube::ListWatchSpec spec) : kube_(kube), spec_(std::move(spec)) {}

AgentPod AgentPods::FromJson(const kube::Json& pod) {
  AgentPod p;
  p.uid = kube::StringAt(pod, {"metadata", "uid"});
  p.node = kube::StringAt(pod, {"spec", "nodeName"});
  p.service_account = kube::StringAt(pod, {"spec", "serviceAccountName"});
  if (std::string d = kube::StringAt(pod, {"metadata", "deletionTimestamp"}); !d.empty()) {
    auto t = ParseApiTime(d);
    p.deletion = t.ok() ? *t : absl::InfinitePast();  // unreadable: taken as deleted
  }
  return p;
}

void AgentPods::Run(const StopSignal& stop) {
  kube::Reflector reflector(kube_, spec_,
                            {.replace = [this](std::vector<kube::Json> items) { Replace(std::move(items)); },
                             .apply = [this](kube::WatchEvent::Type t, const kube::Json& pod) {
                               Apply(t == kube::WatchEvent::Type::kDeleted, pod);
                             }});
  reflector.Run(stop);
}

bool AgentPods::synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

size_t AgentPods::size() const {
  absl::MutexLock lock(&mu_);
  return pods_.size();
}

std::optional<AgentPod> AgentPods::Find(absl::string_view ns, absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find(absl::StrCat(ns, "/", name));
  if (it == pods_.end()) return std::nullopt;
  return it->second;
}

void AgentPods::Replace(std::vector<kube::Json> items) {
  absl::flat_hash_map<std::string, AgentPod> pods;
  for (const kube::Json& pod : items) pods[KeyOf(pod)] = FromJson(pod);
  absl::MutexLock lock(&mu_);
  pods_ = std::move(pods);
  synced_ = true;
}

void AgentPods::Apply(bool deleted, const kube::Json& pod) {
  absl::MutexLock lock(&mu_);
  if (deleted) {
    pods_.erase(KeyOf(pod));
  } else {
    pods_[KeyOf(pod)] = FromJson(pod);
  }
}

}  // namespace spotguard::extender
