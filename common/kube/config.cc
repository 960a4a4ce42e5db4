#include "common/kube/config.h"

#include <fstream>
#include <sstream>
#include <system_error>
#include <filesystem>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "yaml-cpp/yaml.h"

namespace spotguard::kube {
namespace fs = std::filesystem;

namespace {

// Finds the entry `name` in a kubeconfig list like clusters: [{name, cluster: {...}}].
std::optional<YAML::Node> FindNamed(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& item : list) {
    if (item.IsMap() && item["name"] && item["name"].as<std::string>() == name) {
      YAML::Node value = item[field];
      return value && value.IsMap() ? value : YAML::Node(YAML::NodeType::Map);
    }
  }
  return std::nullopt;
}

std::string Str(const YAML::Node& n, const char* key) {
  return n && n[key] && n[key].IsScalar() ? n[key].as<std::string>() : "";
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || dir.empty()) return path;
  return (fs::path(dir) / path).string();
}

// `<key>-data` (base64) wins over `<key>` (a file path), as in client-go.
absl::StatusOr<std::string> DataOrFile(const YAML::Node& n, const std::string& key,
                                       const std::string& dir) {
  std::string data = Str(n, (key + "-data").c_str());
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return absl::InvalidArgumentError(absl::StrCat(key, "-data is not valid base64"));
    }
    return decoded;
  }
  std::string file = Str(n, key.c_str());
  if (file.empty()) return std::string();
  auto text = ReadFile(Resolve(dir, file));
  if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat(key, ": ", text.status().message()));
  return text;
}

}  // namespace

absl::StatusOr<KubeConfig> ParseKubeconfig(const std::string& yaml, const std::string& dir,
                                           const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig is not valid YAML: ", e.what()));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig is not a YAML mapping");
  try {
    std::string ctx_name = context.empty() ? Str(root, "current-context") : context;
    if (ctx_name.empty()) return absl::InvalidArgumentError("kubeconfig has no current-context");
    std::optional<YAML::Node> ctx_entry = FindNamed(root["contexts"], ctx_name, "context");
    if (!ctx_entry) return absl::InvalidArgumentError(absl::StrCat("kubeconfig has no context '", ctx_name, "'"));
    const YAML::Node& ctx = *ctx_entry;
    std::string cluster_name = Str(ctx, "cluster"), user_name = Str(ctx, "user");
    std::optional<YAML::Node> cluster_entry = FindNamed(root["clusters"], cluster_name, "cluster");
    if (!cluster_entry) {
      return absl::InvalidArgumentError(absl::StrCat("kubeconfig has no cluster '", cluster_name, "'"));
    }
    const YAML::Node& cluster = *cluster_entry;
    KubeConfig cfg;
    cfg.source = absl::StrCat("kubeconfig (context ", ctx_name, ")");
    cfg.namespace_ = Str(ctx, "namespace");
    cfg.server = std::string(absl::StripSuffix(Str(cluster, "server"), "/"));
    if (cfg.server.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cluster '", cluster_name, "' has no server"));
    }
    cfg.tls.insecure_skip_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
    auto ca = DataOrFile(cluster, "certificate-authority", dir);
    if (!ca.ok()) return ca.status();
    cfg.tls.ca_pem = *ca;
    if (!user_name.empty()) {
      std::optional<YAML::Node> user_entry = FindNamed(root["users"], user_name, "user");
      if (!user_entry) return absl::InvalidArgumentError(absl::StrCat("kubeconfig has no user '", user_name, "'"));
      const YAML::Node& user = *user_entry;
      if (user["exec"] || user["auth-provider"]) {
        return absl::UnimplementedError(absl::StrCat(
            "user '", user_name, "' uses an exec or auth-provider plugin, which spotguard does not run; "
            "use a ServiceAccount token, a client certificate or a token file"));
      }
      auto cert = DataOrFile(user, "client-certificate", dir);
      if (!cert.ok()) return cert.status();
      auto key = DataOrFile(user, "client-key", dir);
      if (!key.ok()) return key.status();
      if (cert->empty() != key->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("user '", user_name, "' needs both client-certificate and client-key"));
      }
      cfg.tls.client_cert_pem = *cert;
      cfg.tls.client_key_pem = *key;
      cfg.token = Str(user, "token");
      cfg.token_file = Resolve(dir, Str(user, "tokenFile"));
    }
    return cfg;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig has an unexpected shape: ", e.what()));
  }
}

absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto cfg = ParseKubeconfig(*text, fs::path(path).parent_path().string(), context);
  if (!cfg.ok()) return absl::Status(cfg.status().code(), absl::StrCat(path, ": ", cfg.status().message()));
  cfg->source = absl::StrCat(path, " ", cfg->source);
  return cfg;
}

absl::StatusOr<KubeConfig> LoadInClusterConfig(const EnvLookup& env, const std::string& sa_dir) {
  std::string host = env("KUBERNETES_SERVICE_HOST").value_or("");
  std::string port = env("KUBERNETES_SERVICE_PORT").value_or("");
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(
        "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  KubeConfig cfg;
  cfg.source = "in-cluster";
  cfg.server = absl::StrCat("https://", host.find(':') != std::string::npos ? "[" + host + "]" : host, ":", port);
  auto ca = ReadFile(sa_dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  cfg.tls.ca_pem = *ca;
  cfg.token_file = sa_dir + "/token";
  if (auto token = ReadFile(cfg.token_file); !token.ok()) return token.status();
  if (auto ns = ReadFile(sa_dir + "/namespace"); ns.ok()) {
    cfg.namespace_ = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return cfg;
}

absl::StatusOr<KubeConfig> ResolveConfig(const std::string& kubeconfig_flag, const EnvLookup& env) {
  if (!kubeconfig_flag.empty()) return LoadKubeconfig(kubeconfig_flag);
  if (auto list = env("KUBECONFIG"); list.has_value() && !list->empty()) {
    for (absl::string_view p : absl::StrSplit(*list, ':', absl::SkipEmpty())) {
      std::error_code ec;
      if (fs::exists(std::string(p), ec)) return LoadKubeconfig(std::string(p));
    }
    return absl::NotFoundError(absl::StrCat("none of the files in KUBECONFIG=", *list, " exists"));
  }
  if (env("KUBERNETES_SERVICE_HOST").has_value()) return LoadInClusterConfig(env);
  if (auto home = env("HOME"); home.has_value()) {
    std::string path = *home + "/.kube/config";
    std::error_code ec;
    if (fs::exists(path, ec)) return LoadKubeconfig(path);
  }
  return absl::FailedPreconditionError(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}

TokenSource::TokenSource(const KubeConfig& config, Clock& clock, absl::Duration refresh)
    : static_token_(config.token), file_(config.token_file), clock_(clock), refresh_(refresh) {}

std::string TokenSource::Token() {
  if (file_.empty()) return static_token_;
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_.Now();
  if (now - read_at_ >= refresh_) {
    // A failed re-read keeps the last good token: the file is swapped atomically by the
    // kubelet, so a failure is transient.
    if (auto t = ReadFile(file_); t.ok()) cached_ = std::string(absl::StripAsciiWhitespace(*t));
    read_at_ = now;
  }
  return cached_.empty() ? static_token_ : cached_;
}

void TokenSource::Invalidate() {
  absl::MutexLock lock(&mu_);
  read_at_ = absl::InfinitePast();
}

}  // namespace spotguard::kube
