#include "node-agent/sources/aws_imds.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "node-agent/source.h"
#include "node-agent/sources/payload.h"

namespace spotguard::agent::sources {

AwsImds::AwsImds(std::shared_ptr<HttpClient> http, Clock& clock, AwsImdsOptions options)
    : http_(std::move(http)), clock_(clock), options_(options) {}

int AwsImds::token_fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

absl::StatusOr<std::string> AwsImds::Token(bool force_refresh) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  // Refresh with a tenth of the TTL (at most a minute) to spare, so no request carries a
  // token that expires in flight.
  const absl::Duration margin = std::min(options_.token_ttl / 10, absl::Minutes(1));
  if (!force_refresh && !token_.empty() && now + margin < expires_) return token_;
  auto res = http_->Send({.method = "PUT",
                          .path = "/latest/api/token",
                          .headers = {{"X-aws-ec2-metadata-token-ttl-seconds",
                                       absl::StrCat(absl::ToInt64Seconds(options_.token_ttl))}},
                          .timeout = options_.timeout,
                          .max_response_bytes = 4096});
  ++fetches_;
  if (!res.ok()) return TransportError(res.status(), "AWS IMDSv2 token");
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "AWS IMDSv2 token");
  std::string token(absl::StripAsciiWhitespace(res->body));
  if (token.empty()) return PollError("malformed", "AWS IMDSv2 token is empty");
  token_ = token;
  expires_ = now + options_.token_ttl;
  return token_;
}

absl::StatusOr<HttpResponse> AwsImds::Get(absl::string_view path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpRequest req{.path = std::string(path), .timeout = options_.timeout, .max_response_bytes = kMaxPayloadBytes};
    if (!options_.imdsv1) {
      auto token = Token(/*force_refresh=*/attempt > 0);
      if (!token.ok()) return token.status();
      req.headers.emplace_back("X-aws-ec2-metadata-token", *token);
    }
    auto res = http_->Send(req);
    if (!res.ok()) return TransportError(res.status(), absl::StrCat("AWS IMDS ", path));
    if (res->status == 401 && !options_.imdsv1 && attempt == 0) continue;  // token expired or revoked
    return res;
  }
  return PollError("auth", absl::StrCat("AWS IMDS ", path, ": 401 even with a fresh token"));
}

}  // namespace spotguard::agent::sources
