#include "extender/http_api.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/kube/node_facts.h"
#include "common/log.h"
#include "extender/wire.h"
#include "nlohmann/json.hpp"

namespace spotguard::extender {
namespace {

// One parser per server thread: its buffers are reused request after request.
ArgsParser& ThreadParser() {
  thread_local ArgsParser parser;
  return parser;
}

}  // namespace

HttpApi::HttpApi(HttpApiOptions options, SnapshotSource snapshot, ExtenderMetrics& metrics, Binder binder)
    : options_(std::move(options)), snapshot_(std::move(snapshot)), metrics_(metrics), binder_(std::move(binder)) {}

void HttpApi::Capture(absl::string_view verb, absl::string_view body) {
  if (options_.capture_dir.empty()) return;
  std::atomic<int>& n = verb == "filter" ? captured_filter_ : captured_prioritize_;
  int i = ++n;
  if (i > options_.capture_limit) return;
  std::ofstream(absl::StrCat(options_.capture_dir, "/", verb, "-", i, ".json")) << body;
}

std::pair<int, std::string> HttpApi::Filter(absl::string_view body) {
  const absl::Time start = absl::Now();
  Capture("filter", body);
  ExtenderArgs args;
  std::pair<int, std::string> out;
  if (absl::Status s = ThreadParser().Parse(body, &args, /*node_json=*/true); !s.ok()) {
    out = {400, ErrorJson(s.message())};
  } else {
    std::shared_ptr<const risk::Snapshot> snap = snapshot_();
    // A node the snapshot lacks is judged by its labels when the request carries it.
    risk::RequestSpot request_spot = [&args](absl::string_view name) -> std::optional<bool> {
      auto it = args.node_json.find(name);
      if (it == args.node_json.end()) return std::nullopt;
      nlohmann::json node = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
      if (!node.is_object()) return std::nullopt;
      return kube::FactsOf(node).capacity_type == "spot";
    };
    risk::FilterResult r = risk::Filter(args.pod, args.node_names, *snap, options_.policy, request_spot);
    if (!r.error.empty()) {
      out = {400, ErrorJson(r.error)};
    } else {
      for (const auto& [reason, count] : r.rejected) metrics_.RecordFiltered(risk::ReasonName(reason), count);
      metrics_.RecordUnknownNodes("filter", r.unknown);
      out = {200, FilterResultJson(r, args)};
    }
  }
  metrics_.RecordRequest("filter", out.first, absl::Now() - start);
  return out;
}

std::pair<int, std::string> HttpApi::Prioritize(absl::string_view body) {
  const absl::Time start = absl::Now();
  Capture("prioritize", body);
  ExtenderArgs args;
  std::pair<int, std::string> out;
  if (absl::Status s = ThreadParser().Parse(body, &args); !s.ok()) {
    out = {400, ErrorJson(s.message())};
  } else {
    std::shared_ptr<const risk::Snapshot> snap = snapshot_();
    risk::PrioritizeResult r = risk::Prioritize(args.pod, args.node_names, *snap, options_.policy);
    if (binder_ && !args.pod.uid.empty() && options_.policy.executor_selector.Matches(args.pod.labels)) {
      absl::MutexLock lock(&mu_);
      if (recent_.size() > 10000) recent_.clear();
      recent_[args.pod.uid] = args.pod.labels;
    }
    metrics_.RecordUnknownNodes("prioritize", r.unknown);
    out = {200, HostPriorityListJson(r)};
    if (log::Enabled(log::Level::kDebug) && r.scores.size() <= 50) {
      log::Debug("prioritized", {{"pod", args.pod.name}, {"scores", out.second}});
    }
  }
  metrics_.RecordRequest("prioritize", out.first, absl::Now() - start);
  return out;
}

std::pair<int, std::string> HttpApi::Bind(absl::string_view body) {
  const absl::Time start = absl::Now();
  std::pair<int, std::string> out;
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  auto str = [&](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  BindingArgs args{str("PodName"), str("PodNamespace"), str("PodUID"), str("Node")};
  {
    absl::MutexLock lock(&mu_);
    if (auto it = recent_.find(args.pod_uid); it != recent_.end()) {
      args.labels = std::move(it->second);
      recent_.erase(it);
    }
  }
  if (!j.is_object()) {
    out = {400, ErrorJson("request body is not a JSON object (ExtenderBindingArgs)")};
  } else if (args.pod_name.empty() || args.pod_namespace.empty() || args.node.empty()) {
    out = {400, ErrorJson("ExtenderBindingArgs needs PodName, PodNamespace and Node")};
  } else if (absl::Status s = binder_(args); !s.ok()) {
    // kube-scheduler reads Error, retries the pod and un-assumes it.
    out = {200, ErrorJson(s.message())};
  } else {
    out = {200, ErrorJson("")};
  }
  metrics_.RecordRequest("bind", out.first, absl::Now() - start);
  return out;
}

std::string HttpApi::NodesJson() {
  std::shared_ptr<const risk::Snapshot> snap = snapshot_();
  std::vector<const risk::NodeInfo*> nodes;
  for (const auto& n : snap->nodes->nodes()) nodes.push_back(n.get());
  std::sort(nodes.begin(), nodes.end(), [](auto* a, auto* b) { return a->name < b->name; });
  nlohmann::json out = nlohmann::json::array();
  for (const risk::NodeInfo* n : nodes) {
    nlohmann::json j = {{"name", n->name}, {"cloud", n->cloud}, {"pool", n->pool}, {"zone", n->zone},
                        {"instanceType", n->instance_type}, {"spot", n->spot}, {"risk", n->risk},
                        {"rebalance", n->rebalance}, {"doomed", n->doomed}};
    if (n->doomed) j["notice"] = {{"id", n->notice_id}, {"kind", n->notice_kind}};
    out.push_back(std::move(j));
  }
  return out.dump();
}

void HttpApi::RegisterDebug(httplib::Server& server) {
  server.Get("/debug/nodes", [this](const httplib::Request&, httplib::Response& res) { SetJson(res, NodesJson()); });
}

void HttpApi::Register(httplib::Server& server) {
  auto handler = [this](bool filter) {
    return [this, filter](const httplib::Request& req, httplib::Response& res) {
      auto [status, body] = filter ? Filter(req.body) : Prioritize(req.body);
      if (status != 200) {
        log::Warn("bad scheduler request", {{"verb", filter ? "filter" : "prioritize"}, {"status", status},
                                            {"error", body.substr(0, 300)}});
      }
      SetJson(res, std::move(body), status);
    };
  };
  server.Post("/filter", handler(true));
  server.Post("/prioritize", handler(false));
  if (binder_) {
    server.Post("/bind", [this](const httplib::Request& req, httplib::Response& res) {
      auto [status, body] = Bind(req.body);
      SetJson(res, std::move(body), status);
    });
  }
  auto wrong_method = [this](const httplib::Request& req, httplib::Response& res) {
    metrics_.RecordRequest(req.path == "/filter" ? "filter" : "prioritize", 405, absl::ZeroDuration());
    res.set_header("Allow", "POST");
    SetJson(res, ErrorJson(absl::StrCat(req.method, " ", req.path, ": use POST")), 405);
  };
  for (const char* path : {"/filter", "/prioritize"}) {
    server.Get(path, wrong_method);
    server.Put(path, wrong_method);
    server.Delete(path, wrong_method);
    server.Patch(path, wrong_method);
  }
  // Anything else: 404 with a JSON body, and a body over the limit: 413 (cpp-httplib).
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404) {
      SetJson(res, ErrorJson(absl::StrCat("no such endpoint: ", req.method, " ", req.path)), 404);
    } else if (res.status == 413) {
      SetJson(res, ErrorJson("request body over the configured limit (--max_body_bytes)"), 413);
    }
  });
}

}  // namespace spotguard::extender
