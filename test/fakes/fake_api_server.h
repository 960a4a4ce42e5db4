// An in-memory stand-in for the few Kubernetes API calls spotguard makes, for unit tests of
// the code above the client (decommissioner, authenticator, risk persistence). It applies
// real JSON and merge patches (with the resourceVersion test), enforces resourceVersion on
// PUT, turns evictions and deletions into deletionTimestamps, serves /openid/v1/jwks only
// to Accept: application/jwk-set+json (406 otherwise), and lets a test intercept any
// request to inject a fault (429, 5xx, a conflict). The e2e tests use the real API server.
//
// Example:
//   FakeApiServer api;
//   api.Put("/api/v1/namespaces/spark/pods/exec-1", pod_json);
//   api.Intercept([](const HttpRequest& r) -> std::optional<HttpResponse> {
//     if (absl::EndsWith(r.path, "/eviction")) return HttpResponse{.status = 429};
//     return std::nullopt;
//   });
//   auto client = api.Client(clock);
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/kube/client.h"
#include "test/fakes/fake_http_client.h"

namespace spotguard::testing {

class FakeApiServer {
 public:
  using Json = nlohmann::json;
  using Interceptor = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

  FakeApiServer() = default;

  // A client whose requests this fake answers (no retries: tests see every call).
  std::unique_ptr<kube::KubeClient> Client(Clock& clock, kube::ClientOptions options = {.qps = 0, .max_attempts = 1});

  void Put(const std::string& path, Json object);
  std::optional<Json> Get(const std::string& path) const;
  // Answers TokenReviews: token → the review's status object.
  void SetTokenReview(std::function<Json(const std::string& token)> review);
  // Runs before normal handling; a response returned is sent instead.
  void Intercept(Interceptor interceptor);

  // Requests seen, as "METHOD path".
  std::vector<std::string> log() const;
  int Count(absl::string_view method, absl::string_view path_part) const;
  std::vector<Json> Events() const;

  absl::StatusOr<HttpResponse> Handle(const HttpRequest& req);

 private:
  HttpResponse Status(int code, const std::string& reason, const std::string& message);
  std::string NextVersion();

  mutable absl::Mutex mu_;
  std::map<std::string, Json> objects_ ABSL_GUARDED_BY(mu_);
  std::vector<Json> events_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
  Interceptor interceptor_ ABSL_GUARDED_BY(mu_);
  std::function<Json(const std::string&)> review_ ABSL_GUARDED_BY(mu_);
  int version_ ABSL_GUARDED_BY(mu_) = 100;
};

}  // namespace spotguard::testing
