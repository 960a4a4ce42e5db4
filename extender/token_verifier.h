// TokenVerifier: checks a projected ServiceAccount token here, against the keys of the API
// server's service-account issuer, instead of asking the API server (TokenReview) per token.
//
// The keys come through the KubeClient from the API server's own paths: the OIDC discovery
// document (/.well-known/openid-configuration, for the issuer) and /openid/v1/jwks — never
// the discovery's jwks_uri, which usually names an address outside the cluster. They are
// re-read every `refresh`, and at once (at most every `min_refresh`) when a token names a kid
// the set lacks (the issuer rotated its key) or while none are held.
//
// A token verifies when its signature does (jwt.h: RS256/ES256 and kin; never none or HS*),
// iss is the discovery's issuer, aud holds one of `audiences`, exp and nbf/iat bracket the
// clock's now (with `leeway`, as the API server allows), and its kubernetes.io claim names a
// ServiceAccount matching sub. Whether the bound pod still exists is the caller's check
// (Authenticator, from its pod watch): the token only names it.
//
// Thread-safe. Verify never waits for another call's fetch.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/jwt.h"
#include "common/kube/client.h"

namespace spotguard::extender {

// A refusal with its reason — the `reason` label of spotguard_extender_auth_failures_total —
// carried in the Status' payload.
absl::Status AuthError(absl::StatusCode code, absl::string_view reason, absl::string_view message);
// The reason AuthError put into `s` ("" when it has none).
std::string AuthFailureReason(const absl::Status& s);

// What a verified token says (the kubernetes.io claim).
struct ServiceAccountToken {
  std::string namespace_, service_account, service_account_uid;
  std::string pod, pod_uid;    // "" when the token is not bound to a pod
  std::string node, node_uid;  // the bound pod's node, "" when the issuer does not name it
  absl::Time expiry = absl::InfiniteFuture();
  std::string username() const;  // system:serviceaccount:<namespace>:<name>
};

struct TokenVerifierOptions {
  std::vector<std::string> audiences = {"spotguard"};  // aud must hold one of them
  absl::Duration refresh = absl::Minutes(5);
  // Fetches on an unknown kid, or while no keys are held, at most this often.
  absl::Duration min_refresh = absl::Seconds(10);
  absl::Duration leeway = absl::Minutes(1);  // clock skew allowed on exp, nbf and iat
};

class TokenVerifier {
 public:
  TokenVerifier(TokenVerifierOptions options, kube::KubeClient& kube, Clock& clock);

  // Reads the discovery document and the key set now. On failure the keys held, if any,
  // stay in use; without any, Verify answers "no_keys".
  absl::Status Refresh();
  // Refresh at once, then every `refresh` (every `min_refresh` while no keys are held),
  // until `stop`.
  void Run(const StopSignal& stop);

  // The token's claims, or an AuthError: kUnavailable with reason "no_keys" when no keys
  // could be had (the caller asks the API server instead); kUnauthenticated with malformed,
  // bad_signature, unknown_key, wrong_issuer, wrong_audience, expired or not_yet_valid;
  // kPermissionDenied with not_service_account.
  absl::StatusOr<ServiceAccountToken> Verify(absl::string_view token);

  bool has_keys() const;
  std::string issuer() const;
  int fetches() const { return fetches_.load(); }                    // key set fetches attempted
  int signature_checks() const { return signature_checks_.load(); }  // signatures checked

 private:
  struct Keys {
    std::string issuer;
    jwt::KeySet set;
  };
  std::shared_ptr<const Keys> Current() const;
  // Fetches unless one is under way or one was tried under `min_refresh` ago, and only if the
  // keys are still `seen`; returns the keys held afterwards.
  std::shared_ptr<const Keys> RefreshIfDue(const std::shared_ptr<const Keys>& seen);
  absl::Status FetchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fetch_mu_);

  const TokenVerifierOptions options_;
  kube::KubeClient& kube_;
  Clock& clock_;
  absl::Mutex fetch_mu_;  // one fetch at a time
  absl::Time last_attempt_ ABSL_GUARDED_BY(fetch_mu_) = absl::InfinitePast();
  bool failing_ ABSL_GUARDED_BY(fetch_mu_) = false;  // the last fetch failed (logged once per streak)
  mutable absl::Mutex mu_;
  std::shared_ptr<const Keys> keys_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> fetches_{0};
  std::atomic<int> signature_checks_{0};
};

}  // namespace spotguard::extender
