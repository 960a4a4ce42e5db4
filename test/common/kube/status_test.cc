#include "common/kube/status.h"

#include "gtest/gtest.h"

namespace spotguard::kube {
namespace {

// Verifies HTTP codes map to Abseil codes, carrying the API's message and reason.
TEST(StatusTest, MapsApiStatus) {
  struct Case {
    int http;
    std::string reason;
    absl::StatusCode want;
  } cases[] = {
      {400, "BadRequest", absl::StatusCode::kInvalidArgument},
      {401, "Unauthorized", absl::StatusCode::kUnauthenticated},
      {403, "Forbidden", absl::StatusCode::kPermissionDenied},
      {404, "NotFound", absl::StatusCode::kNotFound},
      {409, "Conflict", absl::StatusCode::kAborted},
      {409, "AlreadyExists", absl::StatusCode::kAlreadyExists},
      {410, "Expired", absl::StatusCode::kFailedPrecondition},
      {422, "Invalid", absl::StatusCode::kInvalidArgument},
      {429, "TooManyRequests", absl::StatusCode::kResourceExhausted},
      {500, "InternalError", absl::StatusCode::kUnavailable},
      {503, "ServiceUnavailable", absl::StatusCode::kUnavailable},
      {504, "Timeout", absl::StatusCode::kDeadlineExceeded},
  };
  for (const auto& c : cases) {
    std::string body = R"({"kind":"Status","reason":")" + c.reason + R"(","message":"the message"})";
    absl::Status s = ApiError(c.http, body, "GET /x");
    EXPECT_EQ(s.code(), c.want) << c.http;
    EXPECT_EQ(HttpStatusOf(s), c.http);
    EXPECT_EQ(ReasonOf(s), c.reason);
    EXPECT_EQ(s.message(), "GET /x: HTTP " + std::to_string(c.http) + " " + c.reason + ": the message");
  }
}

// Verifies non-Status bodies are quoted (truncated) and retriability follows the code.
TEST(StatusTest, PlainBodiesAndRetriability) {
  absl::Status s = ApiError(502, std::string(500, 'x'), "GET /y");
  EXPECT_EQ(ReasonOf(s), "");
  EXPECT_LT(s.message().size(), 260u);
  EXPECT_TRUE(IsRetriable(s));
  EXPECT_TRUE(IsRetriable(ApiError(429, "", "")));
  EXPECT_FALSE(IsRetriable(ApiError(501, "", "")));
  EXPECT_FALSE(IsRetriable(ApiError(404, "", "")));
  EXPECT_FALSE(IsRetriable(ApiError(409, "", "")));
  EXPECT_TRUE(IsRetriable(absl::UnavailableError("connect")));
  EXPECT_TRUE(IsRetriable(absl::DeadlineExceededError("read")));
  EXPECT_FALSE(IsRetriable(absl::InvalidArgumentError("bad")));
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("x")), 0);
}

}  // namespace
}  // namespace spotguard::kube
