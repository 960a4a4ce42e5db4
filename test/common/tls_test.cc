#include "common/tls.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/http_server.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/test_certs.h"

namespace spotguard::tls {
namespace {

using spotguard::testing::FakeClock;
using spotguard::testing::KeyPair;
using spotguard::testing::MakeTempDir;
using spotguard::testing::TestCa;

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    server_files_ = ca_.Issue("spotguard-extender", {"localhost"}).Write(dir_, "server", ca_);
    client_files_ = ca_.Issue("spotguard-scheduler", {}).Write(dir_, "client", ca_);
  }

  // An HTTPS server on `ctx` answering GET /ok.
  std::unique_ptr<HttpServer> Serve(std::shared_ptr<ServerContext> ctx) {
    auto server = std::make_unique<HttpServer>(HttpServerOptions{.address = "127.0.0.1:0", .tls = std::move(ctx)});
    server->routes().Get("/ok", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    EXPECT_TRUE(server->Start().ok());
    return server;
  }

  // GET /ok over TLS trusting `ca_file`, presenting `client` when given; the HTTP status or -1.
  int Get(int port, const std::string& ca_file, const Files* client) {
    httplib::SSLClient c("127.0.0.1", port, client ? client->cert_file : std::string(),
                         client ? client->key_file : std::string());
    c.set_ca_cert_path(ca_file.c_str());
    c.enable_server_certificate_verification(true);
    c.set_connection_timeout(5);
    auto res = c.Get("/ok");
    return res ? res->status : -1;
  }

  FakeClock clock_;
  TestCa ca_;
  std::string dir_;
  Files server_files_, client_files_;
};

// Verifies a client certificate is required and checked: without one, or with one from
// another CA, the handshake fails and the alert sent is reported; plain HTTP gets nothing.
TEST_F(TlsServerTest, RequiresClientCertificateFromTheCa) {
  auto ctx = ServerContext::Create(server_files_, clock_);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  absl::Mutex mu;
  std::vector<std::string> alerts;
  (*ctx)->OnAlert([&](absl::string_view a) {
    absl::MutexLock lock(&mu);
    alerts.emplace_back(a);
  });
  auto server = Serve(*ctx);
  EXPECT_EQ(Get(server->port(), server_files_.ca_file, &client_files_), 200);
  EXPECT_EQ(Get(server->port(), server_files_.ca_file, nullptr), -1);
  TestCa other("another-ca");
  Files stranger = other.Issue("spotguard-scheduler", {}).Write(dir_, "stranger", other);
  EXPECT_EQ(Get(server->port(), server_files_.ca_file, &stranger), -1);
  httplib::Client plain("127.0.0.1", server->port());
  plain.set_connection_timeout(5);
  auto res = plain.Get("/ok");
  EXPECT_TRUE(!res || res->status != 200);
  absl::MutexLock lock(&mu);
  ASSERT_GE(alerts.size(), 2u);
  EXPECT_EQ(alerts[0], "certificate required");
  EXPECT_EQ(alerts[1], "unknown CA");
}

// Verifies a context without a CA asks for no client certificate.
TEST_F(TlsServerTest, WithoutCaAsksNoClientCertificate) {
  Files files = server_files_;
  files.ca_file.clear();
  auto ctx = ServerContext::Create(files, clock_);
  ASSERT_TRUE(ctx.ok());
  EXPECT_FALSE((*ctx)->requires_client_certificate());
  auto server = Serve(*ctx);
  EXPECT_EQ(Get(server->port(), server_files_.ca_file, nullptr), 200);
}

// Verifies a rotated certificate is served once the recheck interval has passed, and a
// half-written rotation keeps the previous one.
TEST_F(TlsServerTest, ServesRotatedCertificate) {
  auto ctx = ServerContext::Create(server_files_, clock_, absl::Seconds(10));
  ASSERT_TRUE(ctx.ok());
  auto server = Serve(*ctx);
  TestCa next("next-ca");
  KeyPair rotated = next.Issue("spotguard-extender", {"localhost"});
  const std::string next_ca = dir_ + "/next-ca.crt";
  spotguard::testing::WriteFile(next_ca, next.cert_pem());
  EXPECT_EQ(Get(server->port(), next_ca, &client_files_), -1);

  spotguard::testing::WriteFile(server_files_.cert_file, rotated.cert_pem);  // key not yet written
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Get(server->port(), server_files_.ca_file, &client_files_), 200);  // the old pair still
  EXPECT_EQ((*ctx)->reloads(), 0);

  spotguard::testing::WriteFile(server_files_.key_file, rotated.key_pem);
  EXPECT_EQ(Get(server->port(), server_files_.ca_file, &client_files_), 200);  // not rechecked yet
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Get(server->port(), next_ca, &client_files_), 200);
  EXPECT_EQ((*ctx)->reloads(), 1);
}

// Verifies Check names the file and the problem.
TEST_F(TlsServerTest, CheckNamesTheProblem) {
  EXPECT_TRUE(Check(server_files_).ok());
  EXPECT_TRUE(Check({}).ok());
  Files missing = server_files_;
  missing.cert_file = dir_ + "/absent.crt";
  EXPECT_NE(Check(missing).message().find("absent.crt"), std::string::npos);
  Files mismatched = server_files_;
  mismatched.key_file = client_files_.key_file;
  EXPECT_NE(Check(mismatched).message().find("is not the key of the certificate"), std::string::npos);
  spotguard::testing::WriteFile(dir_ + "/garbage.crt", "not a certificate");
  Files garbage = server_files_;
  garbage.ca_file = dir_ + "/garbage.crt";
  EXPECT_NE(Check(garbage).message().find("no PEM certificate"), std::string::npos);
  EXPECT_FALSE(ServerContext::Create(garbage, clock_).ok());
}

}  // namespace
}  // namespace spotguard::tls
