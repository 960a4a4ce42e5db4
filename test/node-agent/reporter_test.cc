#include "node-agent/reporter.h"

#include <fstream>

#include "grpc/grpc.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_eviction_service.h"
#include "test/fakes/test_certs.h"

namespace spotguard::agent {
namespace {

// Verifies the reporter starts gRPC on its first call, not when made: an agent that never
// sees a notice never pays for gRPC's threads and memory.
TEST(GrpcReporterTest, StartsGrpcOnFirstCall) {
  ASSERT_EQ(grpc_is_initialized(), 0) << "something in this test binary started gRPC already";
  const std::string token = ::testing::TempDir() + "/reporter_test.token";
  std::ofstream(token) << "t0ken\n";
  // Nothing listens on port 1: the call fails at once, after gRPC has started.
  auto reporter = NewGrpcReporter(
      {.address = "127.0.0.1:1", .token_path = token, .timeout = absl::Seconds(5), .channel = {.plaintext = true}});
  EXPECT_EQ(grpc_is_initialized(), 0);

  const absl::Time t = absl::FromUnixSeconds(1700000000);
  absl::Status s = reporter->Report({.name = "n1"}, {.id = "aws-spot-terminate", .not_before = t, .detected_at = t});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(grpc_is_initialized(), 0);
}

class TlsReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = spotguard::testing::MakeTempDir();
    token_ = dir_ + "/token";
    std::ofstream(token_) << "t0ken\n";
    server_ = ca_.Issue("spotguard-extender", {"spotguard-extender.spotguard-system.svc"}).Write(dir_, "server", ca_);
    server_.ca_file.clear();  // no client certificates asked for
    client_ = ca_.Issue("spotguard-agent", {}, {.server = false}).Write(dir_, "agent", ca_);
  }

  absl::Status ReportTo(const spotguard::testing::FakeEvictionService& extender, grpc_tls::ChannelOptions channel) {
    auto reporter = NewGrpcReporter(
        {.address = extender.address(), .token_path = token_, .timeout = absl::Seconds(10), .channel = channel});
    const absl::Time t = absl::FromUnixSeconds(1700000000);
    return reporter->Report({.name = "n1"}, {.id = "aws-spot-terminate", .not_before = t, .detected_at = t});
  }

  spotguard::testing::TestCa ca_;
  std::string dir_, token_;
  tls::Files server_, client_;
};

// Verifies a report reaches an extender whose certificate chains to the CA and carries the
// expected name, with the token.
TEST_F(TlsReporterTest, ReportsToAVerifiedExtender) {
  spotguard::testing::FakeEvictionService extender(0, server_);
  EXPECT_TRUE(ReportTo(extender, {.tls = {.ca_file = client_.ca_file}}).ok());
  EXPECT_TRUE(ReportTo(extender, {.tls = {.ca_file = client_.ca_file},
                                  .server_name = "spotguard-extender.spotguard-system.svc"})
                  .ok());
  auto calls = extender.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].authorization, "Bearer t0ken");
  EXPECT_EQ(calls[0].client_common_name, "");
}

// Verifies the token is never sent to an extender the agent cannot verify: a certificate
// from another CA, one without the expected name, or a plaintext client against TLS.
TEST_F(TlsReporterTest, SendsNothingToAnUnverifiedExtender) {
  spotguard::testing::FakeEvictionService extender(0, server_);
  spotguard::testing::TestCa other("another-ca");
  const std::string other_ca = dir_ + "/other-ca.crt";
  spotguard::testing::WriteFile(other_ca, other.cert_pem());
  EXPECT_EQ(ReportTo(extender, {.tls = {.ca_file = other_ca}}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReportTo(extender, {.tls = {.ca_file = client_.ca_file}, .server_name = "spotguard-extender.other.svc"})
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReportTo(extender, {.plaintext = true}).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(extender.calls().empty());
}

// Verifies the agent presents its certificate to an extender that requires one, and that
// without one it is refused.
TEST_F(TlsReporterTest, PresentsItsCertificateForMutualTls) {
  tls::Files mutual = server_;
  mutual.ca_file = client_.ca_file;
  spotguard::testing::FakeEvictionService extender(0, mutual);
  EXPECT_EQ(ReportTo(extender, {.tls = {.ca_file = client_.ca_file}}).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(extender.calls().empty());
  EXPECT_TRUE(ReportTo(extender, {.tls = client_}).ok());
  auto calls = extender.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].client_common_name, "spotguard-agent");
}

}  // namespace
}  // namespace spotguard::agent
