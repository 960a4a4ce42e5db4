#include "common/http_client.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace spotguard {
namespace {

// A loopback server on port 0 for one test.
class TestServer {
 public:
  TestServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~TestServer() {
    release_.Stop();
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  // Handlers that stall wait on this; released when the test ends.
  const StopSignal& release() const { return release_; }

 private:
  httplib::Server server_;
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

// Verifies bad base URLs are refused up front.
TEST(HttpClientTest, RejectsBadUrls) {
  EXPECT_FALSE(NewHttpClient({.base_url = "169.254.169.254"}).ok());
  EXPECT_FALSE(NewHttpClient({.base_url = "http://host:notaport"}).ok());
  EXPECT_FALSE(NewHttpClient({.base_url = "https://127.0.0.1:1", .tls = {.ca_pem = "not pem"}}).ok());
  EXPECT_EQ(UrlEncode("spark-role=executor,a in (b)"), "spark-role%3Dexecutor%2Ca%20in%20%28b%29");
}

}  // namespace
}  // namespace spotguard
