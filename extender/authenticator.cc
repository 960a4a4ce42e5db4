#include "extender/authenticator.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::extender {
namespace {

using absl::StatusCode;

std::string Sha256(absl::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

// Refusals the token itself earns, worth remembering: not the API server's unavailability,
// nor an unknown kid (the next fetch of the issuer's keys may know it).
bool Cacheable(const absl::Status& s) {
  const std::string reason = AuthFailureReason(s);
  return !reason.empty() && reason != "unavailable" && reason != "unknown_key";
}

}  // namespace

std::optional<absl::Time> JwtExpiry(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return std::nullopt;
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;
  auto j = kube::Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("exp") || !j["exp"].is_number()) return std::nullopt;
  return absl::FromUnixSeconds(j["exp"].get<int64_t>());
}

std::string PeerHost(absl::string_view peer) {
  absl::string_view p = peer;
  if (absl::ConsumePrefix(&p, "ipv4:")) return std::string(p.substr(0, p.rfind(':')));
  if (absl::ConsumePrefix(&p, "ipv6:")) {  // the brackets as they are, or percent-encoded
    if (absl::ConsumePrefix(&p, "[")) return std::string(p.substr(0, p.find(']')));
    if (absl::ConsumePrefix(&p, "%5B") || absl::ConsumePrefix(&p, "%5b")) {
      return std::string(p.substr(0, std::min(p.find("%5D"), p.find("%5d"))));
    }
    return std::string(p.substr(0, p.rfind(':')));
  }
  return std::string(peer);
}

Authenticator::Authenticator(AuthenticatorOptions options, kube::KubeClient& reviews, TokenVerifier* verifier,
                             const AgentPods* pods, Clock& clock, ExtenderMetrics& metrics)
    : options_(std::move(options)), reviews_(reviews), verifier_(verifier), pods_(pods), clock_(clock), metrics_(metrics) {}

int Authenticator::reviews() const {
  absl::MutexLock lock(&mu_);
  return reviews_count_;
}

int Authenticator::pod_reads() const {
  absl::MutexLock lock(&mu_);
  return pod_reads_;
}

absl::StatusOr<Caller> Authenticator::Authorize(absl::string_view authorization, absl::string_view peer,
                                                absl::string_view node) {
  return Count(Check(authorization, peer, &node));
}

absl::StatusOr<Caller> Authenticator::Authenticate(absl::string_view authorization, absl::string_view peer) {
  return Count(Check(authorization, peer, nullptr));
}

absl::StatusOr<Caller> Authenticator::Count(absl::StatusOr<Caller> c) {
  if (c.ok()) {
    metrics_.RecordAuthentication(c->method);
  } else {
    std::string reason = AuthFailureReason(c.status());
    metrics_.RecordAuthFailure(reason.empty() ? "unavailable" : reason);
  }
  return c;
}

absl::StatusOr<Caller> Authenticator::Check(absl::string_view authorization, absl::string_view peer_address,
                                            const absl::string_view* node) {
  const absl::Time now = clock_.Now();
  const std::string peer = PeerHost(peer_address);
  absl::string_view bearer = absl::StripAsciiWhitespace(authorization);
  const bool has_scheme = absl::ConsumePrefix(&bearer, "Bearer ") || absl::ConsumePrefix(&bearer, "bearer ");
  const std::string token(has_scheme ? absl::StripAsciiWhitespace(bearer) : "");
  std::optional<Caller> caller = token.empty() ? std::nullopt : Cached(token, now);
  if (!caller.has_value()) {
    if (!PeerMayFail(peer, now)) {
      return AuthError(StatusCode::kResourceExhausted, "rate_limited",
                       "too many failed authentications from this address; retry later");
    }
    absl::StatusOr<Caller> checked;
    if (!has_scheme) {
      checked = AuthError(StatusCode::kUnauthenticated, "no_token",
                          "no bearer token: send 'authorization: Bearer <ServiceAccount token>'");
    } else if (token.empty()) {
      checked = AuthError(StatusCode::kUnauthenticated, "no_token", "empty bearer token");
    } else {
      const std::string digest = Sha256(token);
      if (std::optional<absl::Status> refused = CachedRefusal(digest, now); refused.has_value()) {
        checked = *refused;
      } else {
        checked = Verify(token, digest, now);
      }
    }
    if (!checked.ok()) {
      if (AuthFailureReason(checked.status()) != "unavailable") ChargePeer(peer, now);
      return checked.status();
    }
    caller = std::move(*checked);
  }
  if (node != nullptr && caller->node != *node) {
    ChargePeer(peer, now);
    return AuthError(StatusCode::kPermissionDenied, "wrong_node",
                     absl::StrCat(caller->username, caller->pod.empty() ? "" : " (pod " + caller->pod + ")",
                                  " runs on node '", caller->node, "', not on '", *node,
                                  "': an agent reports only for its own node"));
  }
  return *caller;
}

