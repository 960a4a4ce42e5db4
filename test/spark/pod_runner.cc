#include "test/spark/pod_runner.h"

#include <signal.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/http_client.h"
#include "common/kube/resources.h"
#include "common/kube/watch.h"
#include "common/log.h"
#include "test/e2e/process.h"

namespace spotguard::spark {
namespace {

using kube::Json;

std::string PodPath(const std::string& ns, const std::string& name) {
  return absl::StrCat("/api/v1/namespaces/", ns, "/pods/", name);
}

std::string Now() { return kube::FormatApiTime(absl::Now()); }

// Spark's image's configuration directory (SPARK_CONF_DIR), where Spark mounts a pod's
// ConfigMap of spark.properties and the like.
constexpr char kImageConfDir[] = "/opt/spark/conf";
constexpr char kServiceAccountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";

}  // namespace

struct SparkPodRunner::Pod {
  std::string uid, ns, name, node, address;
  Json spec;
  absl::Mutex mu;
  // Set by the watch thread (deletion, with the time the grace ends) or Reclaim.
  std::optional<absl::Time> deleting ABSL_GUARDED_BY(mu);
  bool reclaimed ABSL_GUARDED_BY(mu) = false;
};

SparkPodRunner::SparkPodRunner(SparkPodRunnerOptions options, kube::KubeClient& kube)
    : options_(std::move(options)), kube_(kube) {}

SparkPodRunner::~SparkPodRunner() { Stop(); }

absl::Status SparkPodRunner::Start() {
  if (!std::filesystem::exists(options_.spark_home + "/jars")) {
    return absl::FailedPreconditionError(absl::StrCat("SPARK_HOME ", options_.spark_home, " has no jars/"));
  }
  std::filesystem::create_directories(options_.work_dir);
  watch_ = std::thread([this] {
    const std::string path =
        options_.namespace_.empty() ? "/api/v1/pods" : absl::StrCat("/api/v1/namespaces/", options_.namespace_, "/pods");
    kube::Reflector pods(kube_, {.path = path, .label_selector = absl::StrCat(kRunnerLabel, "=", kRunnerLabelValue)},
                         {.replace =
                              [this](std::vector<Json> items) {
                                absl::flat_hash_set<std::string> listed;
                                for (const Json& p : items) {
                                  listed.insert(p["metadata"].value("uid", ""));
                                  Apply(p);
                                }
                                // Deleted while the watch was down: gone now.
                                absl::MutexLock lock(&mu_);
                                for (const auto& [uid, pod] : pods_) {
                                  if (listed.contains(uid)) continue;
                                  absl::MutexLock pod_lock(&pod->mu);
                                  if (!pod->deleting.has_value()) pod->deleting = absl::Now();
                                }
                                synced_ = true;
                              },
                          .apply = [this](kube::WatchEvent::Type, const Json& p) { Apply(p); }});
    pods.Run(stop_);
  });
  absl::MutexLock lock(&mu_);
  auto synced = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return synced_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&synced), absl::Seconds(30))) {
    return absl::DeadlineExceededError("the pod runner's watch did not sync within 30 s");
  }
  return absl::OkStatus();
}

