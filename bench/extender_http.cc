// Extender server time over HTTP, side by side with a reference extender written the way most
// are (bench/baseline/extender: Go, net/http, encoding/json, the extender/v1 types) serving the
// same filter/prioritize over the same cached state.
//
// Each server runs as its own process on loopback: spotguard's is this binary with --serve
// (the extender's HttpServer + HttpApi over a synthetic snapshot, exactly the code
// spotguard-extender serves with), the reference is bench/baseline/extender built by CMake.
// For every size (candidate nodes), form (NodeNames, full Nodes) and concurrency, `c`
// keep-alive clients each send what kube-scheduler sends per pod — POST /filter then POST
// /prioritize — for --time; latencies are per request and per pod (filter + prioritize).
// Before timing, the two servers' answers are compared: a benchmark of different answers
// would compare nothing.
//
// Usage: spotguard-bench-extender-http [--sizes=100,500,5000] [--concurrency=1,8]
//          [--forms=names,nodes] [--time=3s] [--out=FILE]
//        spotguard-bench-extender-http --serve --nodes=N   (one server; used by the above)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/cluster_fixture.h"
#include "bench/stats.h"
#include "common/flags.h"
#include "common/http_server.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/malloc.h"
#include "common/signals.h"
#include "extender/http_api.h"
#include "test/e2e/process.h"

namespace spotguard::bench {
namespace {

using Json = nlohmann::json;

struct Options {
  bool serve = false;
  int nodes = 100;
  std::vector<std::string> sizes = {"100", "500", "5000"};
  std::vector<std::string> concurrency = {"1", "8"};
  std::vector<std::string> forms = {"names", "nodes"};
  absl::Duration time = absl::Seconds(3);
  int min_pods = 10;
  std::string reference;
  std::string out;
};

int Serve(const Options& o) {
  KeepFreedMemory(size_t{32} << 20);  // as spotguard-extender's main() does
  StopSignal stop;
  StopOnSignals(stop);
  MetricsRegistry registry;
  extender::ExtenderMetrics metrics(registry);
  auto snapshot = SyntheticSnapshot(o.nodes);
  extender::HttpApi api({}, [&] { return snapshot; }, metrics);
  HttpServer server({.address = "127.0.0.1:0"});
  server.ServeMetrics(registry);
  api.Register(server.routes());
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("listening on %s\n", server.BoundAddress().c_str());
  std::fflush(stdout);
  stop.WaitUntil(absl::InfiniteFuture());
  server.Stop();
  return 0;
}

// The reference extender's state file: the synthetic snapshot's nodes and application spread.
std::string WriteState(int n, const std::string& dir) {
  auto snap = SyntheticSnapshot(n);
  Json nodes = Json::array();
  for (int i = 0; i < n; ++i) {
    const risk::NodeInfo* info = snap->Node(NodeName(i));
    nodes.push_back({{"name", info->name}, {"spot", info->spot}, {"risk", info->risk}, {"doomed", info->doomed},
                     {"pool", info->pool_id}, {"zone", info->zone_id}});
  }
  Json apps = Json::object();
  for (const auto& [app, spread] : *snap->apps) {
    Json per_pool = Json::object(), per_zone = Json::object();
    for (const auto& [k, v] : spread->per_pool) per_pool[std::to_string(k)] = v;
    for (const auto& [k, v] : spread->per_zone) per_zone[std::to_string(k)] = v;
    apps[app] = {{"total", spread->total}, {"perPool", per_pool}, {"perZone", per_zone}};
  }
  std::string path = absl::StrCat(dir, "/state-", n, ".json");
  std::ofstream(path) << Json{{"nodes", nodes}, {"apps", apps}}.dump();
  return path;
}

struct Server {
  std::string name;
  std::unique_ptr<e2e::Process> process;
  std::string host;
  int port = 0;
};

absl::StatusOr<Server> StartServer(const std::string& name, std::vector<std::string> argv, const std::string& dir) {
  auto p = e2e::Process::Start(name, std::move(argv), dir);
  if (!p.ok()) return p.status();
  auto line = (*p)->WaitForLine([](absl::string_view l) { return absl::StartsWith(l, "listening on "); },
                                absl::Seconds(60));
  if (!line.ok()) return absl::UnavailableError(absl::StrCat(name, " did not start: ", line.status().message()));
  absl::string_view addr = absl::string_view(*line).substr(13);
  auto hp = ParseHostPort(addr);
  if (!hp.ok()) return hp.status();
  return Server{name, std::move(*p), hp->host, hp->port};
}

// The load generator's HTTP/1.1 client: a keep-alive connection, each request one prebuilt
// buffer and one send, responses read in large chunks (Content-Length or chunked, as Go
// answers). The client's own cost is part of every latency measured, for both servers alike:
// kept small so the numbers are the servers'.
class Connection {
 public:
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  absl::Status Connect(const std::string& host, int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(absl::StrCat("connect ", host, ":", port, ": ", strerror(errno)));
    }
    return absl::OkStatus();
  }
  static std::string Request(absl::string_view path, absl::string_view body) {
    return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: extender\r\nContent-Type: application/json\r\n",
                        "Content-Length: ", body.size(), "\r\n\r\n", body);
  }
  // Sends a prebuilt request; the response status, its body in *body.
  absl::StatusOr<int> RoundTrip(const std::string& request, std::string* body) {
    for (size_t sent = 0; sent < request.size();) {
      ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return absl::UnavailableError("send failed");
      sent += n;
    }
    size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) if (absl::Status st = Fill(); !st.ok()) return st;
    absl::string_view head(in_.data(), end);
    int status = 0;
    if (head.size() < 12 || !absl::SimpleAtoi(head.substr(9, 3), &status)) return absl::DataLossError("bad status line");
    size_t length = 0;
    bool chunked = false;
    for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
      const std::string lower = absl::AsciiStrToLower(line);
      if (absl::StartsWith(lower, "content-length:")) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &length);
      if (absl::StartsWith(lower, "transfer-encoding:") && absl::StrContains(lower, "chunked")) chunked = true;
    }
    in_.erase(0, end + 4);
    body->clear();
    if (!chunked) {
      if (absl::Status st = Take(length, body); !st.ok()) return st;
      return status;
    }
    for (;;) {
      size_t eol;
      while ((eol = in_.find("\r\n")) == std::string::npos) if (absl::Status st = Fill(); !st.ok()) return st;
      size_t size = 0;
      if (!absl::SimpleHexAtoi(in_.substr(0, eol), &size)) return absl::DataLossError("bad chunk size");
      in_.erase(0, eol + 2);
      if (absl::Status st = Take(size + 2, body); !st.ok()) return st;  // the chunk and its CRLF
      body->resize(body->size() - 2);
      if (size == 0) return status;
    }
  }

 private:
  absl::Status Fill() {
    char buf[1 << 16];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return absl::UnavailableError("connection closed");
    in_.append(buf, n);
    return absl::OkStatus();
  }
  absl::Status Take(size_t n, std::string* out) {
    while (in_.size() < n) if (absl::Status st = Fill(); !st.ok()) return st;
    out->append(in_, 0, n);
    in_.erase(0, n);
    return absl::OkStatus();
  }
  int fd_ = -1;
  std::string in_;
};