std::optional<Caller> Authenticator::Cached(const std::string& token, absl::Time now) {
  Entry e;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(token);
    if (it == cache_.end()) return std::nullopt;
    if (now >= it->second.expires) {
      cache_.erase(it);
      return std::nullopt;
    }
    e = it->second;
  }
  if (e.watched && pods_ != nullptr && pods_->synced()) {
    // The watch says whether the pod is still there: if not as it was, check the token afresh.
    std::optional<AgentPod> pod = pods_->Find(e.namespace_, e.caller.pod);
    if (!pod || pod->uid != e.caller.pod_uid || pod->deletion <= now || pod->node != e.caller.node) {
      absl::MutexLock lock(&mu_);
      cache_.erase(token);
      return std::nullopt;
    }
  }
  e.caller.method = "cache";
  return e.caller;
}

std::optional<absl::Status> Authenticator::CachedRefusal(const std::string& digest, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = refusals_.find(digest);
  if (it == refusals_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    refusals_.erase(it);
    return std::nullopt;
  }
  return it->second.status;
}

absl::StatusOr<Caller> Authenticator::Verify(const std::string& token, const std::string& digest, absl::Time now) {
  absl::StatusOr<Caller> caller;
  std::string ns;
  absl::Time expires = now + options_.cache_ttl;
  bool review = verifier_ == nullptr;
  if (!review) {
    auto claims = verifier_->Verify(token);
    if (claims.ok() && !claims->pod.empty()) {
      caller = FromClaims(*claims, now);
      ns = claims->namespace_;
      expires = std::min(expires, claims->expiry);
    } else if (claims.ok() || AuthFailureReason(claims.status()) == "no_keys") {
      review = true;  // not bound to a pod, or no keys to check it with: the API server decides
    } else {
      caller = claims.status();
    }
  }
  if (review) {
    caller = Review(token);
    if (caller.ok()) {
      std::vector<std::string> parts = absl::StrSplit(absl::StripPrefix(caller->username, "system:serviceaccount:"), ':');
      ns = parts[0];
      if (auto exp = JwtExpiry(token); exp.has_value()) expires = std::min(expires, *exp);
    }
  }
  absl::MutexLock lock(&mu_);
  if (caller.ok()) {
    Entry e{.caller = *caller, .namespace_ = ns, .expires = expires};
    if (pods_ != nullptr && pods_->synced() && !caller->pod.empty()) {
      std::optional<AgentPod> pod = pods_->Find(ns, caller->pod);
      e.watched = pod.has_value() && pod->uid == caller->pod_uid;
    }
    // Bounded: a flood of distinct valid tokens cannot grow it forever.
    if (cache_.size() >= options_.cache_size) cache_.clear();
    cache_[token] = std::move(e);
    metrics_.SetStateSize("auth_cache", cache_.size());
  } else if (Cacheable(caller.status())) {
    if (refusals_.size() >= options_.failure_cache_size) {
      absl::erase_if(refusals_, [&](const auto& kv) { return now >= kv.second.expires; });
      if (refusals_.size() >= options_.failure_cache_size) refusals_.clear();
    }
    refusals_[digest] = Refusal{caller.status(), now + options_.failure_ttl};
    metrics_.SetStateSize("auth_refusals", refusals_.size());
  }
  return caller;
}

