#include "test/e2e/controlplane.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/kube/config.h"
#include "common/kube/resources.h"
#include "common/kube/watch.h"

namespace spotguard::e2e {

std::string SourceDir() {
  if (const char* d = std::getenv("SPOTGUARD_SOURCE_DIR")) return d;
  return SPOTGUARD_SOURCE_DIR;
}

std::string BinDir() {
  if (const char* d = std::getenv("SPOTGUARD_BIN_DIR")) return d;
  return SPOTGUARD_BIN_DIR;
}

std::string ToolsBinDir() {
  static const std::string dir = [] {
    auto out = Run(SourceDir() + "/scripts/build-tools.sh --print-dir");
    return out.ok() ? std::string(absl::StripAsciiWhitespace(*out)) + "/bin" : std::string("/nonexistent");
  }();
  return dir;
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> n{0};
  return absl::StrCat(prefix, "-", ++n);
}

absl::StatusOr<std::string> Run(const std::string& command) {
  std::string full = command + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return absl::InternalError(absl::StrCat("cannot run: ", command));
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return absl::InternalError(absl::StrCat("`", command, "` failed (status ", rc, "):\n", out));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "spotguard-e2e-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  cp->dir_ = tmpl;
  auto out = Run(absl::StrCat(SourceDir(), "/scripts/controlplane.sh up ", cp->dir_,
                              " --kwok --owner-pid ", getpid()));
  if (!out.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the e2e control plane did not start (no test can run without it):\n",
                     out.status().message()));
  }
  auto cfg = kube::LoadKubeconfig(cp->kubeconfig());
  if (!cfg.ok()) return cfg.status();
  auto client = kube::KubeClient::Create(*cfg, RealClock::Get(), {.qps = 0, .user_agent = "spotguard-e2e"});
  if (!client.ok()) return client.status();
  cp->admin_ = std::move(*client);
  return cp;
}

ControlPlane::~ControlPlane() {
  (void)Run(absl::StrCat(SourceDir(), "/scripts/controlplane.sh down ", dir_));
  if (::testing::UnitTest::GetInstance()->Passed()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  } else {
    std::fprintf(stderr, "e2e: control plane logs kept in %s/logs\n", dir_.c_str());
  }
}

std::string ControlPlane::Env(const std::string& key) const {
  std::ifstream in(dir_ + "/controlplane.env");
  std::string line;
  std::string value;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, key + "=")) value = line.substr(key.size() + 1);
  }
  return value;
}

absl::StatusOr<std::unique_ptr<kube::KubeClient>> ControlPlane::ClientWithToken(const std::string& token,
                                                                           kube::ClientOptions options) const {
  auto cfg = kube::LoadKubeconfig(kubeconfig());
  if (!cfg.ok()) return cfg.status();
  cfg->tls.client_cert_pem.clear();
  cfg->tls.client_key_pem.clear();
  cfg->token = token;
  return kube::KubeClient::Create(*cfg, RealClock::Get(), options);
}

absl::Status ControlPlane::StartScheduler(const std::string& config_yaml) {
  std::string path = dir_ + "/scheduler-config.in.yaml";
  std::ofstream(path) << config_yaml;
  auto out = Run(absl::StrCat(SourceDir(), "/scripts/controlplane.sh scheduler ", dir_, " ", path));
  return out.status();
}

absl::StatusOr<std::string> ControlPlane::Kubectl(const std::string& args) const {
  return Run(absl::StrCat(ToolsBinDir(), "/kubectl --kubeconfig ", kubeconfig(), " ", args));
}

namespace {
ControlPlane* g_control_plane = nullptr;
absl::Status* g_status = new absl::Status(absl::FailedPreconditionError("ControlPlaneEnvironment not registered"));
}  // namespace

void ControlPlaneEnvironment::SetUp() {
  auto cp = ControlPlane::Start();
  *g_status = cp.status();
  if (cp.ok()) g_control_plane = cp->release();
}

absl::Status ControlPlaneEnvironment::status() { return *g_status; }

void E2ETest::SetUp() {
  absl::Status s = ControlPlaneEnvironment::status();
  ASSERT_TRUE(s.ok()) << s.message();
}

void ControlPlaneEnvironment::TearDown() {
  delete g_control_plane;
  g_control_plane = nullptr;
}

ControlPlane& ControlPlaneEnvironment::Get() {
  if (g_control_plane == nullptr) {
    std::fprintf(stderr, "e2e: no control plane (ControlPlaneEnvironment not registered or failed)\n");
    std::abort();
  }
  return *g_control_plane;
}

// --- Nodes ---------------------------------------------------------------------------------

