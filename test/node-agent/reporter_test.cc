#include "node-agent/reporter.h"

#include <fstream>

#include "grpc/grpc.h"
#include "gtest/gtest.h"

namespace spotguard::agent {
namespace {

// Verifies the reporter starts gRPC on its first call, not when made: an agent that never
// sees a notice never pays for gRPC's threads and memory.
TEST(GrpcReporterTest, StartsGrpcOnFirstCall) {
  ASSERT_EQ(grpc_is_initialized(), 0) << "something in this test binary started gRPC already";
  const std::string token = ::testing::TempDir() + "/reporter_test.token";
  std::ofstream(token) << "t0ken\n";
  // Nothing listens on port 1: the call fails at once, after gRPC has started.
  auto reporter = NewGrpcReporter({.address = "127.0.0.1:1", .token_path = token, .timeout = absl::Seconds(5)});
  EXPECT_EQ(grpc_is_initialized(), 0);

  const absl::Time t = absl::FromUnixSeconds(1700000000);
  absl::Status s = reporter->Report({.name = "n1"}, {.id = "aws-spot-terminate", .not_before = t, .detected_at = t});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(grpc_is_initialized(), 0);
}

}  // namespace
}  // namespace spotguard::agent
