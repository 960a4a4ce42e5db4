#include "test/fakes/fake_http_client.h"

namespace spotguard::testing {

void FakeHttpClient::Push(absl::StatusOr<HttpResponse> response) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(response));
}

void FakeHttpClient::SetHandler(std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)> handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

absl::StatusOr<HttpResponse> FakeHttpClient::Send(const HttpRequest& req) {
  std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)> handler;
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(req);
    if (!queue_.empty()) {
      auto r = std::move(queue_.front());
      queue_.pop_front();
      return r;
    }
    handler = handler_;
  }
  if (handler) return handler(req);
  return HttpResponse{.status = 500, .body = "no scripted response"};
}

absl::StatusOr<int> FakeHttpClient::Stream(const HttpRequest& req,
                                           const std::function<bool(absl::string_view)>& on_data,
                                           std::string* error_body, const StopSignal& stop) {
  absl::StatusOr<HttpResponse> res = Send(req);
  if (!res.ok()) return res.status();
  if (res->status / 100 == 2) {
    on_data(res->body);
  } else {
    *error_body = res->body;
  }
  return res->status;
}

std::vector<HttpRequest> FakeHttpClient::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

}  // namespace spotguard::testing