void SparkPodRunner::Stop() {
  stop_.Stop();
  if (watch_.joinable()) watch_.join();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

std::string SparkPodRunner::AddressLocked(const std::string& node) {
  auto it = addresses_.find(node);
  if (it != addresses_.end()) return it->second;
  // Unique across the runners of this process (runs side by side); 127.0.0.1 stays the host's.
  static std::atomic<int> next{0};
  const int n = next++;
  return addresses_[node] = absl::StrCat("127.0.", n / 250, ".", n % 250 + 2);
}

void SparkPodRunner::Apply(const Json& obj) {
  const Json& meta = obj["metadata"];
  const std::string uid = meta.value("uid", "");
  const std::string node = kube::StringAt(obj, {"spec", "nodeName"});
  if (uid.empty() || node.empty()) return;  // not bound yet
  std::shared_ptr<Pod> pod;
  {
    absl::MutexLock lock(&mu_);
    if (stop_.stopped()) return;
    if (auto it = pods_.find(uid); it != pods_.end()) {
      pod = it->second;
    } else {
      if (std::find(reclaimed_.begin(), reclaimed_.end(), node) != reclaimed_.end()) return;
      const std::string phase = kube::StringAt(obj, {"status", "phase"});
      if (phase == "Succeeded" || phase == "Failed" || meta.contains("deletionTimestamp")) return;
      pod = std::make_shared<Pod>();
      pod->uid = uid;
      pod->ns = meta.value("namespace", "");
      pod->name = meta.value("name", "");
      pod->node = node;
      pod->address = AddressLocked(node);
      pod->spec = obj["spec"];
      pods_[uid] = pod;
      threads_.emplace_back([this, pod] { RunPod(pod); });
      return;  // a pod created already deleting is not started (above)
    }
  }
  if (meta.contains("deletionTimestamp")) {
    auto end = kube::ParseApiTime(meta["deletionTimestamp"].get<std::string>());
    absl::MutexLock lock(&pod->mu);
    if (!pod->deleting.has_value()) pod->deleting = end.ok() ? *end : absl::Now();
  }
}

absl::StatusOr<std::map<std::string, std::string>> SparkPodRunner::MountVolumes(const Pod& pod, const Json& container,
                                                                                  const std::string& dir) {
  std::map<std::string, std::string> mounts;  // mountPath → the directory standing in for it
  for (const Json& m : container.value("volumeMounts", Json::array())) {
    const std::string name = m.value("name", ""), path = m.value("mountPath", "");
    std::optional<Json> volume;
    for (const Json& v : pod.spec.value("volumes", Json::array())) {
      if (v.value("name", "") == name) volume = v;
    }
    if (!volume.has_value()) return absl::InvalidArgumentError(absl::StrCat("volumeMount ", name, " has no volume"));
    const std::string host = absl::StrCat(dir, "/volumes/", name);
    std::filesystem::create_directories(host);
    // A ConfigMap's keys (or its items) as files, waiting for it as the kubelet does: Spark
    // creates a driver's ConfigMaps just after its pod.
    auto write_config_map = [&](const Json& source, const std::string& into) -> absl::Status {
      const std::string cm = source.value("name", "");
      absl::StatusOr<Json> got = absl::NotFoundError(cm);
      for (absl::Time end = absl::Now() + absl::Seconds(60); absl::Now() < end && !stop_.stopped();
           absl::SleepFor(absl::Milliseconds(200))) {
        got = kube::GetConfigMap(kube_, pod.ns, cm);
        if (got.ok() || !absl::IsNotFound(got.status())) break;
      }
      if (!got.ok()) return absl::Status(got.status().code(), absl::StrCat("ConfigMap ", cm, ": ", got.status().message()));
      const Json data = got->value("data", Json::object());
      if (source.contains("items")) {
        for (const Json& item : source["items"]) {
          std::ofstream(into + "/" + item.value("path", "")) << data.value(item.value("key", ""), "");
        }
      } else {
        for (const auto& [key, value] : data.items()) std::ofstream(into + "/" + key) << value.get<std::string>();
      }
      return absl::OkStatus();
    };
    if (volume->contains("emptyDir")) {
    } else if (volume->contains("configMap")) {
      if (auto s = write_config_map((*volume)["configMap"], host); !s.ok()) return s;
    } else if (volume->contains("projected")) {
      // The ServiceAccount's volume: a token bound to the pod, the cluster's CA, the namespace.
      for (const Json& source : (*volume)["projected"].value("sources", Json::array())) {
        if (source.contains("serviceAccountToken")) {
          const Json& t = source["serviceAccountToken"];
          kube::TokenRequestSpec request{.namespace_ = pod.ns,
                                         .service_account = pod.spec.value("serviceAccountName", "default"),
                                         .bound_pod_name = pod.name,
                                         .bound_pod_uid = pod.uid};
          if (t.contains("audience")) request.audiences = {t["audience"].get<std::string>()};
          if (t.contains("expirationSeconds")) request.expiration = absl::Seconds(t["expirationSeconds"].get<int64_t>());
          auto token = kube::RequestToken(kube_, request);
          if (!token.ok()) return token.status();
          std::ofstream(host + "/" + t.value("path", "token")) << token->first;
        } else if (source.contains("configMap")) {
          if (auto s = write_config_map(source["configMap"], host); !s.ok()) return s;
        } else if (source.contains("downwardAPI")) {
          for (const Json& item : source["downwardAPI"].value("items", Json::array())) {
            if (kube::StringAt(item, {"fieldRef", "fieldPath"}) == "metadata.namespace") {
              std::ofstream(host + "/" + item.value("path", "")) << pod.ns;
            }
          }
        }
      }
    } else {
      return absl::UnimplementedError(absl::StrCat("volume ", name, ": the runner mounts emptyDir, configMap and projected volumes only"));
    }
    mounts[path] = host;
  }
  return mounts;
}

std::string SparkPodRunner::WriteHosts(const Pod& pod, const std::string& dir) {
  // The cluster's DNS for this pod: every Service of its namespace with a selector, as
  // NAME.NS.svc[.cluster.local], at the address of a pod it selects (the runner's own pods by
  // their node's address). jdk.net.hosts.file replaces the resolver, so localhost, this
  // machine's name and the pod's own name are listed too.
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  std::string hosts = absl::StrCat("127.0.0.1 localhost ", hostname, "\n", pod.address, " ", pod.name, "\n");
  auto services = kube_.Get(absl::StrCat("/api/v1/namespaces/", pod.ns, "/services"));
  if (services.ok()) {
    for (const Json& svc : services->value("items", Json::array())) {
      const Json selector = svc.value("spec", Json::object()).value("selector", Json::object());
      if (!selector.is_object() || selector.empty()) continue;
      std::vector<std::string> terms;
      for (const auto& [k, v] : selector.items()) terms.push_back(absl::StrCat(k, "=", v.get<std::string>()));
      auto pods = kube_.Get(absl::StrCat("/api/v1/namespaces/", pod.ns, "/pods?labelSelector=",
                                         UrlEncode(absl::StrJoin(terms, ","))));
      if (!pods.ok() || pods->value("items", Json::array()).empty()) continue;
      const Json& target = (*pods)["items"][0];
      std::string ip = kube::StringAt(target, {"status", "podIP"});
      if (const std::string node = kube::StringAt(target, {"spec", "nodeName"}); !node.empty()) {
        absl::MutexLock lock(&mu_);
        if (auto it = addresses_.find(node); it != addresses_.end()) ip = it->second;
      }
      if (ip.empty()) continue;
      const std::string name = absl::StrCat(svc["metadata"].value("name", ""), ".", pod.ns, ".svc");
      absl::StrAppend(&hosts, ip, " ", name, " ", name, ".cluster.local\n");
    }
  } else {
    log::Warn("pod runner: cannot list services", {{"pod", pod.name}, {"error", services.status()}});
  }
  const std::string path = dir + "/hosts";
  std::ofstream(path) << hosts;
  return path;
}

void SparkPodRunner::RunPod(std::shared_ptr<Pod> pod) {
  // Spark's container is spark-kubernetes-executor or -driver; a template may add sidecars.
  const Json* found = &pod->spec["containers"][0];
  for (const Json& c : pod->spec["containers"]) {
    const std::string name = c.value("name", "");
    if (name == "spark-kubernetes-executor" || name == "spark-kubernetes-driver") found = &c;
  }
  const Json& container = *found;
  const std::string dir = absl::StrCat(options_.work_dir, "/", pod->ns, "_", pod->name);
  const std::string local_dir = dir + "/local", conf_dir = dir + "/conf";
  std::filesystem::create_directories(local_dir);
  std::filesystem::create_directories(conf_dir);
  std::string failure;

  // The pod's volumes: each mount path stands for a directory of the pod's own, written in
  // every path the container is given (its arguments, its environment, its ConfigMaps' files);
  // the ServiceAccount's, read at a fixed path, is shown at that path in a mount namespace.
  auto mounted = MountVolumes(*pod, container, dir);
  std::map<std::string, std::string> mounts;
  std::string service_account_dir;
  if (mounted.ok()) {
    mounts = *mounted;
    if (auto it = mounts.find(kServiceAccountPath); it != mounts.end()) {
      service_account_dir = it->second;
      mounts.erase(it);
    }
  } else {
    failure = absl::StrCat("mounting the pod's volumes: ", mounted.status().message());
  }
  if (!mounts.contains(kImageConfDir)) mounts[kImageConfDir] = conf_dir;  // the image's own, empty
  // One pass, the longest mount path first where two match at one place (as mounts nest).
  std::vector<std::pair<std::string, std::string>> rewrites(mounts.begin(), mounts.end());
  auto in_pod = [&rewrites](const std::string& s) { return absl::StrReplaceAll(s, rewrites); };
  for (const auto& [path, host] : mounts) {
    if (host == conf_dir || !std::filesystem::is_directory(host)) continue;
    for (const auto& file : std::filesystem::directory_iterator(host)) {
      if (!file.is_regular_file()) continue;
      std::ifstream in(file.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::ofstream(file.path()) << in_pod(text);
    }
  }

  // The container's environment, fieldRefs resolved as the kubelet does.
  std::map<std::string, std::string> env;
  for (const Json& e : container.value("env", Json::array())) {
    const std::string name = e.value("name", "");
    std::string value = e.value("value", "");
    if (e.contains("valueFrom") && e["valueFrom"].contains("fieldRef")) {
      const std::string field = e["valueFrom"]["fieldRef"].value("fieldPath", "");
      if (field == "status.podIP" || field == "status.hostIP") value = pod->address;
      if (field == "metadata.name") value = pod->name;
      if (field == "metadata.namespace") value = pod->ns;
      if (field == "metadata.uid") value = pod->uid;
      if (field == "spec.nodeName") value = pod->node;
    }
    env[name] = in_pod(value);
  }
  if (!env.contains("SPARK_LOCAL_DIRS")) env["SPARK_LOCAL_DIRS"] = local_dir;
  env["SPARK_CONF_DIR"] = in_pod(env.contains("SPARK_CONF_DIR") ? env["SPARK_CONF_DIR"] : kImageConfDir);
  env["SPARK_HOME"] = options_.spark_home;
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  const std::string hosts = WriteHosts(*pod, dir);

  // entrypoint.sh: `executor` runs KubernetesExecutorBackend with SPARK_JAVA_OPT_* in order and
  // the classpath SPARK_CONF_DIR:SPARK_CLASSPATH:$SPARK_HOME/jars/*:SPARK_EXTRA_CLASSPATH;
  // `driver` runs spark-submit in client mode bound to the pod's address.
  std::vector<std::string> args;
  for (const Json& a : container.value("args", Json::array())) args.push_back(in_pod(a.get<std::string>()));
  if (!args.empty() && args[0] == "driver") env["SPARK_SUBMIT_OPTS"] = "-Djdk.net.hosts.file=" + hosts;
  // The pod's own working directory (the JVM fetches the application's jars into it) and
  // nothing of this process's environment.
  std::vector<std::string> argv;
  if (!service_account_dir.empty() && failure.empty()) {
    auto prefix = e2e::InPodServiceAccountArgv(service_account_dir);
    if (prefix.ok()) {
      argv = *prefix;
    } else {
      failure = std::string(prefix.status().message());
    }
  }
  argv.insert(argv.end(), {"/usr/bin/env", "-i", "-C", dir});
  for (const auto& [k, v] : env) argv.push_back(absl::StrCat(k, "=", v));
  const std::string java = "java";  // found on the PATH set above (env -i)
  if (!args.empty() && args[0] == "executor") {
    argv.push_back(java);
    std::vector<std::pair<int, std::string>> opts;
    for (const auto& [k, v] : env) {
      if (absl::StartsWith(k, "SPARK_JAVA_OPT_")) opts.emplace_back(std::atoi(k.c_str() + 15), v);
    }
    std::sort(opts.begin(), opts.end());
    for (auto& [i, v] : opts) argv.push_back(v);
    argv.push_back("-Djdk.net.hosts.file=" + hosts);
    const std::string memory = env.contains("SPARK_EXECUTOR_MEMORY") ? env["SPARK_EXECUTOR_MEMORY"]
                                                                      : options_.executor_memory_fallback;
    for (const char* flag : {"-Xms", "-Xmx"}) argv.push_back(flag + memory);
    std::string classpath = absl::StrCat(env["SPARK_CONF_DIR"], ":", env["SPARK_CLASSPATH"], ":", options_.spark_home, "/jars/*");
    if (!env["SPARK_EXTRA_CLASSPATH"].empty()) absl::StrAppend(&classpath, ":", env["SPARK_EXTRA_CLASSPATH"]);
    argv.insert(argv.end(), {"-cp", classpath,
                             "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend", "--driver-url",
                             env["SPARK_DRIVER_URL"], "--executor-id", env["SPARK_EXECUTOR_ID"], "--cores",
                             env["SPARK_EXECUTOR_CORES"], "--app-id", env["SPARK_APPLICATION_ID"], "--hostname",
                             pod->address, "--resourceProfileId", env["SPARK_RESOURCE_PROFILE_ID"], "--podName",
                             pod->name});
  } else if (!args.empty() && args[0] == "driver") {
    argv.insert(argv.end(), {options_.spark_home + "/bin/spark-submit", "--conf",
                             "spark.driver.bindAddress=" + env["SPARK_DRIVER_BIND_ADDRESS"], "--deploy-mode", "client"});
    argv.insert(argv.end(), args.begin() + 1, args.end());
  } else if (failure.empty()) {
    failure = absl::StrCat("the runner starts Spark drivers and executors only; container args: ", absl::StrJoin(args, " "));
  }
  const bool decom_hook = absl::StrContains(container.value("lifecycle", Json::object()).dump(), "decom.sh");

  auto status = [&](const std::string& phase, const Json& state, bool ready) {
    const std::string r = ready ? "True" : "False";
    Json conditions = Json::array();
    for (const char* type : {"PodScheduled", "Initialized", "ContainersReady", "Ready"}) {
      const bool readiness = std::string(type) == "Ready" || std::string(type) == "ContainersReady";
      conditions.push_back({{"type", type}, {"status", readiness ? r : "True"}, {"lastTransitionTime", Now()}});
    }
    Json body = {{"status",
                  {{"phase", phase},
                   {"hostIP", pod->address},
                   {"hostIPs", {{{"ip", pod->address}}}},
                   {"podIP", pod->address},
                   {"podIPs", {{{"ip", pod->address}}}},
                   {"conditions", conditions},
                   {"containerStatuses",
                    {{{"name", container.value("name", "")},
                      {"image", container.value("image", "")},
                      {"imageID", ""},
                      {"ready", ready},
                      {"started", state.contains("running")},
                      {"restartCount", 0},
                      {"state", state}}}}}}};
    if (phase == "Running") body["status"]["startTime"] = Now();
    auto s = kube_.Patch(PodPath(pod->ns, pod->name) + "/status", kube::PatchType::kStrategicMerge, body);
    if (!s.ok() && !absl::IsNotFound(s.status())) {
      log::Warn("pod runner: cannot report pod status", {{"pod", pod->name}, {"error", s.status()}});
    }
  };

  PodEnd end{.node = pod->node};
  std::unique_ptr<e2e::Process> jvm;
  {
    absl::MutexLock lock(&pod->mu);
    if (pod->reclaimed && failure.empty()) failure = "the node was taken before the JVM started";
  }
  if (failure.empty()) {
    auto started = e2e::Process::Start(absl::StrCat(pod->ns, "_", pod->name), argv, dir);
    if (started.ok()) {
      jvm = std::move(*started);
    } else {
      failure = std::string(started.status().message());
    }
  }
  if (!failure.empty()) {
    log::Warn("pod runner: cannot start the pod", {{"pod", pod->name}, {"error", failure}});
    status("Failed", {{"terminated", {{"exitCode", 128}, {"reason", "StartError"}, {"message", failure}}}}, false);
    end.exit_code = 128;
  } else {
    status("Running", {{"running", {{"startedAt", Now()}}}}, true);
    log::Info("pod runner: JVM started",
              {{"pod", pod->name}, {"node", pod->node}, {"address", pod->address}, {"pid", jvm->pid()}});
    // Supervise: the JVM's own exit, a graceful deletion (hook, then SIGKILL at the grace's
    // end), or the node taken (SIGKILL now).
    bool signalled = false;
    std::optional<int> code;
    while (!(code = jvm->Wait(absl::Milliseconds(20))).has_value()) {
      std::optional<absl::Time> deleting;
      bool reclaimed;
      {
        absl::MutexLock lock(&pod->mu);
        deleting = pod->deleting;
        reclaimed = pod->reclaimed;
      }
      if (reclaimed || stop_.stopped()) {
        jvm->Signal(SIGKILL);
      } else if (deleting.has_value()) {
        if (!signalled) {
          signalled = true;
          end.decommissioned = decom_hook;
          log::Info("pod runner: pod deleted; stopping its JVM",
                    {{"pod", pod->name}, {"signal", decom_hook ? "SIGPWR (decom.sh)" : "SIGTERM"},
                     {"grace_end", *deleting}});
          jvm->Signal(decom_hook ? SIGPWR : SIGTERM);
        }
        if (absl::Now() >= *deleting && !end.killed_at_grace) {
          end.killed_at_grace = true;
          jvm->Signal(SIGKILL);
        }
      }
    }
    end.exit_code = *code;
    {
      absl::MutexLock lock(&pod->mu);
      end.reclaimed = pod->reclaimed;
    }
    log::Info("pod runner: JVM exited", {{"pod", pod->name}, {"exit_code", *code}});
    if (!end.reclaimed) {
      status(*code == 0 ? "Succeeded" : "Failed",
             {{"terminated", {{"exitCode", *code < 0 ? 128 - *code : *code},
                              {"reason", *code == 0 ? "Completed" : "Error"},
                              {"finishedAt", Now()}}}},
             false);
    }
  }
  // A deleted pod whose containers are gone is removed for good, as the kubelet does; a pod
  // that ended on its own stays, Succeeded or Failed, until its owner deletes it.
  while (!stop_.stopped()) {
    {
      absl::MutexLock lock(&pod->mu);
      auto gone = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pod->mu) { return pod->deleting.has_value() || pod->reclaimed; };
      if (pod->mu.AwaitWithTimeout(absl::Condition(&gone), absl::Milliseconds(200))) break;
    }
  }
  if (!stop_.stopped() || end.reclaimed) {
    absl::Status s = kube::DeletePod(kube_, pod->ns, pod->name, 0);
    if (!s.ok() && !absl::IsNotFound(s)) log::Warn("pod runner: cannot remove the pod", {{"pod", pod->name}, {"error", s}});
  }
  absl::MutexLock lock(&mu_);
  ended_[absl::StrCat(pod->ns, "/", pod->name)] = end;
  pods_.erase(pod->uid);
}

absl::Status SparkPodRunner::Reclaim(const std::string& node) {
  std::vector<std::shared_ptr<Pod>> on_node;
  {
    absl::MutexLock lock(&mu_);
    reclaimed_.push_back(node);
    for (const auto& [uid, p] : pods_) {
      if (p->node == node) on_node.push_back(p);
    }
  }
  log::Info("pod runner: the cloud takes the node", {{"node", node}, {"pods", on_node.size()}});
  // Every JVM at once, no hook: the VM is simply gone. Each pod's thread, which owns its JVM
  // (and so its pid), sends the SIGKILL within its 20 ms poll.
  for (const auto& p : on_node) {
    absl::MutexLock lock(&p->mu);
    p->reclaimed = true;
  }
  // The VM is gone: its Node object goes (the cloud's node controller), its pods with it.
  auto s = kube_.Delete(absl::StrCat("/api/v1/nodes/", node));
  if (!s.ok() && !absl::IsNotFound(s.status())) return s.status();
  return absl::OkStatus();
}

std::map<std::string, SparkPodRunner::PodEnd> SparkPodRunner::Ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

}  // namespace spotguard::spark
