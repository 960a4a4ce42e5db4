#include "common/kube/config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::kube {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  fs::path dir_;
};

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

constexpr char kTwoContexts[] = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443/
    certificate-authority: pki/ca.crt
- name: prod-cluster
  cluster:
    server: https://prod.example
    certificate-authority-data: %CA_B64%
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    client-certificate: pki/admin.crt
    client-key: pki/admin.key
- name: prod-user
  user:
    token: static-token
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: spark}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
)";

std::string TwoContexts() {
  std::string s = kTwoContexts;
  s.replace(s.find("%CA_B64%"), 8, absl::Base64Escape("PROD CA PEM"));
  return s;
}

// Verifies the current context with client-certificate files resolved relative to the file.
TEST_F(KubeConfigTest, CurrentContextWithCertificateFiles) {
  fs::create_directories(dir_ / "pki");
  Write("pki/ca.crt", "DEV CA PEM");
  Write("pki/admin.crt", "CERT PEM");
  Write("pki/admin.key", "KEY PEM");
  auto cfg = LoadKubeconfig(Write("config", TwoContexts()));
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->server, "https://dev.example:6443");
  EXPECT_EQ(cfg->tls.ca_pem, "DEV CA PEM");
  EXPECT_EQ(cfg->tls.client_cert_pem, "CERT PEM");
  EXPECT_EQ(cfg->tls.client_key_pem, "KEY PEM");
  EXPECT_EQ(cfg->namespace_, "spark");
  EXPECT_FALSE(cfg->tls.insecure_skip_verify);
}

// Verifies a named context with inline CA data, a bearer token and insecure-skip-tls-verify.
TEST_F(KubeConfigTest, NamedContextWithDataAndToken) {
  auto cfg = ParseKubeconfig(TwoContexts(), dir_.string(), "prod");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->server, "https://prod.example");
  EXPECT_EQ(cfg->tls.ca_pem, "PROD CA PEM");
  EXPECT_EQ(cfg->token, "static-token");
  EXPECT_TRUE(cfg->tls.insecure_skip_verify);
  EXPECT_TRUE(cfg->tls.client_cert_pem.empty());
}

// Verifies client certificate and key given as base64 data.
TEST_F(KubeConfigTest, ClientCertificateData) {
  std::string yaml = "current-context: c\nclusters: [{name: k, cluster: {server: 'https://h:1'}}]\n"
                     "users: [{name: u, user: {client-certificate-data: " + absl::Base64Escape("C") +
                     ", client-key-data: " + absl::Base64Escape("K") + ", tokenFile: tok}}]\n"
                     "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
  auto cfg = ParseKubeconfig(yaml, "/etc/kube");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->tls.client_cert_pem, "C");
  EXPECT_EQ(cfg->tls.client_key_pem, "K");
  EXPECT_EQ(cfg->token_file, "/etc/kube/tok");
}

// Verifies each broken kubeconfig is refused with a message that says what is wrong.
TEST_F(KubeConfigTest, BrokenConfigsExplainThemselves) {
  struct Case {
    std::string yaml, context, want;
  } cases[] = {
      {"{", "", "not valid YAML"},
      {"- a list", "", "not a YAML mapping"},
      {"clusters: []", "", "no current-context"},
      {TwoContexts(), "staging", "no context 'staging'"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: x}}]", "", "no cluster 'x'"},
      {"current-context: c\nclusters: [{name: k, cluster: {}}]\ncontexts: [{name: c, context: {cluster: k}}]", "",
       "has no server"},
      {"current-context: c\nclusters: [{name: k, cluster: {server: 'https://h'}}]\n"
       "users: [{name: u, user: {exec: {command: aws}}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]",
       "", "exec or auth-provider"},
      {"current-context: c\nclusters: [{name: k, cluster: {server: 'https://h', certificate-authority-data: '%%%'}}]\n"
       "contexts: [{name: c, context: {cluster: k}}]",
       "", "not valid base64"},
      {"current-context: c\nclusters: [{name: k, cluster: {server: 'https://h', certificate-authority: missing.crt}}]\n"
       "contexts: [{name: c, context: {cluster: k}}]",
       "", "missing.crt"},
  };
  for (const auto& c : cases) {
    auto cfg = ParseKubeconfig(c.yaml, dir_.string(), c.context);
    EXPECT_FALSE(cfg.ok()) << c.yaml;
    EXPECT_THAT(std::string(cfg.status().message()), HasSubstr(c.want)) << c.yaml;
  }
}

// Verifies in-cluster config from the service environment and the mounted ServiceAccount.
TEST_F(KubeConfigTest, InCluster) {
  Write("token", "sa-token\n");
  Write("ca.crt", "CLUSTER CA");
  Write("namespace", "spotguard-system");
  auto cfg = LoadInClusterConfig(Env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
                                 dir_.string());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->server, "https://10.96.0.1:443");
  EXPECT_EQ(cfg->tls.ca_pem, "CLUSTER CA");
  EXPECT_EQ(cfg->token_file, (dir_ / "token").string());
  EXPECT_EQ(cfg->namespace_, "spotguard-system");
  auto v6 = LoadInClusterConfig(Env({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
                                dir_.string());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
  EXPECT_EQ(LoadInClusterConfig(Env({}), dir_.string()).status().code(), absl::StatusCode::kFailedPrecondition);
}

// Verifies the resolution order: flag, KUBECONFIG (first existing), in-cluster, ~/.kube/config.
TEST_F(KubeConfigTest, ResolutionOrder) {
  std::string a = Write("a.yaml", "current-context: c\nclusters: [{name: k, cluster: {server: 'https://a'}}]\n"
                                  "contexts: [{name: c, context: {cluster: k}}]");
  std::string b = Write("b.yaml", "current-context: c\nclusters: [{name: k, cluster: {server: 'https://b'}}]\n"
                                  "contexts: [{name: c, context: {cluster: k}}]");
  EXPECT_EQ(ResolveConfig(a, Env({{"KUBECONFIG", b}}))->server, "https://a");
  EXPECT_EQ(ResolveConfig("", Env({{"KUBECONFIG", "/nope:" + b}}))->server, "https://b");
  EXPECT_EQ(ResolveConfig("", Env({{"KUBECONFIG", "/nope"}})).status().code(), absl::StatusCode::kNotFound);
  fs::create_directories(dir_ / ".kube");
  fs::copy_file(a, dir_ / ".kube/config");
  EXPECT_EQ(ResolveConfig("", Env({{"HOME", dir_.string()}}))->server, "https://a");
  EXPECT_EQ(ResolveConfig("", Env({})).status().code(), absl::StatusCode::kFailedPrecondition);
}

// Verifies a rotated token file is picked up after the refresh period, or at once after a 401.
TEST_F(KubeConfigTest, TokenFileRotation) {
  std::string path = Write("token", "one");
  testing::FakeClock clock;
  TokenSource tokens({.token_file = path}, clock, absl::Minutes(1));
  EXPECT_EQ(tokens.Token(), "one");
  Write("token", "two");
  EXPECT_EQ(tokens.Token(), "one");  // cached within the period
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(tokens.Token(), "two");
  Write("token", "three");
  tokens.Invalidate();
  EXPECT_EQ(tokens.Token(), "three");
  fs::remove(path);
  tokens.Invalidate();
  EXPECT_EQ(tokens.Token(), "three");  // a vanished file keeps the last good token
  EXPECT_EQ(TokenSource({.token = "static"}, clock).Token(), "static");
}

}  // namespace
}  // namespace spotguard::kube
