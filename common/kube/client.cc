#include "common/kube/client.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::kube {
namespace {

const char* ContentTypeFor(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

absl::StatusOr<Json> ParseBody(const absl::StatusOr<std::string>& body, absl::string_view what) {
  if (!body.ok()) return body.status();
  if (body->empty()) return Json(nullptr);
  Json j = Json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InternalError(absl::StrCat(what, ": the API server returned a body that is not JSON"));
  }
  return j;
}

// Retry-After in seconds, as the API server sends it; zero if absent or unparseable.
absl::Duration RetryAfter(const HttpResponse& res) {
  int seconds = 0;
  if (absl::SimpleAtoi(res.Header("Retry-After"), &seconds) && seconds > 0) {
    return absl::Seconds(std::min(seconds, 60));
  }
  return absl::ZeroDuration();
}

}  // namespace

KubeClient::KubeClient(std::unique_ptr<HttpClient> http, const KubeConfig& config, Clock& clock,
                       ClientOptions options)
    : http_(std::move(http)),
      tokens_(config, clock),
      clock_(clock),
      options_(std::move(options)),
      limiter_(clock, options_.qps, options_.burst),
      namespace_(config.namespace_) {}

absl::StatusOr<std::unique_ptr<KubeClient>> KubeClient::Create(const KubeConfig& config, Clock& clock,
                                                               ClientOptions options) {
  auto http = NewHttpClient(
      {.base_url = config.server, .tls = config.tls, .max_idle_connections = options.max_idle_connections,
                          .max_connections = options.max_connections});
  if (!http.ok()) {
    return absl::Status(http.status().code(),
                        absl::StrCat("Kubernetes client for ", config.server, ": ", http.status().message()));
  }
  return std::make_unique<KubeClient>(std::move(*http), config, clock, std::move(options));
}

HttpRequest KubeClient::NewRequest(absl::string_view method, absl::string_view path) {
  HttpRequest req;
  req.method = std::string(method);
  req.path = std::string(path);
  req.timeout = options_.timeout;
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("User-Agent", options_.user_agent);
  std::string token = tokens_.Token();
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  return req;
}

absl::StatusOr<std::string> KubeClient::Call(absl::string_view method, absl::string_view path,
                                             std::string body, absl::string_view content_type,
                                             CallOptions call) {
  const int max_attempts = call.max_attempts > 0 ? call.max_attempts : std::max(1, options_.max_attempts);
  const std::string what = absl::StrCat(method, " ", path);
  std::optional<absl::BitGen> rng;
  std::optional<Backoff> backoff;
  bool reauthenticated = false;
  absl::Status last;
  for (int attempt = 1;; ++attempt) {
    std::optional<absl::Duration> slot = limiter_.ReserveWithin(call.deadline - clock_.Now());
    if (!slot.has_value()) {
      return attempt == 1 ? absl::ResourceExhaustedError(
                                absl::StrCat(what, ": the client-side rate limit has no slot before the call's deadline"))
                          : last;
    }
    if (*slot > absl::ZeroDuration()) clock_.SleepFor(*slot);
    HttpRequest req = NewRequest(method, path);
    if (!call.accept.empty()) {
      for (auto& [k, v] : req.headers) {
        if (k == "Accept") v = call.accept;
      }
    }
    req.body = body;
    req.content_type = std::string(content_type);
    absl::StatusOr<HttpResponse> res = http_->Send(req);
    absl::Duration server_wait = absl::ZeroDuration();
    if (res.ok() && res->status / 100 == 2) return std::move(res->body);
    if (res.ok()) {
      last = ApiError(res->status, res->body, what);
      server_wait = RetryAfter(*res);
      if (res->status == 401 && !reauthenticated) {
        // The token may have rotated under us: re-read it and try once more at once.
        tokens_.Invalidate();
        reauthenticated = true;
        continue;
      }
    } else {
      last = absl::Status(res.status().code(), absl::StrCat(what, ": ", res.status().message()));
    }
    bool retriable = IsRetriable(last) && (call.retry_too_many_requests || !IsTooManyRequests(last));
    if (!retriable || attempt >= max_attempts) return last;
    if (!backoff.has_value()) {
      rng.emplace();
      backoff.emplace(options_.backoff, *rng);
    }
    absl::Duration wait = std::max(backoff->Next(), server_wait);
    if (clock_.Now() + wait > call.deadline) return last;
    log::Debug("retrying Kubernetes API call",
               {{"request", what}, {"attempt", attempt}, {"wait_s", wait}, {"error", last}});
    clock_.SleepFor(wait);
  }
}

absl::StatusOr<Json> KubeClient::Get(absl::string_view path, CallOptions call) {
  return ParseBody(Call("GET", path, "", "", call), path);
}

absl::StatusOr<Json> KubeClient::Post(absl::string_view path, const Json& body, CallOptions call) {
  return ParseBody(Call("POST", path, body.dump(), "application/json", call), path);
}

absl::StatusOr<Json> KubeClient::Put(absl::string_view path, const Json& body, CallOptions call) {
  return ParseBody(Call("PUT", path, body.dump(), "application/json", call), path);
}

absl::StatusOr<Json> KubeClient::Patch(absl::string_view path, PatchType type, const Json& body,
                                       CallOptions call) {
  return ParseBody(Call("PATCH", path, body.dump(), ContentTypeFor(type), call), path);
}

absl::StatusOr<Json> KubeClient::Delete(absl::string_view path, const Json& body, CallOptions call) {
  return ParseBody(Call("DELETE", path, body.is_null() ? "" : body.dump(),
                        body.is_null() ? "" : "application/json", call),
                   path);
}

absl::Status KubeClient::Stream(absl::string_view path,
                                const std::function<bool(absl::string_view)>& on_line,
                                const StopSignal& stop, absl::Duration timeout) {
  if (!limiter_.Acquire(stop)) return absl::CancelledError("stopped");
  HttpRequest req = NewRequest("GET", path);
  req.timeout = timeout;
  std::string pending, error_body;
  bool keep_going = true;
  absl::StatusOr<int> status = http_->Stream(
      req,
      [&](absl::string_view chunk) {
        pending.append(chunk.data(), chunk.size());
        size_t start = 0;
        for (size_t nl; keep_going && (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          keep_going = on_line(absl::string_view(pending).substr(start, nl - start));
        }
        pending.erase(0, start);
        return keep_going;
      },
      &error_body, stop);
  if (!status.ok()) {
    return absl::Status(status.status().code(), absl::StrCat("watch ", path, ": ", status.status().message()));
  }
  if (*status / 100 != 2) {
    if (*status == 401) tokens_.Invalidate();
    return ApiError(*status, error_body, absl::StrCat("GET ", path));
  }
  if (keep_going && !pending.empty()) on_line(pending);
  return absl::OkStatus();
}

}  // namespace spotguard::kube
