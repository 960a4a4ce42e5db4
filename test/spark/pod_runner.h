// The kubelet's part for Spark pods on kwok nodes: real Spark JVMs, outside any container.
//
// kwok gives the harness's nodes a status and runs their pods' lifecycles in name only; pods
// labelled spotguard.test/runner=spark are left to this runner instead (the harness's kwok
// stages skip them). For each such pod bound to a node it:
//   - gives the node its own loopback address (127.0.0.N, unique within this process), which is
//     the pod's IP and hostIP;
//   - stands in for the pod's volumes: each emptyDir, configMap or projected volume is a
//     directory of the pod's own (ConfigMaps waited for and written out, the ServiceAccount's
//     token requested bound to the pod), its mount path rewritten to that directory wherever
//     the container is given a path (arguments, environment, the ConfigMaps' files) — except
//     the ServiceAccount's, which clients read at a fixed path: the JVM runs in a private mount
//     namespace that shows it there (e2e::InPodServiceAccountArgv);
//   - stands in for cluster DNS: NAME.NS.svc of each Service in the pod's namespace resolves to
//     a pod it selects, through a hosts file given to the JVM (jdk.net.hosts.file);
//   - starts the container's JVM the way Spark's image entrypoint (entrypoint.sh) does: for
//     `executor`, KubernetesExecutorBackend with the pod's SPARK_* environment (fieldRefs
//     resolved); for `driver` (cluster mode), spark-submit in client mode bound to the pod's
//     address;
//   - reports it Running and Ready, and when the JVM exits, Succeeded or Failed with the exit
//     code — then, once the pod is being deleted, removes it (grace 0), as the kubelet does;
//   - on a graceful deletion does what the executor's preStop hook /opt/decom.sh does: SIGPWR to
//     the JVM and wait for it to exit; SIGKILL at the end of the pod's grace (deletionTimestamp).
//     A container without the hook gets SIGTERM instead.
// Reclaim(node) is the cloud taking the VM: every JVM on the node is killed at once, no hook
// runs, and the Node and its pods are removed (as the cloud's node controller and pod GC do).
//
// Threads: a watch thread, and one thread per running pod, which starts its JVM and lives as
// long as it does (e2e::Process children die with the thread that started them).
//
// Example:
//   SparkPodRunner runner({.spark_home = home, .work_dir = dir}, cp.admin());
//   runner.Start();
//   ... spark-submit --conf spark.kubernetes.executor.label.spotguard.test/runner=spark ...
//   runner.Reclaim("spot-2");
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kube/client.h"
#include "common/clock.h"

namespace spotguard::spark {

inline constexpr char kRunnerLabel[] = "spotguard.test/runner";
inline constexpr char kRunnerLabelValue[] = "spark";

struct SparkPodRunnerOptions {
  std::string spark_home;
  std::string work_dir;   // each pod's local and conf directories and its JVM's log
  std::string namespace_;  // the pods of this namespace only; "" for every namespace
  std::string executor_memory_fallback = "512m";  // when the pod sets no SPARK_EXECUTOR_MEMORY
};

class SparkPodRunner {
 public:
  SparkPodRunner(SparkPodRunnerOptions options, kube::KubeClient& kube);
  ~SparkPodRunner();  // kills every JVM and joins

  // Starts watching; returns once the first list is in.
  absl::Status Start();
  void Stop();

  // The cloud takes the node's VM now (see the header comment).
  absl::Status Reclaim(const std::string& node);

  // What happened to each pod the runner ran, by namespace/name.
  struct PodEnd {
    std::string node;
    int exit_code = 0;           // the JVM's, or -signal
    bool decommissioned = false;  // asked to via SIGPWR (the preStop hook)
    bool killed_at_grace = false;
    bool reclaimed = false;       // the node was taken under it
  };
  std::map<std::string, PodEnd> Ended() const;

 private:
  struct Pod;
  void Apply(const kube::Json& pod);
  void RunPod(std::shared_ptr<Pod> pod);
  absl::StatusOr<std::map<std::string, std::string>> MountVolumes(const Pod& pod, const kube::Json& container,
                                                                  const std::string& dir);
  std::string WriteHosts(const Pod& pod, const std::string& dir);
  std::string AddressLocked(const std::string& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SparkPodRunnerOptions options_;
  kube::KubeClient& kube_;
  StopSignal stop_;
  std::thread watch_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Pod>> pods_ ABSL_GUARDED_BY(mu_);  // by uid
  absl::flat_hash_map<std::string, std::string> addresses_ ABSL_GUARDED_BY(mu_);   // node → 127.0.x.y
  std::vector<std::string> reclaimed_ ABSL_GUARDED_BY(mu_);                         // nodes taken
  std::map<std::string, PodEnd> ended_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace spotguard::spark
