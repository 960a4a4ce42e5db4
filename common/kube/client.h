// A Kubernetes API client: the verbs (GET, POST, PUT, PATCH, DELETE, streaming GET for
// watches) with authentication, a client-side rate limit and retries.
//
// Retries: connection errors, timeouts, 429 (honouring Retry-After) and 5xx are retried
// with exponential backoff and jitter, up to max_attempts and never past a call's deadline.
// A 401 re-reads a rotated token file once. Every failure is an absl::Status carrying the
// HTTP code and the API's Status message (status.h).
//
// Thread-safe; one client per process is the norm. Typed helpers for the objects spotguard
// touches live in resources.h, list/watch in watch.h.
//
// Example:
//   auto client = KubeClient::Create(*config, RealClock::Get());
//   auto node = (*client)->Get("/api/v1/nodes/aks-spot-1");
//   // node->at("metadata").at("resourceVersion") ...
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/kube/config.h"
#include "nlohmann/json.hpp"

namespace spotguard::kube {

using Json = nlohmann::json;

enum class PatchType { kMerge, kStrategicMerge, kJson };

struct ClientOptions {
  double qps = 50;  // client-side limit, as client-go's QPS/Burst; <= 0 disables it
  int burst = 100;
  int max_attempts = 5;
  BackoffPolicy backoff{.initial = absl::Milliseconds(200), .max = absl::Seconds(10)};
  absl::Duration timeout = absl::Seconds(30);  // per attempt
  std::string user_agent = "spotguard";
  size_t max_idle_connections = 32;  // keep-alive connections kept for reuse (each TLS one holds its own context)
  // Calls in flight at once (watches aside); more wait for a connection to come free instead
  // of opening new ones — under a burst (an eviction storm's thousands of decommissions) new
  // TLS handshakes would load the API server and time out.
  size_t max_connections = 32;
};

// Per-call overrides.
struct CallOptions {
  int max_attempts = 0;  // 0: the client's default; 1: no retries
  // Whether 429 is retried. The Eviction API answers 429 for a PodDisruptionBudget, which
  // the caller wants to see at once.
  bool retry_too_many_requests = true;
  // No attempt starts after it: not after a retry's backoff, nor after a wait for the
  // client-side rate limit (a first attempt that would is kResourceExhausted, not sent).
  absl::Time deadline = absl::InfiniteFuture();
  // The Accept header ("": application/json). The service-account issuer's key set, for one,
  // is served only as application/jwk-set+json.
  std::string accept;
};

class KubeClient {
 public:
  KubeClient(std::unique_ptr<HttpClient> http, const KubeConfig& config, Clock& clock,
             ClientOptions options = {});
  static absl::StatusOr<std::unique_ptr<KubeClient>> Create(const KubeConfig& config, Clock& clock,
                                                            ClientOptions options = {});

  absl::StatusOr<Json> Get(absl::string_view path, CallOptions call = {});
  absl::StatusOr<Json> Post(absl::string_view path, const Json& body, CallOptions call = {});
  absl::StatusOr<Json> Put(absl::string_view path, const Json& body, CallOptions call = {});
  absl::StatusOr<Json> Patch(absl::string_view path, PatchType type, const Json& body, CallOptions call = {});
  absl::StatusOr<Json> Delete(absl::string_view path, const Json& body = nullptr, CallOptions call = {});

  // The raw response body of a successful call.
  absl::StatusOr<std::string> Call(absl::string_view method, absl::string_view path, std::string body,
                                   absl::string_view content_type, CallOptions call = {});

  // One streaming GET (a watch): `on_line` gets each newline-terminated line and may return
  // false to end the stream. Returns OK when the server ends the stream, the HTTP error as
  // an ApiError, or kCancelled once `stop` fires. Not retried: the caller re-watches.
  absl::Status Stream(absl::string_view path, const std::function<bool(absl::string_view)>& on_line,
                      const StopSignal& stop, absl::Duration timeout);

  Clock& clock() { return clock_; }
  const std::string& default_namespace() const { return namespace_; }

 private:
  HttpRequest NewRequest(absl::string_view method, absl::string_view path);

  std::unique_ptr<HttpClient> http_;
  TokenSource tokens_;
  Clock& clock_;
  ClientOptions options_;
  RateLimiter limiter_;
  std::string namespace_;
};

}  // namespace spotguard::kube
