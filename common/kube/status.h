// Kubernetes API errors as absl::Status.
//
// Every failed call returns a Status whose code follows the HTTP status (Abseil's guidance:
// kUnavailable means retry later) and whose message is the API server's own Status message,
// e.g. NotFound: 'pods "exec-1" not found'. The HTTP code and the API's reason travel in the
// Status payload, so callers branch on facts, not on message text.
//
// Example:
//   absl::Status s = ApiError(429, R"({"kind":"Status","reason":"TooManyRequests",
//                                     "message":"Cannot evict pod ..."})", "POST eviction");
//   HttpStatusOf(s) == 429;  ReasonOf(s) == "TooManyRequests";  s.code() == kResourceExhausted
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace spotguard::kube {

// The Status for a non-2xx response; `what` names the request ("PATCH /api/v1/nodes/n1").
absl::Status ApiError(int http_status, absl::string_view body, absl::string_view what);

// The HTTP status an ApiError carries; 0 for other Statuses (transport errors).
int HttpStatusOf(const absl::Status& s);
// The API Status `reason` ("NotFound", "Conflict", "AlreadyExists", "Expired", ...), or "".
std::string ReasonOf(const absl::Status& s);

inline bool IsConflict(const absl::Status& s) { return HttpStatusOf(s) == 409; }
inline bool IsGone(const absl::Status& s) { return HttpStatusOf(s) == 410; }
inline bool IsTooManyRequests(const absl::Status& s) { return HttpStatusOf(s) == 429; }

// Whether a failure is worth retrying: connection errors and timeouts, 429, 5xx (but 501).
bool IsRetriable(const absl::Status& s);

}  // namespace spotguard::kube
