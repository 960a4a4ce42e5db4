// Typed calls for the Kubernetes objects spotguard touches: nodes (patch, taints), pods
// (evict, delete), Events, TokenReview/TokenRequest, ConfigMaps.
//
// Example:
//   RETURN_IF_ERROR(AddTaint(client, "aks-spot-1",
//                            {"spotguard.io/eviction-notice", "Preempt", "NoSchedule"}).status());
//   absl::Status s = EvictPod(client, "spark", "exec-1", /*grace_seconds=*/25);
//   if (IsTooManyRequests(s)) { /* a PodDisruptionBudget blocks it: s.message() says which */ }
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "common/kube/client.h"
#include "common/kube/patch.h"
#include "common/time_format.h"

namespace spotguard::kube {

// --- Nodes -----------------------------------------------------------------------------

absl::StatusOr<Json> GetNode(KubeClient& client, absl::string_view name, CallOptions call = {});
absl::StatusOr<Json> PatchNode(KubeClient& client, absl::string_view name, PatchType type,
                               const Json& patch, CallOptions call = {});

// Applies the JSON patch `make_ops(node)` guarded by the node's resourceVersion; on a
// conflict re-reads the node and tries again (up to `max_conflicts` times). `make_ops`
// returns nullopt when there is nothing to do. `node` may be a recent copy to save a GET;
// it is re-read after a conflict. Returns the node as the API server left it.
absl::StatusOr<Json> UpdateNodeGuarded(KubeClient& client, absl::string_view name,
                                       const std::function<std::optional<Json>(const Json& node)>& make_ops,
                                       std::optional<Json> node = std::nullopt, int max_conflicts = 10,
                                       CallOptions call = {});

// Adds one taint without losing concurrent writers (UpdateNodeGuarded).
absl::StatusOr<Json> AddTaint(KubeClient& client, absl::string_view node, const Taint& taint);
// Removes every taint with `key` (and `effect`, if given).
absl::StatusOr<Json> RemoveTaint(KubeClient& client, absl::string_view node, absl::string_view key,
                                 absl::string_view effect = "");

// --- Pods --------------------------------------------------------------------------------

// Evicts through the Eviction API (policy/v1). OK when the eviction was accepted or the pod
// is already gone. A PodDisruptionBudget that forbids it comes back at once as
// kResourceExhausted with HTTP 429 and the API's message (never retried here).
absl::Status EvictPod(KubeClient& client, absl::string_view ns, absl::string_view name,
                      std::optional<int64_t> grace_seconds, CallOptions call = {});
// Deletes with a grace period, optionally only if the pod still has `uid`. OK if already gone.
absl::Status DeletePod(KubeClient& client, absl::string_view ns, absl::string_view name,
                       std::optional<int64_t> grace_seconds, absl::string_view uid = "", CallOptions call = {});

// --- Events --------------------------------------------------------------------------------

struct ObjectRef {
  std::string kind;  // "Node", "Pod"
  std::string api_version = "v1";
  std::string namespace_;  // "" for cluster-scoped objects
  std::string name;
  std::string uid;
};

struct EventSpec {
  ObjectRef object;
  std::string type = "Normal";  // Normal | Warning
  std::string reason;           // SpotEvictionNotice, SparkExecutorDecommission, ...
  std::string message;
  std::string component;        // spotguard-agent | spotguard-extender
  std::string host;             // the reporting node, if any
};

// Creates a core/v1 Event. Events about cluster-scoped objects go to namespace "default",
// as kubectl and the kubelet do.
absl::Status CreateEvent(KubeClient& client, const EventSpec& event, absl::Time now);

// --- Authentication -------------------------------------------------------------------------

struct TokenReviewResult {
  bool authenticated = false;
  std::string username;  // system:serviceaccount:<ns>:<name>
  std::string uid;
  std::vector<std::string> groups;
  std::vector<std::string> audiences;
  // extra: authentication.kubernetes.io/pod-name, pod-uid, node-name, ...
  std::map<std::string, std::vector<std::string>> extra;
  std::string error;  // why the token was rejected
};

absl::StatusOr<TokenReviewResult> ReviewToken(KubeClient& client, absl::string_view token,
                                              const std::vector<std::string>& audiences, CallOptions call = {});

struct TokenRequestSpec {
  std::string namespace_, service_account;
  std::vector<std::string> audiences;
  absl::Duration expiration = absl::Hours(1);
  std::string bound_pod_name, bound_pod_uid;  // optional: bind the token to a pod
};
// Mints a ServiceAccount token (TokenRequest), as the kubelet does for projected volumes.
// Returns the token and its expiry.
absl::StatusOr<std::pair<std::string, absl::Time>> RequestToken(KubeClient& client, const TokenRequestSpec& spec);

// --- ConfigMaps --------------------------------------------------------------------------------

absl::StatusOr<Json> GetConfigMap(KubeClient& client, absl::string_view ns, absl::string_view name);
// Creates the ConfigMap; kAlreadyExists if another writer was first.
absl::StatusOr<Json> CreateConfigMap(KubeClient& client, const Json& config_map);
// Replaces it with optimistic concurrency: `config_map` carries the resourceVersion it was
// read at; a concurrent update makes this fail with kAborted (HTTP 409) — re-read, merge, retry.
absl::StatusOr<Json> UpdateConfigMap(KubeClient& client, const Json& config_map);

// --- Helpers -------------------------------------------------------------------------------------

// "2026-11-22T07:45:00Z" ⇄ absl::Time, as the API writes metav1.Time (common/time_format.h).
using ::spotguard::FormatApiMicroTime;
using ::spotguard::FormatApiTime;
using ::spotguard::ParseApiTime;

// A JSON string value at a path of keys, or "" if absent or not a string.
std::string StringAt(const Json& j, std::initializer_list<absl::string_view> keys);

}  // namespace spotguard::kube
