// The real control plane an e2e test binary runs against, and builders for the objects
// spotguard's users have: kwok nodes labelled like AKS/EKS/Karpenter spot and on-demand
// nodes, and Spark-shaped driver and executor pods.
//
// Each e2e binary's main registers ControlPlaneEnvironment; tests reach the cluster with
// ControlPlaneEnvironment::Get(). Start-up runs `scripts/controlplane.sh up` with this
// process as owner, so a crashed or killed test leaves no processes behind. A missing
// component fails every test with a message naming it (never a skip).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kube/client.h"
#include "gtest/gtest.h"

namespace spotguard::e2e {

using kube::Json;

class ControlPlane {
 public:
  // Starts etcd, kube-apiserver, kube-controller-manager and kwok in a fresh temporary directory.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Start();
  ~ControlPlane();

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  // A value from DIR/controlplane.env (APISERVER_URL, ETCD_URL, KUBERNETES_VERSION, ...).
  std::string Env(const std::string& key) const;
  // A client with cluster-admin rights.
  kube::KubeClient& admin() { return *admin_; }
  // A client authenticating with `token` (e.g. a ServiceAccount's); by default unlimited and
  // without retries, so a test sees each answer.
  absl::StatusOr<std::unique_ptr<kube::KubeClient>> ClientWithToken(
      const std::string& token, kube::ClientOptions options = {.qps = 0, .max_attempts = 1}) const;
  // (Re)starts kube-scheduler with this KubeSchedulerConfiguration (see controlplane.sh).
  absl::Status StartScheduler(const std::string& config_yaml);
  // Runs kubectl against the cluster as admin; returns its output.
  absl::StatusOr<std::string> Kubectl(const std::string& args) const;

 private:
  ControlPlane() = default;
  std::string dir_;
  std::unique_ptr<kube::KubeClient> admin_;
};

class ControlPlaneEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
  static ControlPlane& Get();
  // Why the control plane is not there (OK when it is).
  static absl::Status status();
};

// The fixture of every e2e test: each test fails — never skips — with the reason when the
// control plane could not start (a component missing, say).
class E2ETest : public ::testing::Test {
 protected:
  void SetUp() override;
  ControlPlane& cp() { return ControlPlaneEnvironment::Get(); }
  kube::KubeClient& admin() { return cp().admin(); }
};

// Runs a shell command; returns its combined output, or an error with it on non-zero exit.
absl::StatusOr<std::string> Run(const std::string& command);
// The source tree (for scripts/ and manifests/).
std::string SourceDir();
// Where the build put spotguard's binaries (spotguard-agent, spotguard-extender, ...).
std::string BinDir();
// Where scripts/build-tools.sh put kubectl, kwok, ec2-metadata-mock, ...
std::string ToolsBinDir();
// A name unique within this test binary run ("prefix-<n>"), for namespaces and nodes.
std::string UniqueName(const std::string& prefix);

// --- Nodes ---------------------------------------------------------------------------------

enum class NodeKind { kAksSpot, kAksOnDemand, kEksSpot, kEksOnDemand, kKarpenterSpot, kGkeSpot };

struct NodeSpec {
  std::string name;
  NodeKind kind = NodeKind::kAksSpot;
  std::string zone = "zone-1";
  std::string pool = "spot1";
  std::string instance_type = "Standard_D8s_v5";
};

// A kwok-managed Node with the labels, taints and providerID the cloud would give it.
Json MakeNode(const NodeSpec& spec);
absl::StatusOr<Json> CreateNode(kube::KubeClient& client, const NodeSpec& spec);
// Waits until kwok has made the node Ready and kube-controller-manager has lifted the
// not-ready taint TaintNodesByCondition gave it: until then kube-scheduler skips it.
absl::Status WaitSchedulable(kube::KubeClient& client, const std::string& node);

// --- Pods -----------------------------------------------------------------------------------

struct SparkPodSpec {
  std::string namespace_;
  std::string name;
  std::string app_id = "spark-app-1";  // spark-app-selector
  bool driver = false;                 // spark-role=driver, else executor
  int exec_id = 1;
  std::string node;                    // spec.nodeName; "" leaves it to a scheduler
  std::string scheduler_name;          // spec.schedulerName; "" = default
  int64_t termination_grace_seconds = 60;
  // kwok lets the pod live its whole grace period after deletion (as an executor busy
  // migrating blocks would) when true; otherwise it exits at a random point inside it.
  bool use_full_grace = true;
};

Json MakeSparkPod(const SparkPodSpec& spec);
absl::StatusOr<Json> CreatePod(kube::KubeClient& client, const Json& pod);
absl::Status CreateNamespace(kube::KubeClient& client, const std::string& name);

// --- Waiting ------------------------------------------------------------------------------

// Lists and then watches a collection (e.g. "/api/v1/namespaces/x/pods") narrowed by
// `selector` (a query string like "fieldSelector=..." or ""), until `pred` holds for the
// current set of objects or `timeout` passes. Event-driven: no polling, no sleeps.
// Returns the objects as last seen, or DeadlineExceeded with them in the message.
absl::StatusOr<std::vector<Json>> WaitForList(kube::KubeClient& client, const std::string& collection,
                                              const std::string& selector,
                                              const std::function<bool(const std::vector<Json>&)>& pred,
                                              absl::Duration timeout = absl::Seconds(30));

// WaitForList for one object by name; `pred` sees null while it does not exist.
absl::StatusOr<Json> WaitForObject(kube::KubeClient& client, const std::string& collection,
                                   const std::string& name, const std::function<bool(const Json&)>& pred,
                                   absl::Duration timeout = absl::Seconds(30));

// Events about `object_name` with `reason` (namespace "default" for nodes).
absl::StatusOr<std::vector<Json>> ListEvents(kube::KubeClient& client, const std::string& object_name,
                                             const std::string& reason, const std::string& ns = "default");

// kubectl apply -f <source tree>/<path>.
absl::Status ApplyManifest(ControlPlane& cp, const std::string& path);

}  // namespace spotguard::e2e
