// Authenticator: who is calling the EvictionService, and on which node its pod runs.
//
// The agent sends its projected ServiceAccount token ("authorization: Bearer <jwt>",
// audience "spotguard"). The token is validated with a TokenReview — the API server's own
// verdict, nothing parsed here is trusted — and the result is cached until the token's
// expiry (at most `cache_ttl`), so a notice storm costs one review per agent. The node comes
// from the token's own claims (authentication.kubernetes.io/node-name, Kubernetes ≥ 1.30),
// else from the bound pod's spec.nodeName.
//
// Errors: kUnauthenticated (no, malformed or rejected token), kPermissionDenied (a token of
// a ServiceAccount that is not allowed), kUnavailable (the API server could not be asked).
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/kube/client.h"

namespace spotguard::extender {

struct Caller {
  std::string username;  // system:serviceaccount:<ns>:<name>
  std::string pod;       // the pod the token is bound to ("" if not bound)
  std::string node;      // the node that pod runs on ("" if unknown)
};

struct AuthenticatorOptions {
  std::vector<std::string> audiences = {"spotguard"};
  // "namespace/name" of ServiceAccounts allowed to report; empty = any ServiceAccount.
  std::vector<std::string> allowed_service_accounts;
  absl::Duration cache_ttl = absl::Minutes(10);
};

class Authenticator {
 public:
  Authenticator(AuthenticatorOptions options, kube::KubeClient& kube, Clock& clock);

  // `authorization` is the metadata value, "Bearer <token>".
  absl::StatusOr<Caller> Authenticate(absl::string_view authorization);

  int reviews() const;  // TokenReviews sent so far (the cache's effect, for tests)

 private:
  absl::StatusOr<Caller> Review(const std::string& token);

  const AuthenticatorOptions options_;
  kube::KubeClient& kube_;
  Clock& clock_;
  mutable absl::Mutex mu_;
  struct Entry {
    Caller caller;
    absl::Time expires;
  };
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
  int reviews_ ABSL_GUARDED_BY(mu_) = 0;
};

// The "exp" claim of a JWT, unverified (for cache lifetime only), or nullopt.
std::optional<absl::Time> JwtExpiry(absl::string_view token);

}  // namespace spotguard::extender
