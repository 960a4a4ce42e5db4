#include "extender/authenticator.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/kube/resources.h"
#include "common/log.h"

namespace spotguard::extender {

std::optional<absl::Time> JwtExpiry(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return std::nullopt;
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;
  auto j = kube::Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("exp") || !j["exp"].is_number()) return std::nullopt;
  return absl::FromUnixSeconds(j["exp"].get<int64_t>());
}

Authenticator::Authenticator(AuthenticatorOptions options, kube::KubeClient& kube, Clock& clock)
    : options_(std::move(options)), kube_(kube), clock_(clock) {}

int Authenticator::reviews() const {
  absl::MutexLock lock(&mu_);
  return reviews_;
}

absl::StatusOr<Caller> Authenticator::Authenticate(absl::string_view authorization) {
  absl::string_view token = absl::StripAsciiWhitespace(authorization);
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError("no bearer token: send 'authorization: Bearer <ServiceAccount token>'");
  }
  token = absl::StripAsciiWhitespace(token);
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
  const std::string key(token);
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (now < it->second.expires) return it->second.caller;
      cache_.erase(it);
    }
  }
  auto caller = Review(key);
  if (!caller.ok()) return caller.status();
  absl::Time expires = now + options_.cache_ttl;
  if (auto exp = JwtExpiry(key); exp.has_value()) expires = std::min(expires, *exp);
  absl::MutexLock lock(&mu_);
  if (cache_.size() > 50000) cache_.clear();  // bounded: a flood of distinct tokens cannot grow it forever
  cache_[key] = Entry{*caller, expires};
  return caller;
}

absl::StatusOr<Caller> Authenticator::Review(const std::string& token) {
  {
    absl::MutexLock lock(&mu_);
    ++reviews_;
  }
  auto review = kube::ReviewToken(kube_, token, options_.audiences);
  if (!review.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot validate the token: ", review.status().message()));
  }
  if (!review->authenticated) {
    return absl::UnauthenticatedError(
        absl::StrCat("token rejected", review->error.empty() ? "" : ": " + review->error));
  }
  Caller c;
  c.username = review->username;
  absl::string_view sa = review->username;
  if (!absl::ConsumePrefix(&sa, "system:serviceaccount:")) {
    return absl::PermissionDeniedError(absl::StrCat(review->username, " is not a ServiceAccount"));
  }
  std::vector<std::string> ns_name = absl::StrSplit(sa, ':');
  if (ns_name.size() != 2) return absl::PermissionDeniedError("malformed ServiceAccount user name");
  const std::string sa_ref = absl::StrCat(ns_name[0], "/", ns_name[1]);
  if (!options_.allowed_service_accounts.empty() &&
      std::find(options_.allowed_service_accounts.begin(), options_.allowed_service_accounts.end(), sa_ref) ==
          options_.allowed_service_accounts.end()) {
    return absl::PermissionDeniedError(absl::StrCat("ServiceAccount ", sa_ref, " may not report notices"));
  }
  auto extra = [&](const char* key) {
    auto it = review->extra.find(key);
    return it == review->extra.end() || it->second.empty() ? std::string() : it->second[0];
  };
  c.pod = extra("authentication.kubernetes.io/pod-name");
  c.node = extra("authentication.kubernetes.io/node-name");
  if (c.node.empty() && !c.pod.empty()) {
    // Older API servers do not put the node in the token: ask the pod.
    auto pod = kube_.Get(absl::StrCat("/api/v1/namespaces/", ns_name[0], "/pods/", c.pod));
    if (!pod.ok()) return absl::UnavailableError(absl::StrCat("cannot read the caller's pod: ", pod.status().message()));
    c.node = kube::StringAt(*pod, {"spec", "nodeName"});
  }
  return c;
}

}  // namespace spotguard::extender
