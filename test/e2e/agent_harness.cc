#include "test/e2e/agent_harness.h"
#include "test/e2e/extender_harness.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "httplib.h"

namespace spotguard::e2e {

bool RefusedByAgentPolicy(const absl::Status& s) {
  return kube::HttpStatusOf(s) == 403 &&
         absl::StrContains(s.message(), absl::StrCat("ValidatingAdmissionPolicy '", kAgentPolicy, "'"));
}

absl::Status RetryUntilRefusedByAgentPolicy(const std::function<absl::Status()>& request, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  do {
    last = request();
    if (RefusedByAgentPolicy(last)) return absl::OkStatus();
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError(absl::StrCat("not refused by ", kAgentPolicy, " within ",
                                                  absl::FormatDuration(timeout), "; last answer: ",
                                                  last.ok() ? "OK" : last.ToString()));
}

namespace {

// The API server enforces a new policy a moment after it is created (once its admission
// plugin's informers hold the policy and its binding), and nothing reports when. So a request
// only the policy refuses — a dry-run cordon of a node by a token of the agent's
// ServiceAccount that names no node — is repeated, 20 a second, until it is refused.
absl::Status WaitAgentPolicyEnforced(ControlPlane& cp) {
  const std::string probe = UniqueName("spotguard-policy-probe");
  auto node = cp.admin().Post("/api/v1/nodes", {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", probe}}}});
  if (!node.ok()) return node.status();
  absl::Cleanup remove_probe = [&] { (void)cp.admin().Delete("/api/v1/nodes/" + probe); };
  auto token = kube::RequestToken(cp.admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-agent"});
  if (!token.ok()) return token.status();
  auto client = cp.ClientWithToken(token->first, {.qps = 20, .burst = 1, .max_attempts = 1});
  if (!client.ok()) return client.status();
  return RetryUntilRefusedByAgentPolicy([&] {
    return (*client)
        ->Patch(absl::StrCat("/api/v1/nodes/", probe, "?dryRun=All"), kube::PatchType::kMerge,
                {{"spec", {{"unschedulable", true}}}})
        .status();
  });
}

}  // namespace

absl::Status ApplyAgentRbac(ControlPlane& cp) {
  for (const char* manifest : {"manifests/base/namespace.yaml", "manifests/base/agent-rbac.yaml",
                               "manifests/base/agent-admission-policy.yaml"}) {
    if (absl::Status s = ApplyManifest(cp, manifest); !s.ok()) return s;
  }
  return WaitAgentPolicyEnforced(cp);
}

absl::StatusOr<AgentCredentials> ProvisionAgent(ControlPlane& cp, const NodeSpec& node) {
  AgentCredentials c;
  if (auto n = CreateNode(cp.admin(), node); !n.ok()) return n.status();
  c.pod = "spotguard-agent-" + node.name;
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", c.pod}, {"namespace", "spotguard-system"}, {"labels", {{"app.kubernetes.io/name", "spotguard-agent"}}}}},
              {"spec",
               {{"nodeName", node.name},
                {"serviceAccountName", "spotguard-agent"},
                {"tolerations", Json::array({{{"operator", "Exists"}}})},
                {"containers", Json::array({{{"name", "agent"}, {"image", "spotguard:test"}}})}}}};
  auto created = CreatePod(cp.admin(), pod);
  if (!created.ok()) return created.status();
  std::string uid = (*created)["metadata"]["uid"];
  auto api_token = kube::RequestToken(cp.admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-agent",
                                                   .bound_pod_name = c.pod, .bound_pod_uid = uid});
  if (!api_token.ok()) return api_token.status();
  auto report_token = kube::RequestToken(cp.admin(), {.namespace_ = "spotguard-system", .service_account = "spotguard-agent",
                                                      .audiences = {"spotguard"}, .bound_pod_name = c.pod,
                                                      .bound_pod_uid = uid});
  if (!report_token.ok()) return report_token.status();
  c.api_token = api_token->first;
  c.kubeconfig = absl::StrCat(cp.dir(), "/", node.name, ".kubeconfig");
  std::ofstream(c.kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: agent\n"
                              << "clusters: [{name: c, cluster: {server: '" << cp.Env("APISERVER_URL")
                              << "', certificate-authority: '" << cp.dir() << "/pki/ca.crt'}}]\n"
                              << "users: [{name: agent, user: {token: '" << c.api_token << "'}}]\n"
                              << "contexts: [{name: agent, context: {cluster: c, user: agent}}]\n";
  c.report_token_path = absl::StrCat(cp.dir(), "/", node.name, ".token");
  std::ofstream(c.report_token_path) << report_token->first;
  return c;
}

absl::StatusOr<std::unique_ptr<Process>> StartAgent(ControlPlane& cp, const std::string& node,
                                                    const AgentCredentials& c, const std::string& extender,
                                                    const std::vector<std::string>& flags) {
  auto certs = MakeSpotguardCerts(cp);
  if (!certs.ok()) return certs.status();
  std::vector<std::string> argv = {BinDir() + "/spotguard-agent", "--node_name=" + node,
                                   "--kubeconfig=" + c.kubeconfig, "--token_path=" + c.report_token_path,
                                   "--extender_address=" + extender, "--extender_ca_file=" + certs->agent.ca_file,
                                   "--listen_address=127.0.0.1:0", "--poll_interval=250ms"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto agent = Process::Start(UniqueName("agent-" + node), argv, cp.dir() + "/logs");
  if (!agent.ok()) return agent.status();
  auto ready = (*agent)->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "watching the node"); });
  if (!ready.ok()) return ready.status();
  return agent;
}

std::string ScrapeMetrics(Process& daemon) {
  auto line = daemon.WaitForLine([](absl::string_view l) { return absl::StrContains(l, "serving /metrics"); });
  if (!line.ok()) return "";
  std::string address = Json::parse(*line)["address"];
  httplib::Client http("http://" + address);
  auto res = http.Get("/metrics");
  return res ? res->body : "";
}

absl::StatusOr<std::unique_ptr<Process>> StartEc2MetadataMock(ControlPlane& cp, int port,
                                                               std::vector<std::string> args, bool imdsv2_only) {
  std::vector<std::string> argv = {ToolsBinDir() + "/ec2-metadata-mock"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--port=" + std::to_string(port), "--mock-ip-count=1000"});
  if (imdsv2_only) argv.push_back("--imdsv2");
  auto p = Process::Start(UniqueName("ec2-metadata-mock"), argv, cp.dir() + "/logs");
  if (!p.ok()) return p.status();
  auto ready = (*p)->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "Initiating"); });
  if (!ready.ok()) return ready.status();
  // It logs before it listens: wait until it answers at all (IMDSv2-only answers 401), bounded.
  httplib::Client probe("127.0.0.1", port);
  for (int i = 0; i < 1000; ++i) {
    if (auto r = probe.Get("/latest/meta-data/instance-id")) return p;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::UnavailableError(absl::StrCat("ec2-metadata-mock on port ", port, " never answered"));
}

namespace {

// aws-node-termination-handler's ClusterRole as its chart renders it with
// emitKubernetesEvents=false (config/helm/aws-node-termination-handler/templates/).
constexpr char kNthRbac[] = R"(apiVersion: v1
kind: ServiceAccount
metadata: {name: aws-node-termination-handler, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aws-node-termination-handler}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list, patch, update]}
- {apiGroups: [""], resources: [pods], verbs: [list, get]}
- {apiGroups: [""], resources: [pods/eviction], verbs: [create]}
- {apiGroups: [extensions], resources: [daemonsets], verbs: [get]}
- {apiGroups: [apps], resources: [daemonsets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: aws-node-termination-handler}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aws-node-termination-handler}
subjects: [{kind: ServiceAccount, name: aws-node-termination-handler, namespace: kube-system}]
)";

}  // namespace

