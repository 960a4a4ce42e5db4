#include "common/kube/status.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace spotguard::kube {
namespace {

constexpr char kPayloadUrl[] = "type.spotguard.io/kubernetes-status";

absl::StatusCode CodeFor(int http, absl::string_view reason) {
  switch (http) {
    case 400: return absl::StatusCode::kInvalidArgument;
    case 401: return absl::StatusCode::kUnauthenticated;
    case 403: return absl::StatusCode::kPermissionDenied;
    case 404: return absl::StatusCode::kNotFound;
    case 405: return absl::StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists : absl::StatusCode::kAborted;
    case 410: return absl::StatusCode::kFailedPrecondition;  // resourceVersion too old: relist
    case 413: return absl::StatusCode::kInvalidArgument;
    case 415: return absl::StatusCode::kInvalidArgument;
    case 422: return absl::StatusCode::kInvalidArgument;
    case 429: return absl::StatusCode::kResourceExhausted;
    case 501: return absl::StatusCode::kUnimplemented;
    case 504: return absl::StatusCode::kDeadlineExceeded;
    default:
      if (http >= 500) return absl::StatusCode::kUnavailable;
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status ApiError(int http_status, absl::string_view body, absl::string_view what) {
  std::string message, reason;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.value("kind", "") == "Status") {
    if (j.contains("message") && j["message"].is_string()) message = j["message"];
    if (j.contains("reason") && j["reason"].is_string()) reason = j["reason"];
  }
  if (message.empty()) {
    message = std::string(body.substr(0, 200));
    if (body.size() > 200) message += "...";
  }
  absl::Status s(CodeFor(http_status, reason),
                 absl::StrCat(what, ": HTTP ", http_status, reason.empty() ? "" : " " + reason, ": ", message));
  s.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(http_status, "|", reason)));
  return s;
}

int HttpStatusOf(const absl::Status& s) {
  auto p = s.GetPayload(kPayloadUrl);
  if (!p.has_value()) return 0;
  std::string text(*p);
  int code = 0;
  (void)absl::SimpleAtoi(text.substr(0, text.find('|')), &code);
  return code;
}

std::string ReasonOf(const absl::Status& s) {
  auto p = s.GetPayload(kPayloadUrl);
  if (!p.has_value()) return "";
  std::string text(*p);
  size_t bar = text.find('|');
  return bar == std::string::npos ? "" : text.substr(bar + 1);
}

bool IsRetriable(const absl::Status& s) {
  int http = HttpStatusOf(s);
  if (http != 0) return http == 429 || (http >= 500 && http != 501);
  return s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace spotguard::kube
