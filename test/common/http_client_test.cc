#include "common/http_client.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace spotguard {
namespace {

// A loopback server on port 0 for one test.
class TestServer {
 public:
  explicit TestServer(std::unique_ptr<httplib::Server> server = std::make_unique<httplib::Server>(),
                      std::string scheme = "http")
      : server_(std::move(server)), scheme_(std::move(scheme)) {
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::yield();
  }
  ~TestServer() {
    release_.Stop();
    server_->stop();
    thread_.join();
  }
  httplib::Server& server() { return *server_; }
  std::string url() const { return absl::StrCat(scheme_, "://127.0.0.1:", port_); }
  // Handlers that stall wait on this; released when the test ends.
  const StopSignal& release() const { return release_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::string scheme_;
  StopSignal release_;
  int port_;
  std::thread thread_;
};

std::unique_ptr<HttpClient> Client(const std::string& url) {
  auto c = NewHttpClient({.base_url = url});
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

// Verifies a plain GET returns status, headers and body, and sends our headers.
TEST(HttpClientTest, GetReturnsStatusHeadersBody) {
  TestServer s;
  s.server().Get("/meta", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Echo", req.get_header_value("Metadata"));
    res.set_content("hello", "text/plain");
  });
  auto res = Client(s.url())->Send({.path = "/meta", .headers = {{"Metadata", "true"}}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(res->Header("x-echo"), "true");
}

// Verifies an HTTP error status is a response, not a transport error.
TEST(HttpClientTest, NotFoundIsAResponse) {
  TestServer s;
  auto res = Client(s.url())->Send({.path = "/latest/meta-data/spot/instance-action"});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 404);
}

// Verifies a body over the limit is rejected, and the client keeps working afterwards.
TEST(HttpClientTest, OversizedBodyRejected) {
  TestServer s;
  s.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(2 << 20, 'x'), "application/json");
  });
  s.server().Get("/small", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  auto client = Client(s.url());
  auto res = client->Send({.path = "/big", .max_response_bytes = 1 << 20});
  EXPECT_EQ(res.status().code(), absl::StatusCode::kResourceExhausted) << res.status();
  auto ok = client->Send({.path = "/small", .max_response_bytes = 1 << 20});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->body, "{}");
}

// Verifies a server that stalls mid-body makes the call fail with DeadlineExceeded.
TEST(HttpClientTest, StalledBodyTimesOut) {
  TestServer s;
  s.server().Get("/stall", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
      sink.write("{\"Events\":[", 11);
      s.release().WaitUntil(absl::InfiniteFuture());
      return false;
    });
  });
  auto res = Client(s.url())->Send({.path = "/stall", .timeout = absl::Milliseconds(300)});
  EXPECT_EQ(res.status().code(), absl::StatusCode::kDeadlineExceeded) << res.status();
}

// Verifies nobody listening is kUnavailable (the caller may retry).
TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  std::string url;
  { TestServer gone; url = gone.url(); }
  auto res = Client(url)->Send({.path = "/"});
  EXPECT_EQ(res.status().code(), absl::StatusCode::kUnavailable) << res.status();
}

// Verifies streaming delivers data as it arrives and stop ends a stream blocked on the server.
TEST(HttpClientTest, StreamDeliversChunksAndStops) {
  TestServer s;
  s.server().Get("/watch", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [&](size_t offset, httplib::DataSink& sink) {
      if (offset == 0) {
        sink.write("line-1\n", 7);
        return true;
      }
      s.release().WaitUntil(absl::InfiniteFuture());
      return false;
    });
  });
  auto client = Client(s.url());
  StopSignal stop;
  std::string got, error_body;
  auto status = client->Stream({.path = "/watch", .timeout = absl::Seconds(30)},
                               [&](absl::string_view chunk) {
                                 got.append(chunk.data(), chunk.size());
                                 stop.Stop();  // as a shutdown arriving mid-watch would
                                 return true;
                               },
                               &error_body, stop);
  EXPECT_EQ(got, "line-1\n");
  EXPECT_EQ(status.status().code(), absl::StatusCode::kCancelled);
}

// Verifies a non-2xx streaming answer lands in error_body, not in the data callback.
TEST(HttpClientTest, StreamErrorBodyCollected) {
  TestServer s;
  s.server().Get("/watch", [](const httplib::Request&, httplib::Response& res) {
    res.status = 410;
    res.set_content(R"({"kind":"Status","code":410})", "application/json");
  });
  StopSignal stop;
  std::string error_body;
  bool called = false;
  auto status = Client(s.url())->Stream({.path = "/watch"}, [&](absl::string_view) { return called = true; },
                                        &error_body, stop);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 410);
  EXPECT_FALSE(called);
  EXPECT_EQ(error_body, R"({"kind":"Status","code":410})");
}

// Verifies concurrent calls on one client each get their own answer.
TEST(HttpClientTest, ConcurrentCallsAreIndependent) {
  TestServer s;
  s.server().Get(R"(/echo/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.matches[1].str(), "text/plain");
  });
  auto client = Client(s.url());
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string n = absl::StrCat(t * 100 + i);
        auto res = client->Send({.path = "/echo/" + n});
        if (res.ok() && res->body == n) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, 100);
}

