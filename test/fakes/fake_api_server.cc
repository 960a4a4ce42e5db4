#include "test/fakes/fake_api_server.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace spotguard::testing {
namespace {

// Splits "path?query" and finds fieldSelector=k%3Dv (only the forms spotguard sends).
std::pair<std::string, std::pair<std::string, std::string>> SplitQuery(const std::string& target) {
  size_t q = target.find('?');
  std::string path = target.substr(0, q);
  std::pair<std::string, std::string> field;
  if (q != std::string::npos) {
    for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
      if (!absl::ConsumePrefix(&kv, "fieldSelector=")) continue;
      std::string decoded = absl::StrReplaceAll(kv, {{"%3D", "="}, {"%2C", ","}});
      size_t eq = decoded.find('=');
      if (eq != std::string::npos) field = {decoded.substr(0, eq), decoded.substr(eq + 1)};
    }
  }
  return {path, field};
}

std::string FieldOf(const nlohmann::json& o, const std::string& field) {
  const nlohmann::json* cur = &o;
  for (absl::string_view part : absl::StrSplit(field, '.')) {
    if (!cur->is_object() || !cur->contains(std::string(part))) return "";
    cur = &(*cur)[std::string(part)];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

}  // namespace

std::unique_ptr<kube::KubeClient> FakeApiServer::Client(Clock& clock, kube::ClientOptions options) {
  auto http = std::make_unique<FakeHttpClient>();
  http->SetHandler([this](const HttpRequest& req) { return Handle(req); });
  return std::make_unique<kube::KubeClient>(std::move(http), kube::KubeConfig{}, clock, options);
}

std::string FakeApiServer::NextVersion() { return std::to_string(++version_); }

void FakeApiServer::Put(const std::string& path, Json object) {
  absl::MutexLock lock(&mu_);
  object["metadata"]["resourceVersion"] = NextVersion();
  if (!object["metadata"].contains("uid")) object["metadata"]["uid"] = "uid-" + path.substr(path.rfind('/') + 1);
  objects_[path] = std::move(object);
}

std::optional<nlohmann::json> FakeApiServer::Get(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(path);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

void FakeApiServer::SetTokenReview(std::function<Json(const std::string&)> review) {
  absl::MutexLock lock(&mu_);
  review_ = std::move(review);
}

void FakeApiServer::Intercept(Interceptor interceptor) {
  absl::MutexLock lock(&mu_);
  interceptor_ = std::move(interceptor);
}

std::vector<std::string> FakeApiServer::log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

int FakeApiServer::Count(absl::string_view method, absl::string_view part) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& l : log_) n += absl::StartsWith(l, absl::StrCat(method, " ")) && absl::StrContains(l, part);
  return n;
}

std::vector<nlohmann::json> FakeApiServer::Events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

HttpResponse FakeApiServer::Status(int code, const std::string& reason, const std::string& message) {
  return {.status = code, .body = Json{{"kind", "Status"}, {"code", code}, {"reason", reason}, {"message", message}}.dump()};
}

absl::StatusOr<HttpResponse> FakeApiServer::Handle(const HttpRequest& req) {
  Interceptor intercept;
  {
    absl::MutexLock lock(&mu_);
    log_.push_back(absl::StrCat(req.method, " ", req.path));
    intercept = interceptor_;
  }
  if (intercept) {
    if (auto r = intercept(req); r.has_value()) return *r;
  }
  auto [path, field] = SplitQuery(req.path);
  if (path == "/openid/v1/jwks") {  // as kube-apiserver: only its own media type
    bool acceptable = false;
    for (const auto& [k, v] : req.headers) {
      if (k == "Accept") acceptable = absl::StrContains(v, "application/jwk-set+json") || absl::StrContains(v, "*/*");
    }
    if (!acceptable) return HttpResponse{.status = 406, .body = "406: Not Acceptable"};
  }
  Json body = req.body.empty() ? Json() : Json::parse(req.body, nullptr, false);
  absl::MutexLock lock(&mu_);
  auto found = objects_.find(path);

  if (req.method == "GET") {
    if (found != objects_.end()) return HttpResponse{.status = 200, .body = found->second.dump()};
    const std::string last = path.substr(path.rfind('/') + 1);
    if (last != "pods" && last != "nodes" && last != "configmaps" && last != "events") {
      return Status(404, "NotFound", path + " not found");
    }
    // A collection: every object under it, filtered by the field selector.
    Json items = Json::array();
    for (const auto& [p, o] : objects_) {
      if (!absl::StartsWith(p, path + "/") || p.find('/', path.size() + 1) != std::string::npos) continue;
      if (!field.first.empty() && FieldOf(o, field.first) != field.second) continue;
      items.push_back(o);
    }
    return HttpResponse{.status = 200,
                        .body = Json{{"kind", "List"}, {"metadata", {{"resourceVersion", std::to_string(version_)}}},
                                     {"items", items}}.dump()};
  }
  if (req.method == "POST" && absl::EndsWith(path, "/tokenreviews")) {
    if (!review_) return Status(500, "InternalError", "no token review configured");
    Json status = review_(body["spec"].value("token", ""));
    return HttpResponse{.status = 201, .body = Json{{"kind", "TokenReview"}, {"status", status}}.dump()};
  }
  if (req.method == "POST" && absl::EndsWith(path, "/events")) {
    events_.push_back(body);
    return HttpResponse{.status = 201, .body = body.dump()};
  }
  auto terminate = [&](int64_t grace) {
    found->second["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z";
    found->second["metadata"]["deletionGracePeriodSeconds"] = grace;
    found->second["metadata"]["resourceVersion"] = NextVersion();
  };
  if (req.method == "POST" && absl::EndsWith(path, "/eviction")) {
    found = objects_.find(path.substr(0, path.size() - 9));
    if (found == objects_.end()) return Status(404, "NotFound", "pod not found");
    terminate(body["deleteOptions"].value("gracePeriodSeconds", int64_t{30}));
    return HttpResponse{.status = 201, .body = "{}"};
  }
  if (req.method == "DELETE") {
    if (found == objects_.end()) return Status(404, "NotFound", "not found");
    terminate(body.value("gracePeriodSeconds", int64_t{30}));
    return HttpResponse{.status = 200, .body = found->second.dump()};
  }
  if (req.method == "POST") {  // create in a collection
    std::string name = body["metadata"].value("name", "");
    std::string target = path + "/" + name;
    if (objects_.contains(target)) return Status(409, "AlreadyExists", name + " already exists");
    body["metadata"]["resourceVersion"] = NextVersion();
    objects_[target] = body;
    return HttpResponse{.status = 201, .body = body.dump()};
  }
  if (found == objects_.end()) return Status(404, "NotFound", path + " not found");
  if (req.method == "PUT") {
    if (body["metadata"].value("resourceVersion", "") != found->second["metadata"].value("resourceVersion", "")) {
      return Status(409, "Conflict", "the object has been modified; please apply your changes to the latest version");
    }
    body["metadata"]["resourceVersion"] = NextVersion();
    found->second = body;
    return HttpResponse{.status = 200, .body = body.dump()};
  }
  if (req.method == "PATCH") {
    try {
      if (req.content_type == "application/json-patch+json") {
        found->second = found->second.patch(body);
      } else {
        found->second.merge_patch(body);
      }
    } catch (const std::exception& e) {
      return Status(422, "Invalid", std::string("the patch failed: ") + e.what());
    }
    found->second["metadata"]["resourceVersion"] = NextVersion();
    return HttpResponse{.status = 200, .body = found->second.dump()};
  }
  return Status(405, "MethodNotAllowed", req.method);
}

}  // namespace spotguard::testing
