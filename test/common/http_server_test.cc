#include "common/http_server.h"

#include "gtest/gtest.h"
#include "httplib.h"
#include "prometheus/counter.h"

namespace spotguard {
namespace {

// Verifies probes answer 200 "ok" or 503 with the reason.
TEST(HttpServerTest, ProbesReportChecks) {
  HttpServer server({.address = "127.0.0.1:0"});
  server.ServeProbes([] { return absl::OkStatus(); },
                     [] { return absl::UnavailableError("waiting for the initial node list"); });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);
  httplib::Client c("127.0.0.1", server.port());
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");
  auto r = c.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "waiting for the initial node list\n");
  server.Stop();
  server.Stop();  // idempotent
}

// Verifies /metrics serves the registry in Prometheus text format.
TEST(HttpServerTest, ServesMetrics) {
  MetricsRegistry registry;
  prometheus::BuildCounter().Name("spotguard_test_total").Help("t").Register(registry.registry()).Add({}).Increment(3);
  HttpServer server({.address = "127.0.0.1:0"});
  server.ServeMetrics(registry);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client c("127.0.0.1", server.port());
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("spotguard_test_total 3"), std::string::npos) << m->body;
}

// Verifies JSON answers are never gzip-compressed, even when the client offers gzip as Go's
// HTTP client (kube-scheduler) does.
TEST(HttpServerTest, JsonNotCompressedForGoClients) {
  HttpServer server({.address = "127.0.0.1:0"});
  server.routes().Post("/filter", [](const httplib::Request&, httplib::Response& res) {
    SetJson(res, std::string(4096, ' ') + "{}");
  });
  ASSERT_TRUE(server.Start().ok());
  httplib::Client c("127.0.0.1", server.port());
  c.set_decompress(false);
  auto res = c.Post("/filter", {{"Accept-Encoding", "gzip"}}, "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(res->body.size(), 4098u);
}

// Verifies a body over the configured limit is refused with 413 and the server keeps serving.
TEST(HttpServerTest, BodyLimitEnforced) {
  HttpServer server({.address = "127.0.0.1:0", .max_body_bytes = 1024});
  server.routes().Post("/filter", [](const httplib::Request&, httplib::Response& res) { SetJson(res, "{}"); });
  ASSERT_TRUE(server.Start().ok());
  httplib::Client c("127.0.0.1", server.port());
  auto big = c.Post("/filter", std::string(4096, 'x'), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto ok = c.Post("/filter", "{}", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// Verifies address parsing and refusal of a port already taken.
TEST(HttpServerTest, AddressesAndBindErrors) {
  EXPECT_EQ(ParseHostPort(":8080")->host, "0.0.0.0");
  EXPECT_EQ(ParseHostPort("[::1]:9")->host, "::1");
  EXPECT_FALSE(ParseHostPort("8080").ok());
  EXPECT_FALSE(ParseHostPort("host:99999").ok());
  HttpServer a({.address = "127.0.0.1:0"});
  ASSERT_TRUE(a.Start().ok());
  HttpServer b({.address = "127.0.0.1:" + std::to_string(a.port())});
  EXPECT_EQ(b.Start().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace spotguard