// Verifies max_connections caps requests in flight: with two slots, four concurrent calls
// reach the server two at a time, and all four complete; a fifth that cannot get a slot
// within its timeout fails as one.
TEST(HttpClientTest, MaxConnectionsCapsRequestsInFlight) {
  TestServer server;
  absl::Mutex mu;
  int current = 0, most = 0;
  bool open = false;
  server.server().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    absl::MutexLock lock(&mu);
    most = std::max(most, ++current);
    mu.Await(absl::Condition(&open));
    --current;
    res.set_content("done", "text/plain");
  });
  auto client = NewHttpClient({.base_url = server.url(), .max_connections = 2});
  ASSERT_TRUE(client.ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> calls;
  for (int i = 0; i < 4; ++i) {
    calls.emplace_back([&] {
      if (auto r = (*client)->Send({.path = "/slow"}); r.ok() && r->body == "done") ++ok;
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto two = [&] { return current == 2; };
    mu.Await(absl::Condition(&two));
    // A third call, were it let through, would arrive within this window.
    mu.AwaitWithTimeout(absl::Condition(+[](int* c) { return *c > 2; }, &current), absl::Milliseconds(200));
  }
  // A call that cannot get a slot within its timeout fails as a timeout.
  auto late = (*client)->Send({.path = "/slow", .timeout = absl::Milliseconds(50)});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
  {
    absl::MutexLock lock(&mu);
    open = true;
  }
  for (auto& t : calls) t.join();
  EXPECT_EQ(most, 2);
  EXPECT_EQ(ok, 4);
}

// A P-256 key and an X.509 certificate for it, issued by `issuer` (self-signed without one).
struct Cert {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> x509{nullptr, X509_free};

  std::string Pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x509.get());
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, size);
    BIO_free(bio);
    return pem;
  }
};

Cert MakeCert(const std::string& cn, const std::string& san, const Cert* issuer) {
  Cert c;
  c.key.reset(EVP_EC_gen("P-256"));
  c.x509.reset(X509_new());
  X509* x = c.x509.get();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, c.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_x = issuer ? issuer->x509.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_x));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_x, x, nullptr, nullptr, 0);
  const std::string constraints = issuer ? "critical,CA:FALSE" : "critical,CA:TRUE";
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, constraints}, std::pair{NID_subject_alt_name, san}}) {
    if (value.empty()) continue;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, issuer ? issuer->key.get() : c.key.get(), EVP_sha256());
  return c;
}

// An HTTPS server on port 0 presenting `cert`.
std::unique_ptr<TestServer> TlsServer(const Cert& cert) {
  auto server = std::make_unique<httplib::SSLServer>(cert.x509.get(), cert.key.get());
  server->Get("/ok", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  return std::make_unique<TestServer>(std::move(server), "https");
}

// Verifies the client trusts exactly the configured CA and checks the server's name: a
// certificate from another CA, or for another name, fails the handshake; the right CA and
// name succeed; insecure_skip_verify accepts any.
TEST(HttpClientTest, TlsTrustsOnlyTheConfiguredCaAndChecksTheName) {
  const Cert ca = MakeCert("test-ca", "", nullptr);
  const Cert other_ca = MakeCert("other-ca", "", nullptr);
  const Cert good = MakeCert("apiserver", "IP:127.0.0.1,DNS:localhost", &ca);
  const Cert wrong_name = MakeCert("apiserver", "DNS:kubernetes.default.svc", &ca);
  const Cert other = MakeCert("apiserver", "IP:127.0.0.1", &other_ca);

  auto get = [](const TestServer& server, TlsOptions tls) {
    auto client = NewHttpClient({.base_url = server.url(), .tls = std::move(tls)});
    EXPECT_TRUE(client.ok()) << client.status();
    return (*client)->Send({.path = "/ok"});
  };
  {
    auto server = TlsServer(good);
    auto res = get(*server, {.ca_pem = ca.Pem()});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->body, "ok");
    // The same server by the DNS name its certificate also carries.
    auto by_name = NewHttpClient({.base_url = absl::StrReplaceAll(server->url(), {{"127.0.0.1", "localhost"}}),
                                  .tls = {.ca_pem = ca.Pem()}});
    ASSERT_TRUE(by_name.ok());
    EXPECT_TRUE((*by_name)->Send({.path = "/ok"}).ok());
    EXPECT_EQ(get(*server, {.ca_pem = other_ca.Pem()}).status().code(), absl::StatusCode::kUnavailable);
  }
  {
    auto server = TlsServer(wrong_name);
    EXPECT_EQ(get(*server, {.ca_pem = ca.Pem()}).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(get(*server, {.ca_pem = ca.Pem(), .insecure_skip_verify = true}).ok());
  }
  {
    auto server = TlsServer(other);
    EXPECT_EQ(get(*server, {.ca_pem = ca.Pem()}).status().code(), absl::StatusCode::kUnavailable);
  }
}

// Verifies bad base URLs are refused up front.
TEST(HttpClientTest, RejectsBadUrls) {
  EXPECT_FALSE(NewHttpClient({.base_url = "169.254.169.254"}).ok());
  EXPECT_FALSE(NewHttpClient({.base_url = "http://host:notaport"}).ok());
  EXPECT_FALSE(NewHttpClient({.base_url = "https://127.0.0.1:1", .tls = {.ca_pem = "not pem"}}).ok());
  EXPECT_EQ(UrlEncode("spark-role=executor,a in (b)"), "spark-role%3Dexecutor%2Ca%20in%20%28b%29");
}

}  // namespace
}  // namespace spotguard
