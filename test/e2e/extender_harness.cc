#include "test/e2e/extender_harness.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/http_server.h"
#include "common/kube/resources.h"

namespace spotguard::e2e {

absl::Status ApplyExtenderRbac(ControlPlane& cp) {
  if (absl::Status s = ApplyManifest(cp, "manifests/base/namespace.yaml"); !s.ok()) return s;
  return ApplyManifest(cp, "manifests/base/extender-rbac.yaml");
}

absl::StatusOr<std::string> ExtenderKubeconfig(ControlPlane& cp) {
  const std::string pod_name = UniqueName("spotguard-extender");
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", pod_name}, {"namespace", "spotguard-system"}}},
              {"spec",
               {{"serviceAccountName", "spotguard-extender"},
                {"containers", Json::array({{{"name", "extender"}, {"image", "spotguard:test"}}})}}}};
  auto created = CreatePod(cp.admin(), pod);
  if (!created.ok()) return created.status();
  auto token = kube::RequestToken(cp.admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-extender",
                                               .bound_pod_name = pod_name,
                                               .bound_pod_uid = (*created)["metadata"]["uid"]});
  if (!token.ok()) return token.status();
  std::string path = absl::StrCat(cp.dir(), "/", pod_name, ".kubeconfig");
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: extender\n"
                      << "clusters: [{name: c, cluster: {server: '" << cp.Env("APISERVER_URL")
                      << "', certificate-authority: '" << cp.dir() << "/pki/ca.crt'}}]\n"
                      << "users: [{name: extender, user: {token: '" << token->first << "'}}]\n"
                      << "contexts: [{name: extender, context: {cluster: c, user: extender}}]\n";
  return path;
}

absl::StatusOr<SpotguardCerts> MakeSpotguardCerts(ControlPlane& cp) {
  static absl::Mutex mu;
  absl::MutexLock lock(&mu);
  const std::string dir = cp.dir() + "/spotguard-tls";
  auto files = [&](const std::string& who) {
    return tls::Files{.cert_file = absl::StrCat(dir, "/", who, "/tls.crt"),
                      .key_file = absl::StrCat(dir, "/", who, "/tls.key"),
                      .ca_file = absl::StrCat(dir, "/", who, "/ca.crt")};
  };
  SpotguardCerts certs{files("extender"), files("scheduler"), files("agent")};
  if (!tls::Check(certs.agent).ok()) {
    auto made = Run(absl::StrCat(SourceDir(), "/scripts/make-certs.sh ", dir, " --days 2"));
    if (!made.ok()) return made.status();
  }
  return certs;
}

std::unique_ptr<httplib::SSLClient> SchedulerApiClient(const RunningExtender& ext) {
  auto hp = ParseHostPort(ext.http_address);
  auto client = std::make_unique<httplib::SSLClient>(hp->host, hp->port, ext.certs.scheduler.cert_file,
                                                     ext.certs.scheduler.key_file);
  client->set_ca_cert_path(ext.certs.scheduler.ca_file.c_str());
  client->enable_server_certificate_verification(true);
  return client;
}

std::string ScrapeExtender(const RunningExtender& ext) {
  httplib::Client http("http://" + ext.metrics_address);
  auto res = http.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

grpc_tls::ChannelOptions AgentChannel(const RunningExtender& ext) {
  return {.tls = {.ca_file = ext.certs.agent.ca_file}};
}

absl::StatusOr<RunningExtender> StartExtender(ControlPlane& cp, const std::vector<std::string>& flags) {
  auto kubeconfig = ExtenderKubeconfig(cp);
  if (!kubeconfig.ok()) return kubeconfig.status();
  auto certs = MakeSpotguardCerts(cp);
  if (!certs.ok()) return certs.status();
  const std::string identity = UniqueName("extender");
  std::vector<std::string> argv = {BinDir() + "/spotguard-extender", "--kubeconfig=" + *kubeconfig,
                                   "--http_address=127.0.0.1:0", "--grpc_address=127.0.0.1:0",
                                   "--metrics_address=127.0.0.1:0",
                                   "--tls_cert_file=" + certs->extender.cert_file,
                                   "--tls_key_file=" + certs->extender.key_file,
                                   "--scheduler_ca_file=" + certs->extender.ca_file,
                                   "--namespace=spotguard-system", "--identity=" + identity};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto p = Process::Start(identity, argv, cp.dir() + "/logs");
  if (!p.ok()) return p.status();
  auto line = (*p)->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "\"msg\":\"serving\""); });
  if (!line.ok()) return line.status();
  Json j = Json::parse(*line);
  RunningExtender ext{std::move(*p), j["http_address"], j["grpc_address"], j["metrics_address"], *certs};
  // Ready (/readyz) once both watches have synced, which it logs.
  auto synced = ext.process->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "watches synced"); });
  if (!synced.ok()) return synced.status();
  return ext;
}

std::string SchedulerConfig(const RunningExtender& ext, bool node_cache_capable, int weight,
                            const std::string& scheduler_name) {
  return absl::StrCat(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: __KUBECONFIG__
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: )", scheduler_name, R"(
extenders:
  - urlPrefix: https://)", ext.http_address, R"(
    filterVerb: filter
    prioritizeVerb: prioritize
    bindVerb: bind
    weight: )", weight, R"(
    nodeCacheCapable: )", node_cache_capable ? "true" : "false", R"(
    enableHTTPS: true
    tlsConfig:
      certFile: )", ext.certs.scheduler.cert_file, R"(
      keyFile: )", ext.certs.scheduler.key_file, R"(
      caFile: )", ext.certs.scheduler.ca_file, R"(
    httpTimeout: 5s
    ignorable: false
)");
}

}  // namespace spotguard::e2e