struct Samples {
  std::vector<double> filter_us, prioritize_us, pod_us;
  int errors = 0;
};

// `clients` keep-alive connections, each sending filter + prioritize pairs until `time` is up
// (and at least `min_pods` pods overall).
Json Load(const Server& s, const std::string& body, int clients, absl::Duration time, int min_pods) {
  absl::Mutex mu;
  Samples all;
  std::atomic<int> pods{0};
  const absl::Time start = absl::Now(), deadline = start + time;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      Samples mine;
      Connection conn;
      if (!conn.Connect(s.host, s.port).ok()) mine.errors = 100;
      const std::string filter = Connection::Request("/filter", body), prioritize = Connection::Request("/prioritize", body);
      std::string answer;
      while (mine.errors < 10 && (absl::Now() < deadline || pods.load() < min_pods)) {
        absl::Time t0 = absl::Now();
        auto f = conn.RoundTrip(filter, &answer);
        absl::Time t1 = absl::Now();
        auto p = conn.RoundTrip(prioritize, &answer);
        absl::Time t2 = absl::Now();
        if (!f.ok() || *f != 200 || !p.ok() || *p != 200) {
          ++mine.errors;
          continue;
        }
        mine.filter_us.push_back(absl::ToDoubleMicroseconds(t1 - t0));
        mine.prioritize_us.push_back(absl::ToDoubleMicroseconds(t2 - t1));
        mine.pod_us.push_back(absl::ToDoubleMicroseconds(t2 - t0));
        ++pods;
      }
      absl::MutexLock lock(&mu);
      for (auto [dst, src] : {std::pair{&all.filter_us, &mine.filter_us}, {&all.prioritize_us, &mine.prioritize_us},
                              {&all.pod_us, &mine.pod_us}}) {
        dst->insert(dst->end(), src->begin(), src->end());
      }
      all.errors += mine.errors;
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return {{"filter_us", Summarize(all.filter_us).ToJson()},
          {"prioritize_us", Summarize(all.prioritize_us).ToJson()},
          {"pod_us", Summarize(all.pod_us).ToJson()},
          {"pods", all.pod_us.size()},
          {"requests_per_s", 2.0 * all.pod_us.size() / seconds},
          {"errors", all.errors}};
}