namespace {

bool IsAzure(NodeKind k) { return k == NodeKind::kAksSpot || k == NodeKind::kAksOnDemand; }

}  // namespace

Json MakeNode(const NodeSpec& s) {
  Json labels = {{"kubernetes.io/hostname", s.name},
                 {"kubernetes.io/os", "linux"},
                 {"kubernetes.io/arch", "amd64"},
                 {"topology.kubernetes.io/zone", s.zone},
                 {"node.kubernetes.io/instance-type", s.instance_type},
                 {"type", "kwok"}};
  Json taints = Json::array();
  std::string provider_id;
  // A stable per-name instance number keeps providerIDs unique and readable.
  size_t h = std::hash<std::string>()(s.name);
  if (s.kind == NodeKind::kGkeSpot) {
    labels["cloud.google.com/gke-spot"] = "true";
    labels["cloud.google.com/gke-nodepool"] = s.pool;
    provider_id = absl::StrCat("gce://spotguard-test/", s.zone, "/", s.name);
  } else if (IsAzure(s.kind)) {
    labels["kubernetes.azure.com/agentpool"] = s.pool;
    labels["kubernetes.azure.com/mode"] = "user";
    if (s.kind == NodeKind::kAksSpot) {
      labels["kubernetes.azure.com/scalesetpriority"] = "spot";
      taints.push_back({{"key", "kubernetes.azure.com/scalesetpriority"}, {"value", "spot"}, {"effect", "NoSchedule"}});
    }
    provider_id = absl::StrCat(
        "azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_spotguard/providers/"
        "Microsoft.Compute/virtualMachineScaleSets/aks-", s.pool, "-vmss/virtualMachines/", h % 100000);
  } else {
    std::string zone = s.zone;
    provider_id = absl::StrCat("aws:///", zone, "/i-0", absl::Hex(h & 0xffffffffffffULL, absl::kZeroPad12));
    if (s.kind == NodeKind::kKarpenterSpot) {
      labels["karpenter.sh/capacity-type"] = "spot";
      labels["karpenter.sh/nodepool"] = s.pool;
    } else {
      labels["eks.amazonaws.com/capacityType"] = s.kind == NodeKind::kEksSpot ? "SPOT" : "ON_DEMAND";
      labels["eks.amazonaws.com/nodegroup"] = s.pool;
    }
  }
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", s.name},
                 {"labels", labels},
                 {"annotations", {{"kwok.x-k8s.io/node", "fake"}, {"node.alpha.kubernetes.io/ttl", "0"}}}}},
               {"spec", {{"providerID", provider_id}}}};
  if (!taints.empty()) node["spec"]["taints"] = taints;
  return node;
}

absl::Status WaitSchedulable(kube::KubeClient& client, const std::string& node) {
  return WaitForObject(client, "/api/v1/nodes", node, [](const Json& n) {
           return !n.is_null() && !kube::HasTaint(n, "node.kubernetes.io/not-ready", "NoSchedule");
         })
      .status();
}

absl::StatusOr<Json> CreateNode(kube::KubeClient& client, const NodeSpec& spec) {
  return client.Post("/api/v1/nodes", MakeNode(spec));
}

// --- Pods -----------------------------------------------------------------------------------

Json MakeSparkPod(const SparkPodSpec& s) {
  Json labels = {{"spark-app-selector", s.app_id},
                 {"spark-app-name", "spotguard-e2e"},
                 {"spark-role", s.driver ? "driver" : "executor"},
                 {"spark-version", "3.5.1"}};
  if (!s.driver) labels["spark-exec-id"] = std::to_string(s.exec_id);
  Json container = {{"name", s.driver ? "spark-kubernetes-driver" : "spark-kubernetes-executor"},
                    {"image", "apache/spark:3.5.1"},
                    {"resources", {{"requests", {{"cpu", "1"}, {"memory", "2Gi"}}}}}};
  if (!s.driver) {
    // What Spark adds with spark.decommission.enabled=true.
    container["lifecycle"] = {{"preStop", {{"exec", {{"command", Json::array({"/opt/decom.sh"})}}}}}};
  }
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", s.name}, {"namespace", s.namespace_}, {"labels", labels}}},
              {"spec",
               {{"containers", Json::array({container})},
                {"terminationGracePeriodSeconds", s.termination_grace_seconds},
                {"restartPolicy", "Never"},
                {"tolerations",
                 Json::array({{{"key", "kubernetes.azure.com/scalesetpriority"}, {"operator", "Equal"},
                               {"value", "spot"}, {"effect", "NoSchedule"}}})}}}};
  if (s.use_full_grace) {
    pod["metadata"]["annotations"] = {{"pod-delete.stage.kwok.x-k8s.io/delay", "24h"}};
  }
  if (!s.node.empty()) pod["spec"]["nodeName"] = s.node;
  if (!s.scheduler_name.empty()) pod["spec"]["schedulerName"] = s.scheduler_name;
  return pod;
}

