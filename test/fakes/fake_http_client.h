// An HttpClient that answers from a script, for unit tests of the code above HTTP (the
// Kubernetes client's retries, the IMDS sources' parsing) without sockets.
//
// Example:
//   FakeHttpClient http;
//   http.Push({.status = 429, .headers = {{"Retry-After", "2"}}});
//   http.Push({.status = 200, .body = "{}"});
//   ... code under test sends two requests ...
//   EXPECT_EQ(http.requests().size(), 2);
#pragma once

#include <deque>
#include <functional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/http_client.h"

namespace spotguard::testing {

class FakeHttpClient final : public HttpClient {
 public:
  // Queue one answer; an error Status stands for a transport failure.
  void Push(absl::StatusOr<HttpResponse> response);
  // When the queue is empty, answer with this (default: 500 "no scripted response").
  void SetHandler(std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)> handler);

  absl::StatusOr<HttpResponse> Send(const HttpRequest& req) override;
  // Streams the scripted answer's body in one chunk.
  absl::StatusOr<int> Stream(const HttpRequest& req, const std::function<bool(absl::string_view)>& on_data,
                             std::string* error_body, const StopSignal& stop) override;

  std::vector<HttpRequest> requests() const;

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<HttpResponse>> queue_ ABSL_GUARDED_BY(mu_);
  std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)> handler_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::testing