absl::Status Authenticator::CheckAllowed(absl::string_view ns, absl::string_view name) const {
  const std::string sa_ref = absl::StrCat(ns, "/", name);
  if (!options_.allowed_service_accounts.empty() &&
      std::find(options_.allowed_service_accounts.begin(), options_.allowed_service_accounts.end(), sa_ref) ==
          options_.allowed_service_accounts.end()) {
    return AuthError(StatusCode::kPermissionDenied, "not_allowed",
                     absl::StrCat("ServiceAccount ", sa_ref, " may not report notices"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Caller> Authenticator::FromClaims(const ServiceAccountToken& claims, absl::Time now) {
  if (absl::Status s = CheckAllowed(claims.namespace_, claims.service_account); !s.ok()) return s;
  auto pod = BoundPod(claims.namespace_, claims.pod, claims.pod_uid);
  if (!pod.ok()) return pod.status();
  const std::string what = absl::StrCat("the token's pod ", claims.namespace_, "/", claims.pod);
  if (pod->uid != claims.pod_uid) {
    return AuthError(StatusCode::kUnauthenticated, "pod_uid_mismatch",
                     absl::StrCat(what, " has been replaced (uid ", pod->uid, ", the token's ", claims.pod_uid, ")"));
  }
  if (pod->deletion <= now) {
    return AuthError(StatusCode::kUnauthenticated, "pod_gone", absl::StrCat(what, " has been deleted"));
  }
  if (!claims.node.empty() && pod->node != claims.node) {
    return AuthError(StatusCode::kPermissionDenied, "wrong_node",
                     absl::StrCat(what, " runs on node '", pod->node, "', not on the token's '", claims.node, "'"));
  }
  return Caller{.username = claims.username(), .pod = claims.pod, .pod_uid = claims.pod_uid, .node = pod->node,
                .method = "jwks"};
}

absl::StatusOr<AgentPod> Authenticator::BoundPod(const std::string& ns, const std::string& name,
                                                 const std::string& uid) {
  if (pods_ != nullptr && pods_->synced()) {
    if (std::optional<AgentPod> pod = pods_->Find(ns, name); pod.has_value() && pod->uid == uid) return *pod;
  }
  // Not in the watch (not yet, or no longer, or not matched by its selector), or another pod
  // of that name there: the API server's word. Only tokens the issuer signed get here.
  {
    absl::MutexLock lock(&mu_);
    ++pod_reads_;
  }
  auto pod = reviews_.Get(absl::StrCat("/api/v1/namespaces/", ns, "/pods/", name),
                          {.max_attempts = 1, .deadline = clock_.Now() + options_.api_wait});
  if (kube::HttpStatusOf(pod.status()) == 404) {
    return AuthError(StatusCode::kUnauthenticated, "pod_gone",
                     absl::StrCat("the token's pod ", ns, "/", name, " no longer exists"));
  }
  if (!pod.ok()) {
    return AuthError(StatusCode::kUnavailable, "unavailable",
                     absl::StrCat("cannot read the caller's pod: ", pod.status().message()));
  }
  return AgentPods::FromJson(*pod);
}

absl::StatusOr<Caller> Authenticator::Review(const std::string& token) {
  {
    absl::MutexLock lock(&mu_);
    ++reviews_count_;
  }
  auto review =
      kube::ReviewToken(reviews_, token, options_.audiences, {.deadline = clock_.Now() + options_.api_wait});
  if (!review.ok()) {
    return AuthError(StatusCode::kUnavailable, "unavailable",
                     absl::StrCat("cannot validate the token: ", review.status().message()));
  }
  if (!review->authenticated) {
    return AuthError(StatusCode::kUnauthenticated, "rejected",
                     absl::StrCat("token rejected", review->error.empty() ? "" : ": " + review->error));
  }
  Caller c;
  c.username = review->username;
  c.method = "token_review";
  absl::string_view sa = review->username;
  if (!absl::ConsumePrefix(&sa, "system:serviceaccount:")) {
    return AuthError(StatusCode::kPermissionDenied, "not_service_account",
                     absl::StrCat(review->username, " is not a ServiceAccount"));
  }
  std::vector<std::string> ns_name = absl::StrSplit(sa, ':');
  if (ns_name.size() != 2) {
    return AuthError(StatusCode::kPermissionDenied, "not_service_account", "malformed ServiceAccount user name");
  }
  if (absl::Status s = CheckAllowed(ns_name[0], ns_name[1]); !s.ok()) return s;
  auto extra = [&](const char* key) {
    auto it = review->extra.find(key);
    return it == review->extra.end() || it->second.empty() ? std::string() : it->second[0];
  };
  c.pod = extra("authentication.kubernetes.io/pod-name");
  c.pod_uid = extra("authentication.kubernetes.io/pod-uid");
  c.node = extra("authentication.kubernetes.io/node-name");
  if (c.node.empty() && !c.pod.empty()) {
    // Older API servers do not put the node in the token: ask the pod.
    {
      absl::MutexLock lock(&mu_);
      ++pod_reads_;
    }
    auto pod = reviews_.Get(absl::StrCat("/api/v1/namespaces/", ns_name[0], "/pods/", c.pod),
                            {.max_attempts = 1, .deadline = clock_.Now() + options_.api_wait});
    if (!pod.ok()) {
      return AuthError(StatusCode::kUnavailable, "unavailable",
                       absl::StrCat("cannot read the caller's pod: ", pod.status().message()));
    }
    c.node = kube::StringAt(*pod, {"spec", "nodeName"});
  }
  return c;
}

void Authenticator::Refill(Bucket& b, absl::Time now) const {
  if (now <= b.last) return;
  b.tokens = std::min<double>(options_.peer_failure_burst,
                              b.tokens + absl::ToDoubleSeconds(now - b.last) * options_.peer_failure_qps);
  b.last = now;
}

bool Authenticator::PeerMayFail(const std::string& peer, absl::Time now) {
  if (options_.peer_failure_qps <= 0) return true;
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return true;
  Refill(it->second, now);
  return it->second.tokens >= 1;
}

void Authenticator::ChargePeer(const std::string& peer, absl::Time now) {
  if (options_.peer_failure_qps <= 0) return;
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (peers_.size() >= options_.max_peers) {
      // Peers whose buckets have refilled are as good as new: forget them; if that is not
      // enough, forget every peer (bounded memory over a perfect memory).
      absl::erase_if(peers_, [&](auto& kv) {
        Refill(kv.second, now);
        return kv.second.tokens >= options_.peer_failure_burst;
      });
      if (peers_.size() >= options_.max_peers) peers_.clear();
    }
    it = peers_.emplace(peer, Bucket{static_cast<double>(options_.peer_failure_burst), now}).first;
  }
  Refill(it->second, now);
  it->second.tokens -= 1;
  metrics_.SetStateSize("auth_peers", peers_.size());
}

}  // namespace spotguard::extender
