#include "test/e2e/agent_harness.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "httplib.h"

namespace spotguard::e2e {

absl::Status ApplyAgentRbac(ControlPlane& cp) {
  if (absl::Status s = ApplyManifest(cp, "manifests/base/namespace.yaml"); !s.ok()) return s;
  return ApplyManifest(cp, "manifests/base/agent-rbac.yaml");
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
  c.kubeconfig = absl::StrCat(cp.dir(), "/", node.name, ".kubeconfig");
  std::ofstream(c.kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: agent\n"
                              << "clusters: [{name: c, cluster: {server: '" << cp.Env("APISERVER_URL")
                              << "', certificate-authority: '" << cp.dir() << "/pki/ca.crt'}}]\n"
                              << "users: [{name: agent, user: {token: '" << api_token->first << "'}}]\n"
                              << "contexts: [{name: agent, context: {cluster: c, user: agent}}]\n";
  c.report_token_path = absl::StrCat(cp.dir(), "/", node.name, ".token");
  std::ofstream(c.report_token_path) << report_token->first;
  return c;
}

absl::StatusOr<std::unique_ptr<Process>> StartAgent(ControlPlane& cp, const std::string& node,
                                                    const AgentCredentials& c, const std::string& extender,
                                                    const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {BinDir() + "/spotguard-agent", "--node_name=" + node,
                                   "--kubeconfig=" + c.kubeconfig, "--token_path=" + c.report_token_path,
                                   "--extender_address=" + extender, "--listen_address=127.0.0.1:0",
                                   "--poll_interval=250ms"};
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
                                                               std::vector<std::string> args) {
  std::vector<std::string> argv = {ToolsBinDir() + "/ec2-metadata-mock"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--port=" + std::to_string(port), "--imdsv2", "--mock-ip-count=1000"});
  auto p = Process::Start(UniqueName("ec2-metadata-mock"), argv, cp.dir() + "/logs");
  if (!p.ok()) return p.status();
  auto ready = (*p)->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "Initiating"); });
  if (!ready.ok()) return ready.status();
  return p;
}

}  // namespace spotguard::e2e