absl::StatusOr<Json> CreatePod(kube::KubeClient& client, const Json& pod) {
  return client.Post(absl::StrCat("/api/v1/namespaces/", kube::StringAt(pod, {"metadata", "namespace"}), "/pods"), pod);
}

absl::Status CreateNamespace(kube::KubeClient& client, const std::string& name) {
  auto res = client.Post("/api/v1/namespaces", Json{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                    {"metadata", {{"name", name}}}});
  if (!res.ok() && !absl::IsAlreadyExists(res.status())) return res.status();
  return absl::OkStatus();
}

// --- Waiting ------------------------------------------------------------------------------

absl::StatusOr<std::vector<Json>> WaitForList(kube::KubeClient& client, const std::string& collection,
                                              const std::string& selector,
                                              const std::function<bool(const std::vector<Json>&)>& pred,
                                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::map<std::string, Json> objects;  // namespace/name -> object
  auto key = [](const Json& o) {
    return kube::StringAt(o, {"metadata", "namespace"}) + "/" + kube::StringAt(o, {"metadata", "name"});
  };
  auto current = [&] {
    std::vector<Json> v;
    for (const auto& [k, o] : objects) v.push_back(o);
    return v;
  };
  const std::string sep = selector.empty() ? "" : "&";
  while (absl::Now() < deadline) {
    auto list = client.Get(absl::StrCat(collection, "?", selector));
    if (!list.ok()) return list.status();
    objects.clear();
    for (const Json& o : (*list)["items"]) objects[key(o)] = o;
    if (pred(current())) return current();
    // Watch from the list's version until the predicate holds or time runs out.
    StopSignal stop, done;
    std::thread timer([&] {
      if (!done.WaitUntil(deadline)) stop.Stop();
    });
    bool matched = false;
    client.Stream(absl::StrCat(collection, "?watch=1&", selector, sep, "resourceVersion=",
                               kube::StringAt(*list, {"metadata", "resourceVersion"})),
                  [&](absl::string_view line) {
                    auto ev = kube::DecodeWatchEvent(line);
                    if (!ev.ok() || ev->type == kube::WatchEvent::Type::kBookmark) return true;
                    if (ev->type == kube::WatchEvent::Type::kError) return false;  // relist
                    if (ev->type == kube::WatchEvent::Type::kDeleted) {
                      objects.erase(key(ev->object));
                    } else {
                      objects[key(ev->object)] = ev->object;
                    }
                    matched = pred(current());
                    return !matched;
                  },
                  stop, timeout);
    done.Stop();
    timer.join();
    if (matched) return current();
    if (stop.stopped()) break;
  }
  std::string seen;
  for (const auto& [k, o] : objects) absl::StrAppend(&seen, o.dump().substr(0, 1500), "\n");
  return absl::DeadlineExceededError(absl::StrCat("timed out after ", absl::FormatDuration(timeout), " waiting on ",
                                                  collection, "?", selector, "; last seen:\n", seen));
}

absl::StatusOr<Json> WaitForObject(kube::KubeClient& client, const std::string& collection, const std::string& name,
                                   const std::function<bool(const Json&)>& pred, absl::Duration timeout) {
  auto one = [](const std::vector<Json>& v) { return v.empty() ? Json(nullptr) : v[0]; };
  auto got = WaitForList(client, collection, "fieldSelector=" + UrlEncode("metadata.name=" + name),
                         [&](const std::vector<Json>& v) { return pred(one(v)); }, timeout);
  if (!got.ok()) return got.status();
  return one(*got);
}

absl::StatusOr<std::vector<Json>> ListEvents(kube::KubeClient& client, const std::string& object_name,
                                             const std::string& reason, const std::string& ns) {
  auto list = client.Get(absl::StrCat("/api/v1/namespaces/", ns, "/events?fieldSelector=",
                                      UrlEncode(absl::StrCat("involvedObject.name=", object_name, ",reason=", reason))));
  if (!list.ok()) return list.status();
  std::vector<Json> out;
  for (const Json& e : (*list)["items"]) out.push_back(e);
  return out;
}

absl::Status ApplyManifest(ControlPlane& cp, const std::string& path) {
  auto out = cp.Kubectl(absl::StrCat("apply -f ", SourceDir(), "/", path));
  return out.status();
}

}  // namespace spotguard::e2e
