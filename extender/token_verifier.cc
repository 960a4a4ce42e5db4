#include "extender/token_verifier.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace spotguard::extender {
namespace {

constexpr char kReasonPayload[] = "spotguard.io/auth-failure-reason";

using Json = nlohmann::json;

std::string StringAt(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A NumericDate claim (seconds since the epoch, possibly fractional), or nullopt when absent;
// InfinitePast when present but not a number.
std::optional<absl::Time> TimeClaim(const Json& claims, const char* key) {
  auto it = claims.find(key);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number()) return absl::InfinitePast();
  return absl::UnixEpoch() + absl::Seconds(it->get<double>());
}

bool HasAudience(const Json& claims, const std::vector<std::string>& wanted) {
  auto it = claims.find("aud");
  if (it == claims.end()) return false;
  auto wanted_one = [&](const Json& a) {
    return a.is_string() && std::find(wanted.begin(), wanted.end(), a.get<std::string>()) != wanted.end();
  };
  if (it->is_string()) return wanted_one(*it);
  if (it->is_array()) return std::any_of(it->begin(), it->end(), wanted_one);
  return false;
}

std::string Kids(const jwt::KeySet& set) {
  std::vector<std::string> kids;
  for (const jwt::Key& k : set.keys()) kids.push_back(k.kid());
  return absl::StrJoin(kids, ",");
}

}  // namespace

absl::Status AuthError(absl::StatusCode code, absl::string_view reason, absl::string_view message) {
  absl::Status s(code, message);
  s.SetPayload(kReasonPayload, absl::Cord(reason));
  return s;
}

std::string AuthFailureReason(const absl::Status& s) {
  auto p = s.GetPayload(kReasonPayload);
  return p.has_value() ? std::string(*p) : std::string();
}

std::string ServiceAccountToken::username() const {
  return absl::StrCat("system:serviceaccount:", namespace_, ":", service_account);
}

TokenVerifier::TokenVerifier(TokenVerifierOptions options, kube::KubeClient& kube, Clock& clock)
    : options_(std::move(options)), kube_(kube), clock_(clock) {}

std::shared_ptr<const TokenVerifier::Keys> TokenVerifier::Current() const {
  absl::MutexLock lock(&mu_);
  return keys_;
}

bool TokenVerifier::has_keys() const { return Current() != nullptr; }

std::string TokenVerifier::issuer() const {
  auto keys = Current();
  return keys ? keys->issuer : std::string();
}

absl::Status TokenVerifier::Refresh() {
  absl::MutexLock lock(&fetch_mu_);
  return FetchLocked();
}

absl::Status TokenVerifier::FetchLocked() {
  last_attempt_ = clock_.Now();
  ++fetches_;
  // One attempt each: Run and the next unknown kid try again, on their own schedule.
  absl::Status failed;
  std::string issuer;
  std::optional<jwt::KeySet> set;
  if (auto discovery = kube_.Get("/.well-known/openid-configuration", {.max_attempts = 1}); !discovery.ok()) {
    failed = discovery.status();
  } else if (issuer = discovery->is_object() ? StringAt(*discovery, "issuer") : ""; issuer.empty()) {
    failed = absl::InternalError("the OIDC discovery document names no issuer");
  } else if (auto jwks = kube_.Get("/openid/v1/jwks", {.max_attempts = 1, .accept = "application/jwk-set+json"});
             !jwks.ok()) {
    failed = jwks.status();
  } else if (auto parsed = jwt::KeySet::Parse(*jwks); !parsed.ok()) {
    failed = parsed.status();
  } else if (parsed->keys().empty()) {
    failed = absl::InternalError(absl::StrCat("the issuer's key set holds no usable key (", parsed->skipped(), " skipped)"));
  } else {
    set = std::move(*parsed);
  }
  std::shared_ptr<const Keys> held = Current();
  if (!set.has_value()) {
    if (!failing_) {
      if (held) {
        log::Warn("cannot refresh the service-account issuer's keys; keeping the ones held",
                  {{"error", failed}, {"kids", Kids(held->set)}});
      } else {
        log::Warn("cannot read the service-account issuer's keys; agent tokens are checked with TokenReview until they can be",
                  {{"error", failed}});
      }
    }
    failing_ = true;
    return failed;
  }
  const std::string kids = Kids(*set);
  if (failing_ || !held || held->issuer != issuer || Kids(held->set) != kids) {
    log::Info("service-account issuer keys loaded; agent tokens are checked locally",
              {{"issuer", issuer}, {"kids", kids}, {"skipped", set->skipped()}});
  }
  failing_ = false;
  auto keys = std::make_shared<const Keys>(Keys{std::move(issuer), std::move(*set)});
  absl::MutexLock lock(&mu_);
  keys_ = std::move(keys);
  return absl::OkStatus();
}

