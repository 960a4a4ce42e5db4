#include "node-agent/source.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace spotguard::agent {
namespace {
constexpr char kReasonUrl[] = "type.spotguard.io/poll-error";
}

absl::Status PollError(absl::string_view reason, absl::string_view message, absl::Duration retry_after) {
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  if (reason == "malformed" || reason == "stale") code = absl::StatusCode::kInvalidArgument;
  if (reason == "throttled" || reason == "too_large") code = absl::StatusCode::kResourceExhausted;
  if (reason == "timeout") code = absl::StatusCode::kDeadlineExceeded;
  if (reason == "auth") code = absl::StatusCode::kUnauthenticated;
  absl::Status s(code, message);
  s.SetPayload(kReasonUrl, absl::Cord(absl::StrCat(reason, "|", absl::ToInt64Milliseconds(retry_after))));
  return s;
}

std::string PollErrorReason(const absl::Status& s) {
  auto p = s.GetPayload(kReasonUrl);
  if (!p.has_value()) return "other";
  std::string text(*p);
  return text.substr(0, text.find('|'));
}

absl::Duration PollRetryAfter(const absl::Status& s) {
  auto p = s.GetPayload(kReasonUrl);
  if (!p.has_value()) return absl::ZeroDuration();
  std::string text(*p);
  int64_t ms = 0;
  size_t bar = text.find('|');
  if (bar == std::string::npos || !absl::SimpleAtoi(text.substr(bar + 1), &ms)) return absl::ZeroDuration();
  return absl::Milliseconds(ms);
}

absl::Status TransportError(const absl::Status& s, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", s.message());
  switch (s.code()) {
    case absl::StatusCode::kDeadlineExceeded: return PollError("timeout", msg);
    case absl::StatusCode::kResourceExhausted: return PollError("too_large", msg);
    default: return PollError("unreachable", msg);
  }
}

absl::Status HttpStatusError(int status, absl::string_view retry_after_header, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": HTTP ", status);
  if (status == 429) {
    int seconds = 0;
    absl::Duration wait = absl::SimpleAtoi(retry_after_header, &seconds) && seconds > 0
                              ? absl::Seconds(std::min(seconds, 300))
                              : absl::ZeroDuration();
    return PollError("throttled", msg, wait);
  }
  if (status == 401 || status == 403) return PollError("auth", msg);
  if (status >= 500) return PollError("server_error", msg);
  return PollError("http_error", msg);
}

}  // namespace spotguard::agent
