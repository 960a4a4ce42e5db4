#include "extender/http_api.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace spotguard::extender {
namespace {

using Json = nlohmann::json;

std::shared_ptr<const risk::Snapshot> TestSnapshot() {
  std::vector<std::shared_ptr<const risk::NodeInfo>> nodes;
  auto add = [&](std::string name, bool spot, double risk, bool doomed) {
    auto n = std::make_shared<risk::NodeInfo>();
    n->name = name;
    n->spot = spot;
    n->risk = risk;
    n->doomed = doomed;
    n->notice_id = doomed ? "n-1" : "";
    n->notice_kind = doomed ? "eviction" : "";
    nodes.push_back(n);
  };
  add("spot-1", true, 0.01, false);
  add("spot-2", true, 0.15, false);
  add("doomed", true, 1, true);
  add("od-1", false, 0, false);
  auto snap = std::make_shared<risk::Snapshot>();
  snap->nodes = std::make_shared<const risk::NodeTable>(std::move(nodes));
  return snap;
}

struct Server {
  MetricsRegistry registry;
  ExtenderMetrics metrics{registry};
  HttpApi api{{}, [] { return TestSnapshot(); }, metrics};
  HttpServer http;
  explicit Server(HttpServerOptions options = {.address = "127.0.0.1:0"}) : http(options) {
    api.Register(http.routes());
    http.ServeMetrics(registry);
    EXPECT_TRUE(http.Start().ok());
  }
  httplib::Client Client() { return httplib::Client("127.0.0.1", http.port()); }
};

std::string Args(const std::string& role, const std::string& names) {
  return absl::StrCat(R"({"Pod": {"metadata": {"name": "p", "labels": {"spark-role": ")", role, R"("}}}, "NodeNames": )",
                      names, "}");
}

// Verifies /filter and /prioritize answer the wire contract and count themselves.
TEST(HttpApiTest, FilterAndPrioritize) {
  Server s;
  auto c = s.Client();
  auto f = c.Post("/filter", Args("executor", R"(["spot-1", "spot-2", "doomed", "od-1"])"), "application/json");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->status, 200);
  Json fr = Json::parse(f->body);
  EXPECT_EQ(fr["NodeNames"], Json::array({"spot-1", "spot-2", "od-1"}));
  EXPECT_TRUE(fr["FailedAndUnresolvableNodes"].contains("doomed"));
  auto p = c.Post("/prioritize", Args("executor", R"(["spot-1", "spot-2", "od-1"])"), "application/json");
  ASSERT_TRUE(p);
  EXPECT_EQ(Json::parse(p->body), Json::parse(R"([{"Host":"spot-1","Score":10},{"Host":"spot-2","Score":3},
                                                  {"Host":"od-1","Score":5}])"));
  std::string metrics = c.Get("/metrics")->body;
  EXPECT_TRUE(absl::StrContains(metrics, R"(spotguard_extender_requests_total{code="200",verb="filter"} 1)"));
  EXPECT_TRUE(absl::StrContains(metrics, R"(spotguard_extender_filtered_nodes_total{reason="notice"} 1)"));
}

// Verifies bad requests, wrong methods, unknown paths and oversized bodies get clear JSON
// errors, and the server goes on serving.
TEST(HttpApiTest, BadRequestsGetJsonErrors) {
  Server s({.address = "127.0.0.1:0", .max_body_bytes = 4096});
  auto c = s.Client();
  auto bad = c.Post("/filter", "{oops", "application/json");
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(absl::StrContains(Json::parse(bad->body)["Error"].get<std::string>(), "not JSON"));
  auto none = c.Post("/prioritize", R"({"Pod": {"metadata": {}}, "Nodes": null, "NodeNames": null})", "application/json");
  EXPECT_EQ(none->status, 400);
  auto get = c.Get("/filter");
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  auto missing = c.Post("/bind", "{}", "application/json");
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(Json::parse(missing->body).contains("Error"));
  auto big = c.Post("/filter", std::string(8192, ' '), "application/json");
  EXPECT_EQ(big->status, 413);
  EXPECT_TRUE(Json::parse(big->body).contains("Error"));
  auto ok = c.Post("/filter", Args("executor", R"(["od-1"])"), "application/json");
  EXPECT_EQ(ok->status, 200);
}