// Seconds spent in spotguard's handlers so far and the requests they answered (its
// request-duration histogram): the part of a round trip that is not HTTP.
std::pair<double, double> HandlerSeconds(const Server& s) {
  httplib::Client cli(s.host, s.port);
  auto res = cli.Get("/metrics");
  double sum = 0, count = 0;
  if (!res) return {0, 0};
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    if (absl::StartsWith(line, "spotguard_extender_request_duration_seconds_sum")) sum += v;
    if (absl::StartsWith(line, "spotguard_extender_request_duration_seconds_count")) count += v;
  }
  return {sum, count};
}

// One answer of each verb, in a form to compare: passing names + unresolvable names, and
// host → score.
absl::StatusOr<Json> Answers(const Server& s, const std::string& body) {
  httplib::Client cli(s.host, s.port);
  cli.set_read_timeout(60, 0);
  auto f = cli.Post("/filter", body, "application/json");
  auto p = cli.Post("/prioritize", body, "application/json");
  if (!f || f->status != 200 || !p || p->status != 200) {
    return absl::InternalError(absl::StrCat(s.name, ": filter/prioritize failed: ", f ? f->status : -1, " ",
                                            p ? p->status : -1, " ", f ? f->body.substr(0, 200) : ""));
  }
  Json fj = Json::parse(f->body), pj = Json::parse(p->body);
  Json scores = Json::object();
  for (const Json& hp : pj) scores[hp["Host"].get<std::string>()] = hp["Score"];
  Json failed = Json::array();
  for (const auto& [k, v] : fj["FailedAndUnresolvableNodes"].items()) failed.push_back(k);
  Json echoed = Json::array();
  if (fj["Nodes"].is_object()) {
    for (const Json& n : fj["Nodes"]["items"]) echoed.push_back(n["metadata"]["name"]);
  }
  return Json{{"passed", fj["NodeNames"]}, {"unresolvable", failed}, {"echoed", echoed}, {"scores", scores}};
}

std::string SelfDir() { return std::filesystem::read_symlink("/proc/self/exe").parent_path().string(); }

