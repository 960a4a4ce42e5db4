// Authenticator: who is calling the EvictionService, on which node its pod runs, and whether
// it may speak for the node a request is about.
//
// The agent sends its projected ServiceAccount token ("authorization: Bearer <jwt>",
// audience "spotguard", bound to its pod). The token is checked here (TokenVerifier: the
// issuer's keys, audience, lifetime) and its bound pod against the agent pods' watch
// (AgentPods): the pod must exist with the token's uid, not past its deletion, on the node
// the token names. A pod the watch does not show (yet) is read once from the API server.
// When the issuer's keys cannot be had — or the token is not bound to a pod — the API
// server decides instead, with a TokenReview (the node from its extra
// authentication.kubernetes.io/node-name, else the pod's spec.nodeName).
//
// Under abuse:
//  - a success is cached until the token expires (at most `cache_ttl`), re-checked against
//    the watch on each use, so a deleted agent pod's token stops working at once;
//  - a refusal is cached by the token's SHA-256 for `failure_ttl` (bounded), so a repeated
//    bad token costs a map lookup;
//  - each peer host may cause `peer_failure_qps` refusals a second (burst
//    `peer_failure_burst`); past that its calls are refused RESOURCE_EXHAUSTED before any
//    verification, until its bucket refills. Cached successes are served regardless;
//  - TokenReviews and pod reads go through `reviews`, a client with its own rate budget,
//    never the one evictions use; one that would wait over `api_wait` for it is not sent.
// Every outcome is counted: spotguard_extender_auth_failures_total{reason} and
// spotguard_extender_authentications_total{method="jwks|token_review|cache"}.
//
// Errors: kUnauthenticated (no_token, malformed, bad_signature, unknown_key, wrong_issuer,
// wrong_audience, expired, not_yet_valid, pod_gone, pod_uid_mismatch, rejected),
// kPermissionDenied (not_service_account, not_allowed, wrong_node), kResourceExhausted
// (rate_limited), kUnavailable (unavailable: the API server could not be asked). The
// reason is in the Status' payload (AuthFailureReason).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/kube/client.h"
#include "extender/agent_pods.h"
#include "extender/metrics.h"
#include "extender/token_verifier.h"

namespace spotguard::extender {

struct Caller {
  std::string username;  // system:serviceaccount:<ns>:<name>
  std::string pod;       // the pod the token is bound to ("" if not bound)
  std::string pod_uid;
  std::string node;      // the node that pod runs on ("" if unknown)
  std::string method;    // how the token was checked: jwks, token_review, or cache (an earlier check)
};

struct AuthenticatorOptions {
  std::vector<std::string> audiences = {"spotguard"};
  // "namespace/name" of ServiceAccounts allowed to report; empty = any ServiceAccount.
  std::vector<std::string> allowed_service_accounts;
  absl::Duration cache_ttl = absl::Minutes(10);
  size_t cache_size = 50000;
  absl::Duration failure_ttl = absl::Seconds(30);
  size_t failure_cache_size = 10000;
  double peer_failure_qps = 2;  // <= 0: no per-peer limit
  int peer_failure_burst = 20;
  size_t max_peers = 10000;
  // A TokenReview or pod read that cannot start within this (the reviews client's budget is
  // spent) is not sent: the caller is told UNAVAILABLE instead of queueing behind a flood.
  absl::Duration api_wait = absl::Seconds(3);
};

class Authenticator {
 public:
  // `reviews`: the client for TokenReviews and pod reads. `verifier` null: every token goes to
  // a TokenReview. `pods` null or not synced: bound pods are read from the API server.
  Authenticator(AuthenticatorOptions options, kube::KubeClient& reviews, TokenVerifier* verifier,
                const AgentPods* pods, Clock& clock, ExtenderMetrics& metrics);

  // Authenticates the caller at `peer` (the gRPC peer, "ipv4:10.0.0.5:41234"; limited by
  // host) and authorizes it to speak for `node`: its pod must run there.
  absl::StatusOr<Caller> Authorize(absl::string_view authorization, absl::string_view peer, absl::string_view node);
  // Authentication alone. `authorization` is the metadata value, "Bearer <token>".
  absl::StatusOr<Caller> Authenticate(absl::string_view authorization, absl::string_view peer = "");

  int reviews() const;    // TokenReviews sent so far
  int pod_reads() const;  // bound pods read from the API server (not in the watch)

 private:
  absl::StatusOr<Caller> Check(absl::string_view authorization, absl::string_view peer, const absl::string_view* node);
  absl::StatusOr<Caller> Count(absl::StatusOr<Caller> c);
  std::optional<Caller> Cached(const std::string& token, absl::Time now);
  std::optional<absl::Status> CachedRefusal(const std::string& digest, absl::Time now);
  absl::StatusOr<Caller> Verify(const std::string& token, const std::string& digest, absl::Time now);
  absl::StatusOr<Caller> FromClaims(const ServiceAccountToken& claims, absl::Time now);
  absl::StatusOr<Caller> Review(const std::string& token);
  absl::Status CheckAllowed(absl::string_view ns, absl::string_view name) const;
  absl::StatusOr<AgentPod> BoundPod(const std::string& ns, const std::string& name, const std::string& uid);
  bool PeerMayFail(const std::string& peer, absl::Time now);
  struct Bucket;
  void Refill(Bucket& b, absl::Time now) const;
  void ChargePeer(const std::string& peer, absl::Time now);

  const AuthenticatorOptions options_;
  kube::KubeClient& reviews_;
  TokenVerifier* const verifier_;
  const AgentPods* const pods_;
  Clock& clock_;
  ExtenderMetrics& metrics_;
  mutable absl::Mutex mu_;
  struct Entry {
    Caller caller;
    std::string namespace_;
    bool watched = false;  // its pod was in the watch: re-checked there on each use
    absl::Time expires;
  };
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);  // by token
  struct Refusal {
    absl::Status status;
    absl::Time expires;
  };
  absl::flat_hash_map<std::string, Refusal> refusals_ ABSL_GUARDED_BY(mu_);  // by SHA-256 of the token
  struct Bucket {
    double tokens;
    absl::Time last;
  };
  absl::flat_hash_map<std::string, Bucket> peers_ ABSL_GUARDED_BY(mu_);  // by peer host
  int reviews_count_ ABSL_GUARDED_BY(mu_) = 0;
  int pod_reads_ ABSL_GUARDED_BY(mu_) = 0;
};

// The "exp" claim of a JWT, unverified (for cache lifetime only), or nullopt.
std::optional<absl::Time> JwtExpiry(absl::string_view token);

// The host of a gRPC peer: "ipv4:10.0.0.5:41234" → "10.0.0.5", "ipv6:%5B::1%5D:5" (or
// "ipv6:[::1]:5") → "::1"; anything else as it is.
std::string PeerHost(absl::string_view peer);

}  // namespace spotguard::extender