std::shared_ptr<const TokenVerifier::Keys> TokenVerifier::RefreshIfDue(const std::shared_ptr<const Keys>& seen) {
  if (!fetch_mu_.TryLock()) return Current();  // a fetch is under way: do not wait for it
  if (Current() == seen && clock_.Now() - last_attempt_ >= options_.min_refresh) (void)FetchLocked();
  fetch_mu_.Unlock();
  return Current();
}

void TokenVerifier::Run(const StopSignal& stop) {
  do {
    (void)Refresh();
  } while (clock_.SleepFor(has_keys() ? options_.refresh : options_.min_refresh, stop));
}

absl::StatusOr<ServiceAccountToken> TokenVerifier::Verify(absl::string_view compact) {
  using absl::StatusCode;
  auto token = jwt::Parse(compact);
  if (!token.ok()) return AuthError(StatusCode::kUnauthenticated, "malformed", token.status().message());
  std::shared_ptr<const Keys> keys = Current();
  if (!keys) keys = RefreshIfDue(nullptr);
  if (!keys) return AuthError(StatusCode::kUnavailable, "no_keys", "the service-account issuer's keys are not available");
  ++signature_checks_;
  jwt::Signature sig = jwt::Verify(*token, keys->set);
  if (sig == jwt::Signature::kUnknownKey) {
    // The issuer may have rotated its key since the last fetch.
    if (auto fresh = RefreshIfDue(keys); fresh && fresh != keys) {
      keys = fresh;
      sig = jwt::Verify(*token, keys->set);
    }
  }
  switch (sig) {
    case jwt::Signature::kValid: break;
    case jwt::Signature::kUnknownKey:
      return AuthError(StatusCode::kUnauthenticated, "unknown_key",
                       absl::StrCat("the token is signed with key '", token->kid, "', which the issuer does not publish"));
    case jwt::Signature::kUnsupportedAlgorithm:
      return AuthError(StatusCode::kUnauthenticated, "bad_signature",
                       absl::StrCat("the token's algorithm '", token->alg, "' is not one an issuer signs with"));
    case jwt::Signature::kInvalid:
      return AuthError(StatusCode::kUnauthenticated, "bad_signature", "the token's signature does not verify");
  }
  const Json& c = token->claims;
  if (std::string iss = StringAt(c, "iss"); iss != keys->issuer) {
    return AuthError(StatusCode::kUnauthenticated, "wrong_issuer",
                     absl::StrCat("the token's issuer '", iss, "' is not '", keys->issuer, "'"));
  }
  if (!HasAudience(c, options_.audiences)) {
    return AuthError(StatusCode::kUnauthenticated, "wrong_audience",
                     absl::StrCat("the token is not for audience '", absl::StrJoin(options_.audiences, "' or '"), "'"));
  }
  const absl::Time now = clock_.Now();
  std::optional<absl::Time> exp = TimeClaim(c, "exp"), nbf = TimeClaim(c, "nbf"), iat = TimeClaim(c, "iat");
  if (!exp.has_value() || *exp == absl::InfinitePast() || nbf == absl::InfinitePast() || iat == absl::InfinitePast()) {
    return AuthError(StatusCode::kUnauthenticated, "malformed", "the token's exp is missing, or a time claim is not a number");
  }
  if (now >= *exp + options_.leeway) {
    return AuthError(StatusCode::kUnauthenticated, "expired",
                     absl::StrCat("the token expired at ", absl::FormatTime(*exp)));
  }
  for (const auto& t : {nbf, iat}) {
    if (t.has_value() && now + options_.leeway < *t) {
      return AuthError(StatusCode::kUnauthenticated, "not_yet_valid",
                       absl::StrCat("the token is not valid before ", absl::FormatTime(*t)));
    }
  }
  ServiceAccountToken out;
  out.expiry = *exp;
  auto k8s = c.find("kubernetes.io");
  if (k8s != c.end() && k8s->is_object()) {
    out.namespace_ = StringAt(*k8s, "namespace");
    auto ref = [&](const char* key, std::string* name, std::string* uid) {
      auto it = k8s->find(key);
      if (it == k8s->end() || !it->is_object()) return;
      *name = StringAt(*it, "name");
      *uid = StringAt(*it, "uid");
    };
    ref("serviceaccount", &out.service_account, &out.service_account_uid);
    ref("pod", &out.pod, &out.pod_uid);
    ref("node", &out.node, &out.node_uid);
  }
  if (out.namespace_.empty() || out.service_account.empty() || StringAt(c, "sub") != out.username()) {
    return AuthError(StatusCode::kPermissionDenied, "not_service_account",
                     absl::StrCat("'", StringAt(c, "sub"), "' is not a ServiceAccount's token"));
  }
  if (!out.pod.empty() && out.pod_uid.empty()) {
    return AuthError(StatusCode::kUnauthenticated, "malformed", "the token names its pod without a uid");
  }
  return out;
}

}  // namespace spotguard::extender
