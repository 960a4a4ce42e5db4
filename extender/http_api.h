// The scheduler extender's HTTP API: POST /filter and POST /prioritize, over the snapshot
// ClusterState publishes. Handlers decode (wire.h), call the pure policy
// (risk/policy.h) and encode: they never block on the network or a lock held by a writer.
//
// Bad requests get 400 with {"Error": "..."} (also a valid ExtenderFilterResult); wrong
// methods 405; everything is counted in spotguard_extender_requests_total{verb,code}.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/http_server.h"
#include "extender/metrics.h"
#include "extender/risk/policy.h"

namespace spotguard::extender {

// ExtenderBindingArgs: kube-scheduler asks the extender to bind (bindVerb).
struct BindingArgs {
  std::string pod_name, pod_namespace, pod_uid, node;
  // The pod's labels, as the last /prioritize of this pod showed them (empty if unseen): the
  // watch may not have delivered the pod yet, and spread needs its application.
  absl::flat_hash_map<std::string, std::string> labels;
};

struct HttpApiOptions {
  risk::PolicyConfig policy;
  // When set, the first `capture_limit` request bodies of each verb are written here
  // (filter-1.json, ...): how test/fixtures/ holds real kube-scheduler requests.
  std::string capture_dir;
  int capture_limit = 20;
};

class HttpApi {
 public:
  using SnapshotSource = std::function<std::shared_ptr<const risk::Snapshot>()>;
  // Binds a pod (POST .../binding) and records the placement at once, so the next executor of
  // a burst already sees its application's spread. Null: no /bind.
  using Binder = std::function<absl::Status(const BindingArgs&)>;
  HttpApi(HttpApiOptions options, SnapshotSource snapshot, ExtenderMetrics& metrics, Binder binder = nullptr);

  // Adds /filter, /prioritize and /bind (with a binder) to the server.
  void Register(httplib::Server& server);
  // Adds GET /debug/nodes: the snapshot's nodes (pool, zone, spot, risk, notice), for people
  // exploring and the demo.
  void RegisterDebug(httplib::Server& server);
  std::string NodesJson();

  // The handlers without a socket: (HTTP status, body).
  std::pair<int, std::string> Filter(absl::string_view body);
  std::pair<int, std::string> Prioritize(absl::string_view body);
  // ExtenderBindingResult: {"Error": ""} on success.
  std::pair<int, std::string> Bind(absl::string_view body);

 private:
  void Capture(absl::string_view verb, absl::string_view body);

  const HttpApiOptions options_;
  SnapshotSource snapshot_;
  ExtenderMetrics& metrics_;
  Binder binder_;
  absl::Mutex mu_;
  // Labels of executors recently prioritized, by pod uid, for /bind (bounded).
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::string>> recent_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> captured_filter_{0}, captured_prioritize_{0};
};

}  // namespace spotguard::extender