// Verifies one connection carries many requests (Go's client keeps it alive) and a client
// that stalls mid-request holds up nobody else.
TEST(HttpApiTest, KeepAliveAndSlowClients) {
  Server s({.address = "127.0.0.1:0", .threads = 4, .read_timeout = absl::Seconds(2)});
  // A slow client: headers promise a body that never comes.
  int slow = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(s.http.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(slow, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string partial = "POST /filter HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"Pod\":";
  ASSERT_GT(write(slow, partial.data(), partial.size()), 0);

  auto c = s.Client();
  c.set_keep_alive(true);
  for (int i = 0; i < 100; ++i) {
    auto r = c.Post("/filter", Args("executor", R"(["spot-1"])"), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  close(slow);
}

// Verifies /bind hands ExtenderBindingArgs to the binder and reports its failure in Error.
TEST(HttpApiTest, Bind) {
  MetricsRegistry registry;
  ExtenderMetrics metrics(registry);
  std::vector<std::string> bound;
  HttpApi api({}, [] { return TestSnapshot(); }, metrics, [&](const BindingArgs& b) -> absl::Status {
    if (b.node == "full") return absl::UnavailableError("binding refused: node full");
    bound.push_back(b.pod_namespace + "/" + b.pod_name + "@" + b.node);
    return absl::OkStatus();
  });
  auto ok = api.Bind(R"({"PodName":"exec-1","PodNamespace":"spark","PodUID":"u1","Node":"spot-1"})");
  EXPECT_EQ(ok, (std::pair<int, std::string>{200, R"({"Error":""})"}));
  EXPECT_EQ(bound, std::vector<std::string>{"spark/exec-1@spot-1"});
  auto refused = api.Bind(R"({"PodName":"exec-2","PodNamespace":"spark","Node":"full"})");
  EXPECT_EQ(refused.first, 200);
  EXPECT_EQ(Json::parse(refused.second)["Error"], "binding refused: node full");
  EXPECT_EQ(api.Bind(R"({"PodName":"x"})").first, 400);
  EXPECT_EQ(api.Bind("[]").first, 400);
}

// Verifies every request kube-scheduler really sent (captured into test/fixtures by the
// e2e run, both nodeCacheCapable modes) parses and gets a well-formed answer.
TEST(HttpApiTest, RealSchedulerRequestsFromFixtures) {
  Server s;
  int filters = 0, prioritizes = 0, full = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SPOTGUARD_FIXTURES_DIR)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream body;
    body << in.rdbuf();
    bool filter = absl::StartsWith(name, "filter");
    auto [status, out] = filter ? s.api.Filter(body.str()) : s.api.Prioritize(body.str());
    EXPECT_EQ(status, 200) << name << ": " << out;
    Json req = Json::parse(body.str());
    Json res = Json::parse(out);
    if (filter) {
      ++filters;
      EXPECT_TRUE(res["NodeNames"].is_array()) << name;
      if (!req["Nodes"].is_null()) {
        ++full;
        EXPECT_EQ(res["Nodes"]["items"].size(), res["NodeNames"].size()) << name;
      }
    } else {
      ++prioritizes;
      EXPECT_TRUE(res.is_array()) << name;
      size_t candidates = req["NodeNames"].is_array() ? req["NodeNames"].size() : req["Nodes"]["items"].size();
      EXPECT_EQ(res.size(), candidates) << name;
    }
  }
  EXPECT_GT(filters, 0) << "no filter fixtures in " << SPOTGUARD_FIXTURES_DIR;
  EXPECT_GT(prioritizes, 0) << "no prioritize fixtures in " << SPOTGUARD_FIXTURES_DIR;
  EXPECT_GT(full, 0) << "no fixtures of the full-Nodes mode";
}

}  // namespace
}  // namespace spotguard::extender
