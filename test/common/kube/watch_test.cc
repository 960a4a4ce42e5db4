#include "common/kube/watch.h"

#include <thread>

#include "absl/strings/match.h"
#include "common/kube/status.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_http_client.h"

namespace spotguard::kube {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;

// Verifies each watch event type decodes, and malformed lines are errors.
TEST(WatchTest, DecodesEvents) {
  auto added = DecodeWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"n1","resourceVersion":"5"}}})");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(added->object["metadata"]["name"], "n1");
  auto bookmark = DecodeWatchEvent(R"({"type":"BOOKMARK","object":{"kind":"Node","metadata":{"resourceVersion":"9"}}})");
  ASSERT_TRUE(bookmark.ok());
  EXPECT_EQ(bookmark->type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(DecodeWatchEvent(R"({"type":"DELETED","object":{}})")->type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(DecodeWatchEvent(R"({"type":"MODIFIED","object":{}})")->type, WatchEvent::Type::kModified);
  for (const char* bad : {"", "nope", "[]", R"({"type":"ADDED"})", R"({"type":7,"object":{}})",
                          R"({"type":"RENAMED","object":{}})", R"({"type":"ADDED","object":"x"})"}) {
    EXPECT_FALSE(DecodeWatchEvent(bad).ok()) << bad;
  }
}

// Verifies an ERROR event with 410 Expired means "relist".
TEST(WatchTest, ErrorEventGoneMeansRelist) {
  auto ev = DecodeWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410,
          "message":"too old resource version: 5 (300)"}})json");
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->type, WatchEvent::Type::kError);
  absl::Status s = WatchErrorStatus(ev->object);
  EXPECT_TRUE(IsGone(s));
  EXPECT_NE(s.message().find("too old resource version"), absl::string_view::npos);
}

// Verifies list and watch query strings: paging, selectors (escaped), bookmarks, timeout.
TEST(WatchTest, QueryStrings) {
  FakeClock clock;
  KubeClient client(std::make_unique<FakeHttpClient>(), {}, clock);
  Reflector r(client, {.path = "/api/v1/pods", .label_selector = "spark-role in (executor)",
                       .field_selector = "spec.nodeName=n1", .page_size = 100},
              {});
  EXPECT_EQ(r.ListPath(""), "/api/v1/pods?limit=100&labelSelector=spark-role%20in%20%28executor%29"
                            "&fieldSelector=spec.nodeName%3Dn1");
  EXPECT_EQ(r.ListPath("tok"), r.ListPath("") + "&continue=tok");
  EXPECT_EQ(r.WatchPath("42"), "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=42"
                               "&timeoutSeconds=300&labelSelector=spark-role%20in%20%28executor%29"
                               "&fieldSelector=spec.nodeName%3Dn1");
}

std::string Item(const std::string& name, const std::string& rv) {
  return R"({"metadata":{"name":")" + name + R"(","resourceVersion":")" + rv + R"("}})";
}

// Verifies the reflector pages the list, applies watch events, follows bookmarks, and
// relists when the watch says its version is gone.
TEST(ReflectorTest, ListWatchBookmarkAndRelist) {
  FakeClock clock;
  clock.set_auto_advance(true);
  auto http = std::make_unique<FakeHttpClient>();
  FakeHttpClient* fake = http.get();
  KubeClient client(std::move(http), {}, clock, {.qps = 0});
  StopSignal stop;
  std::vector<std::string> log;
  Reflector* self = nullptr;
  // Script: page 1, page 2, a watch with ADDED + BOOKMARK + ERROR 410, a relist, then stop.
  fake->Push(HttpResponse{.status = 200, .body = R"({"metadata":{"continue":"c1","resourceVersion":"10"},"items":[)" +
                                                 Item("a", "3") + "]}"});
  fake->Push(HttpResponse{.status = 200, .body = R"({"metadata":{"resourceVersion":"10"},"items":[)" + Item("b", "4") + "]}"});
  fake->Push(HttpResponse{.status = 200,
                          .body = R"({"type":"ADDED","object":)" + Item("c", "11") + "}\n" +
                                  R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})" + "\n" +
                                  R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})" + "\n"});
  fake->Push(HttpResponse{.status = 200, .body = R"({"metadata":{"resourceVersion":"20"},"items":[)" + Item("c", "11") + "]}"});
  fake->SetHandler([&](const HttpRequest&) {
    stop.Stop();
    return HttpResponse{.status = 500};
  });
  Reflector r(client, {.path = "/api/v1/nodes", .page_size = 1},
              {.replace =
                   [&](std::vector<Json> items) {
                     std::string s = "replace:";
                     for (const auto& i : items) s += i["metadata"]["name"].get<std::string>();
                     log.push_back(s);
                   },
               .apply = [&](WatchEvent::Type, const Json& o) { log.push_back("apply:" + o["metadata"]["name"].get<std::string>()); }});
  self = &r;
  r.Run(stop);
  EXPECT_EQ(log, (std::vector<std::string>{"replace:ab", "apply:c", "replace:c"}));
  EXPECT_EQ(r.lists(), 2);
  EXPECT_TRUE(r.synced());
  auto reqs = fake->requests();
  ASSERT_GE(reqs.size(), 5u);
  EXPECT_TRUE(absl::StrContains(reqs[1].path, "continue=c1"));
  EXPECT_TRUE(absl::StrContains(reqs[2].path, "watch=1") && absl::StrContains(reqs[2].path, "resourceVersion=10"));
  EXPECT_TRUE(absl::StrContains(reqs[4].path, "resourceVersion=20"));
  (void)self;
}

