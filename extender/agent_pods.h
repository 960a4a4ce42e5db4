// AgentPods: the node agents' pods, kept by a watch (a Reflector on the agents' namespace and
// label selector), so the Authenticator can check that a token's bound pod still exists,
// with the token's uid, on the token's node — without asking the API server per call.
//
// Thread-safe: the watch thread writes, gRPC threads read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kube/watch.h"

namespace spotguard::extender {

struct AgentPod {
  std::string uid;
  std::string node;  // spec.nodeName
  std::string service_account;
  absl::Time deletion = absl::InfiniteFuture();  // metadata.deletionTimestamp
};

class AgentPods {
 public:
  // `spec`: the agents' pods, e.g. {.path = "/api/v1/namespaces/spotguard-system/pods",
  // .label_selector = "app.kubernetes.io/name=spotguard-agent"}.
  AgentPods(kube::KubeClient& kube, kube::ListWatchSpec spec);

  // Lists and watches until `stop`.
  void Run(const StopSignal& stop);

  // Whether the first list has been seen: before it, Find knows nothing.
  bool synced() const;
  std::optional<AgentPod> Find(absl::string_view ns, absl::string_view name) const;
  size_t size() const;

  // What the watch delivers (public for tests).
  void Replace(std::vector<kube::Json> pods);
  void Apply(bool deleted, const kube::Json& pod);

  static AgentPod FromJson(const kube::Json& pod);

 private:
  kube::KubeClient& kube_;
  const kube::ListWatchSpec spec_;
  mutable absl::Mutex mu_;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, AgentPod> pods_ ABSL_GUARDED_BY(mu_);  // "namespace/name"
};

}  // namespace spotguard::extender