int Drive(const Options& o) {
  const std::string reference = o.reference.empty() ? SelfDir() + "/reference-extender" : o.reference;
  if (access(reference.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "the reference extender %s is missing: it is built by CMake from bench/baseline/extender "
                 "(needs Go and the module proxy); pass --reference=PATH\n", reference.c_str());
    return 1;
  }
  char tmpl[] = "/tmp/spotguard-bench-http-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  Json results = {{"benchmark", "extender_http"}, {"runs", Json::array()}};
  std::printf("| nodes | form | clients | server | per pod (filter+prioritize) p50 / p99 (µs) | filter p50 / p99 (µs) "
              "| prioritize p50 / p99 (µs) | requests/s | in handler, mean (µs) |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& size : o.sizes) {
    int n = 0;
    if (!absl::SimpleAtoi(size, &n) || n <= 0) {
      std::fprintf(stderr, "bad size %s\n", size.c_str());
      return 2;
    }
    std::vector<Server> servers;
    for (auto [name, argv] : {std::pair<std::string, std::vector<std::string>>{
                                  "spotguard", {SelfDir() + "/spotguard-bench-extender-http", "--serve",
                                                absl::StrCat("--nodes=", n)}},
                              {"go-reference", {reference, "-state", WriteState(n, dir)}}}) {
      absl::StatusOr<Server> s = StartServer(name, argv, dir);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", std::string(s.status().message()).c_str());
        return 1;
      }
      servers.push_back(std::move(*s));
    }
    for (const std::string& form : o.forms) {
      const std::string body = RequestBody(n, form == "nodes");
      absl::StatusOr<Json> a = Answers(servers[0], body), b = Answers(servers[1], body);
      if (!a.ok() || !b.ok()) {
        std::fprintf(stderr, "%s\n", std::string((a.ok() ? b : a).status().message()).c_str());
        return 1;
      }
      if (*a != *b) {
        std::fprintf(stderr, "%d nodes, %s: the servers disagree; nothing to compare\nspotguard: %s\nreference: %s\n", n,
                     form.c_str(), a->dump().substr(0, 600).c_str(), b->dump().substr(0, 600).c_str());
        return 1;
      }
      for (const std::string& conc : o.concurrency) {
        int c = 1;
        if (!absl::SimpleAtoi(conc, &c) || c <= 0) return 2;
        Json pair = Json::object();
        for (const Server& s : servers) {
          const bool ours = s.name == "spotguard";
          auto before = ours ? HandlerSeconds(s) : std::pair{0.0, 0.0};
          Json r = Load(s, body, c, o.time, o.min_pods);
          if (ours) {
            auto after = HandlerSeconds(s);
            r["mean_in_handler_us"] = 1e6 * (after.first - before.first) / std::max(1.0, after.second - before.second);
          }
          if (r["errors"].get<int>() > 0) {
            std::fprintf(stderr, "%s: %d failed requests\n", s.name.c_str(), r["errors"].get<int>());
            return 1;
          }
          std::printf("| %d | %s | %d | %s | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.0f | %s |\n", n,
                      form == "nodes" ? "full Nodes" : "NodeNames", c, s.name.c_str(), r["pod_us"]["p50"].get<double>(),
                      r["pod_us"]["p99"].get<double>(), r["filter_us"]["p50"].get<double>(),
                      r["filter_us"]["p99"].get<double>(), r["prioritize_us"]["p50"].get<double>(),
                      r["prioritize_us"]["p99"].get<double>(), r["requests_per_s"].get<double>(),
                      ours ? absl::StrFormat("%.0f", r["mean_in_handler_us"].get<double>()).c_str() : "–");
          std::fflush(stdout);
          pair[s.name] = r;
        }
        auto ratio = [&](const char* k, const char* p) {
          return pair["go-reference"][k][p].get<double>() / pair["spotguard"][k][p].get<double>();
        };
        Json run = {{"nodes", n}, {"form", form}, {"clients", c}, {"bytes", body.size()},
                    {"spotguard", pair["spotguard"]}, {"go_reference", pair["go-reference"]},
                    {"reference_over_spotguard", {{"pod_p50", ratio("pod_us", "p50")}, {"pod_p99", ratio("pod_us", "p99")},
                                                  {"requests_per_s", pair["spotguard"]["requests_per_s"].get<double>() /
                                                                         pair["go-reference"]["requests_per_s"].get<double>()}}}};
        results["runs"].push_back(run);
      }
    }
    for (Server& s : servers) {
      s.process->Signal(SIGTERM);
      s.process->Wait(absl::Seconds(10));
    }
  }
  std::printf("\nratios (reference ÷ spotguard: per-pod p50, p99; spotguard ÷ reference: requests/s)\n");
  for (const Json& r : results["runs"]) {
    const Json& x = r["reference_over_spotguard"];
    std::printf("  %5d %-5s c=%d: %.1f× %.1f× %.1f×\n", r["nodes"].get<int>(), r["form"].get<std::string>().c_str(),
                r["clients"].get<int>(), x["pod_p50"].get<double>(), x["pod_p99"].get<double>(),
                x["requests_per_s"].get<double>());
  }
  if (!o.out.empty()) std::ofstream(o.out) << results.dump(2) << "\n";
  std::filesystem::remove_all(dir);
  return 0;
}

int Main(int argc, char** argv) {
  Options o;
  FlagSet flags("spotguard-bench-extender-http",
                "Extender filter/prioritize over HTTP, spotguard against a Go reference extender.");
  flags.Add("serve", &o.serve, "Serve one synthetic cluster and print the address (used by the driver)");
  flags.Add("nodes", &o.nodes, "With --serve: nodes in the synthetic cluster");
  flags.Add("sizes", &o.sizes, "Candidate node counts");
  flags.Add("concurrency", &o.concurrency, "Concurrent keep-alive clients");
  flags.Add("forms", &o.forms, "Request forms: names (nodeCacheCapable) and/or nodes (full Node objects)");
  flags.Add("time", &o.time, "Load time per (size, form, clients, server)");
  flags.Add("min_pods", &o.min_pods, "Pods (filter + prioritize pairs) at least, whatever --time says");
  flags.Add("reference", &o.reference, "The reference extender binary (default: next to this one)");
  flags.Add("out", &o.out, "Write the results as JSON here");
  if (std::optional<int> exit = ParseFlags(flags, argc, argv)) return *exit;
  log::SetLevel(log::Level::kWarn);
  IgnoreSigpipe();
  return o.serve ? Serve(o) : Drive(o);
}

}  // namespace
}  // namespace spotguard::bench

int main(int argc, char** argv) { return spotguard::bench::Main(argc, argv); }