// Verifies a failing watch is retried with backoff from the same version (no relist).
TEST(ReflectorTest, WatchFailureRetriesWithoutRelist) {
  FakeClock clock;
  clock.set_auto_advance(true);
  auto http = std::make_unique<FakeHttpClient>();
  FakeHttpClient* fake = http.get();
  KubeClient client(std::move(http), {}, clock, {.qps = 0, .max_attempts = 1});
  StopSignal stop;
  fake->Push(HttpResponse{.status = 200, .body = R"({"metadata":{"resourceVersion":"7"},"items":[]})"});
  fake->Push(absl::UnavailableError("connection reset"));
  fake->Push(HttpResponse{.status = 500, .body = "oops"});
  fake->SetHandler([&](const HttpRequest& req) {
    stop.Stop();
    return HttpResponse{.status = 200, .body = ""};
  });
  int replaces = 0;
  Reflector r(client, {.path = "/api/v1/nodes", .backoff = {.initial = absl::Seconds(1), .jitter = 0}},
              {.replace = [&](std::vector<Json>) { ++replaces; }, .apply = [](WatchEvent::Type, const Json&) {}});
  r.Run(stop);
  EXPECT_EQ(replaces, 1);
  auto reqs = fake->requests();
  ASSERT_EQ(reqs.size(), 4u);
  for (size_t i = 1; i < reqs.size(); ++i) EXPECT_TRUE(absl::StrContains(reqs[i].path, "resourceVersion=7"));
  EXPECT_EQ(clock.sleeps(), (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2)}));
}

// Verifies a handler that throws costs one event, not the watch thread.
TEST(ReflectorTest, ThrowingHandlerDoesNotKillTheWatch) {
  FakeClock clock;
  clock.set_auto_advance(true);
  auto http = std::make_unique<FakeHttpClient>();
  FakeHttpClient* fake = http.get();
  KubeClient client(std::move(http), {}, clock, {.qps = 0});
  StopSignal stop;
  fake->Push(HttpResponse{.status = 200, .body = R"({"metadata":{"resourceVersion":"1"},"items":[]})"});
  fake->Push(HttpResponse{.status = 200, .body = R"({"type":"ADDED","object":)" + Item("bad", "2") + "}\n" +
                                                 R"({"type":"ADDED","object":)" + Item("good", "3") + "}\n"});
  fake->SetHandler([&](const HttpRequest&) {
    stop.Stop();
    return HttpResponse{.status = 200, .body = ""};
  });
  std::vector<std::string> applied;
  Reflector r(client, {.path = "/api/v1/nodes"},
              {.replace = [](std::vector<Json>) { throw std::runtime_error("boom"); },
               .apply = [&](WatchEvent::Type, const Json& o) {
                 if (o["metadata"]["name"] == "bad") throw Json::type_error::create(302, "type must be string", nullptr);
                 applied.push_back(o["metadata"]["name"]);
               }});
  r.Run(stop);
  EXPECT_EQ(applied, std::vector<std::string>{"good"});
  EXPECT_EQ(r.resource_version(), "3");
}

}  // namespace
}  // namespace spotguard::kube