absl::StatusOr<std::unique_ptr<Process>> StartNodeTerminationHandler(ControlPlane& cp, const std::string& node,
                                                                     const std::string& metadata_url,
                                                                     const std::vector<std::string>& flags) {
  const std::string bin = ToolsBinDir() + "/node-termination-handler";
  if (access(bin.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        bin, " is missing: scripts/build-tools.sh builds aws-node-termination-handler from the Go module proxy"));
  }
  const std::string rbac = cp.dir() + "/nth-rbac.yaml";
  std::ofstream(rbac) << kNthRbac;
  if (auto out = cp.Kubectl("apply -f " + rbac); !out.ok()) return out.status();
  auto token = kube::RequestToken(cp.admin(), {.namespace_ = "kube-system", .service_account = "aws-node-termination-handler"});
  if (!token.ok()) return token.status();
  const std::string secrets = absl::StrCat(cp.dir(), "/nth-", node, "-serviceaccount");
  std::filesystem::create_directories(secrets);
  std::ofstream(secrets + "/token") << token->first;
  std::ofstream(secrets + "/namespace") << "kube-system";
  std::error_code ec;
  std::filesystem::copy_file(cp.dir() + "/pki/ca.crt", secrets + "/ca.crt",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(absl::StrCat("copying the cluster CA: ", ec.message()));
  // APISERVER_URL is https://127.0.0.1:<port>.
  const std::string apiserver = cp.Env("APISERVER_URL");
  absl::string_view url = apiserver;
  absl::ConsumePrefix(&url, "https://");
  const size_t colon = url.rfind(':');
  if (colon == absl::string_view::npos) return absl::InternalError(absl::StrCat("APISERVER_URL ", url, " has no port"));

  auto argv = InPodServiceAccountArgv(secrets);
  if (!argv.ok()) return argv.status();
  argv->insert(argv->end(), {bin, "--node-name=" + node, "--metadata-url=" + metadata_url, "--json-logging"});
  argv->insert(argv->end(), flags.begin(), flags.end());
  auto nth = Process::Start(UniqueName("nth-" + node), *argv, cp.dir() + "/logs",
                            {absl::StrCat("KUBERNETES_SERVICE_HOST=", url.substr(0, colon)),
                             absl::StrCat("KUBERNETES_SERVICE_PORT=", url.substr(colon + 1))});
  if (!nth.ok()) return nth.status();
  auto ready = (*nth)->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "has started successfully"); },
                                   absl::Seconds(60));
  if (!ready.ok()) {
    return absl::UnavailableError(absl::StrCat("aws-node-termination-handler did not start: ", ready.status().message()));
  }
  return nth;
}

}  // namespace spotguard::e2e
