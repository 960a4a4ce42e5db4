// The AWS instance metadata client the three AWS sources share: IMDSv2 session tokens
// (PUT /latest/api/token, X-aws-ec2-metadata-token-ttl-seconds ≤ 21600), refreshed before
// they expire and at once after a 401; IMDSv1 (no token) only when configured.
//
// Thread-safe: the AWS sources poll on their own threads and share one token.
//
// Example:
//   AwsImds imds(http, clock, {});
//   auto res = imds.Get("/latest/meta-data/spot/instance-action");   // 404 = no notice
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/http_client.h"

namespace spotguard::agent::sources {

struct AwsImdsOptions {
  absl::Duration token_ttl = absl::Hours(6);
  bool imdsv1 = false;  // send no token at all (only where IMDSv2 is unavailable)
  absl::Duration timeout = absl::Seconds(2);
};

class AwsImds {
 public:
  AwsImds(std::shared_ptr<HttpClient> http, Clock& clock, AwsImdsOptions options);

  // A GET with the session token. A 401 fetches a new token and retries once. Transport
  // failures and token failures come back as PollErrors; any HTTP status is a response.
  absl::StatusOr<HttpResponse> Get(absl::string_view path);

  // Token fetches so far (for tests and metrics).
  int token_fetches() const;

 private:
  absl::StatusOr<std::string> Token(bool force_refresh);

  std::shared_ptr<HttpClient> http_;
  Clock& clock_;
  const AwsImdsOptions options_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time expires_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace spotguard::agent::sources
