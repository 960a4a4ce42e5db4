// Where the Kubernetes API server is and how to authenticate to it.
//
// Resolution order (as kubectl and client-go): the --kubeconfig flag, then $KUBECONFIG
// (first existing file of a colon-separated list), then in-cluster when
// KUBERNETES_SERVICE_HOST is set, then ~/.kube/config.
//
// Example:
//   auto cfg = ResolveConfig(flags.kubeconfig, ProcessEnv());
//   // cfg->server == "https://10.96.0.1:443", cfg->token_file == ".../serviceaccount/token"
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/flags.h"
#include "common/http_client.h"

namespace spotguard::kube {

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  std::string server;       // https://host:port
  TlsOptions tls;           // CA, client certificate and key as PEM text
  std::string token;        // a static bearer token
  std::string token_file;   // a bearer token re-read when it rotates (wins over `token`)
  std::string namespace_;   // the context's or the pod's namespace; "" if unknown
  std::string source;       // for logs: "kubeconfig /path (context ctx)" or "in-cluster"
};

// Reads a kubeconfig file. `context` empty = current-context. Relative file paths in it are
// relative to the file's directory. Exec and auth-provider plugins are not supported (a
// clear error says so).
absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");
// Parses kubeconfig text; `dir` resolves relative paths.
absl::StatusOr<KubeConfig> ParseKubeconfig(const std::string& yaml, const std::string& dir,
                                           const std::string& context = "");

// The pod's own ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, `sa_dir`/token, ca.crt, namespace.
absl::StatusOr<KubeConfig> LoadInClusterConfig(const EnvLookup& env,
                                               const std::string& sa_dir = kServiceAccountDir);

absl::StatusOr<KubeConfig> ResolveConfig(const std::string& kubeconfig_flag, const EnvLookup& env);

// The bearer token to send, re-read from token_file when it may have rotated: at most once
// per `refresh` period, and at once after Invalidate() (a 401). Thread-safe.
class TokenSource {
 public:
  TokenSource(const KubeConfig& config, Clock& clock, absl::Duration refresh = absl::Minutes(1));
  // "" when there is no token (client-certificate authentication).
  std::string Token();
  void Invalidate();

 private:
  const std::string static_token_, file_;
  Clock& clock_;
  const absl::Duration refresh_;
  absl::Mutex mu_;
  std::string cached_ ABSL_GUARDED_BY(mu_);
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

using spotguard::ReadFile;

}  // namespace spotguard::kube
