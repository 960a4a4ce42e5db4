#include "common/kube/resources.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/kube/status.h"

namespace spotguard::kube {

std::string StringAt(const Json& j, std::initializer_list<absl::string_view> keys) {
  const Json* cur = &j;
  for (absl::string_view k : keys) {
    if (!cur->is_object()) return "";
    auto it = cur->find(k);
    if (it == cur->end()) return "";
    cur = &*it;
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

absl::StatusOr<Json> GetNode(KubeClient& client, absl::string_view name, CallOptions call) {
  return client.Get(absl::StrCat("/api/v1/nodes/", name), call);
}

absl::StatusOr<Json> PatchNode(KubeClient& client, absl::string_view name, PatchType type, const Json& patch,
                               CallOptions call) {
  return client.Patch(absl::StrCat("/api/v1/nodes/", name), type, patch, call);
}

absl::StatusOr<Json> UpdateNodeGuarded(KubeClient& client, absl::string_view name,
                                       const std::function<std::optional<Json>(const Json&)>& make_ops,
                                       std::optional<Json> node, int max_conflicts, CallOptions call) {
  for (int conflicts = 0;; ++conflicts) {
    if (!node.has_value()) {
      auto fresh = GetNode(client, name, call);
      if (!fresh.ok()) return fresh.status();
      node = std::move(*fresh);
    }
    std::optional<Json> ops = make_ops(*node);
    if (!ops.has_value() || ops->empty()) return *node;
    auto patched = PatchNode(client, name, PatchType::kJson, GuardedPatch(*node, *ops), call);
    if (patched.ok()) return patched;
    // A failed "test" op answers 422 in some API versions and 409 in others: both mean
    // "someone else wrote the node since we read it".
    int http = HttpStatusOf(patched.status());
    if ((http != 409 && http != 422) || conflicts >= max_conflicts) return patched.status();
    node.reset();
  }
}

absl::StatusOr<Json> AddTaint(KubeClient& client, absl::string_view node, const Taint& taint) {
  return UpdateNodeGuarded(client, node, [&](const Json& n) { return AddTaintOps(n, taint); });
}

absl::StatusOr<Json> RemoveTaint(KubeClient& client, absl::string_view node, absl::string_view key,
                                 absl::string_view effect) {
  return UpdateNodeGuarded(client, node, [&](const Json& n) { return RemoveTaintOps(n, key, effect); });
}

absl::Status EvictPod(KubeClient& client, absl::string_view ns, absl::string_view name,
                      std::optional<int64_t> grace_seconds, CallOptions call) {
  Json body = {{"apiVersion", "policy/v1"},
               {"kind", "Eviction"},
               {"metadata", {{"name", std::string(name)}, {"namespace", std::string(ns)}}}};
  if (grace_seconds.has_value()) body["deleteOptions"] = {{"gracePeriodSeconds", *grace_seconds}};
  call.retry_too_many_requests = false;
  auto res = client.Post(absl::StrCat("/api/v1/namespaces/", ns, "/pods/", name, "/eviction"), body, call);
  if (!res.ok() && !absl::IsNotFound(res.status())) return res.status();
  return absl::OkStatus();
}

absl::Status DeletePod(KubeClient& client, absl::string_view ns, absl::string_view name,
                       std::optional<int64_t> grace_seconds, absl::string_view uid, CallOptions call) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (grace_seconds.has_value()) body["gracePeriodSeconds"] = *grace_seconds;
  if (!uid.empty()) body["preconditions"] = {{"uid", std::string(uid)}};
  auto res = client.Delete(absl::StrCat("/api/v1/namespaces/", ns, "/pods/", name), body, call);
  if (!res.ok() && !absl::IsNotFound(res.status())) return res.status();
  return absl::OkStatus();
}

absl::Status CreateEvent(KubeClient& client, const EventSpec& e, absl::Time now) {
  std::string ns = e.object.namespace_.empty() ? "default" : e.object.namespace_;
  // Unique per event, readable in `kubectl get events`.
  std::string name = absl::StrCat(e.object.name, ".", absl::Hex(absl::ToUnixNanos(now)),
                                   absl::Hex(absl::Uniform<uint16_t>(absl::BitGen())));
  Json involved = {{"kind", e.object.kind}, {"apiVersion", e.object.api_version}, {"name", e.object.name}};
  if (!e.object.namespace_.empty()) involved["namespace"] = e.object.namespace_;
  if (!e.object.uid.empty()) involved["uid"] = e.object.uid;
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"involvedObject", involved},
                {"reason", e.reason},
                {"message", e.message},
                {"type", e.type},
                {"source", {{"component", e.component}}},
                {"firstTimestamp", FormatApiTime(now)},
                {"lastTimestamp", FormatApiTime(now)},
                {"count", 1},
                {"reportingComponent", e.component},
                {"reportingInstance", e.host.empty() ? e.component : e.host}};
  if (!e.host.empty()) event["source"]["host"] = e.host;
  auto res = client.Post(absl::StrCat("/api/v1/namespaces/", ns, "/events"), event);
  return res.status();
}

absl::StatusOr<TokenReviewResult> ReviewToken(KubeClient& client, absl::string_view token,
                                              const std::vector<std::string>& audiences, CallOptions call) {
  Json body = {{"apiVersion", "authentication.k8s.io/v1"},
               {"kind", "TokenReview"},
               {"spec", {{"token", std::string(token)}}}};
  if (!audiences.empty()) body["spec"]["audiences"] = audiences;
  auto res = client.Post("/apis/authentication.k8s.io/v1/tokenreviews", body, call);
  if (!res.ok()) return res.status();
  TokenReviewResult out;
  const Json& status = (*res)["status"];
  if (!status.is_object()) return absl::InternalError("TokenReview answer has no status");
  out.authenticated = status.value("authenticated", false);
  out.error = status.value("error", "");
  if (status.contains("audiences") && status["audiences"].is_array()) {
    for (const Json& a : status["audiences"]) {
      if (a.is_string()) out.audiences.push_back(a);
    }
  }
  if (auto user = status.find("user"); user != status.end() && user->is_object()) {
    out.username = user->value("username", "");
    out.uid = user->value("uid", "");
    if (user->contains("groups") && (*user)["groups"].is_array()) {
      for (const Json& g : (*user)["groups"]) {
        if (g.is_string()) out.groups.push_back(g);
      }
    }
    if (auto extra = user->find("extra"); extra != user->end() && extra->is_object()) {
      for (const auto& [k, v] : extra->items()) {
        if (!v.is_array()) continue;
        for (const Json& s : v) {
          if (s.is_string()) out.extra[k].push_back(s);
        }
      }
    }
  }
  return out;
}

absl::StatusOr<std::pair<std::string, absl::Time>> RequestToken(KubeClient& client, const TokenRequestSpec& spec) {
  Json body = {{"apiVersion", "authentication.k8s.io/v1"},
               {"kind", "TokenRequest"},
               {"spec", {{"audiences", spec.audiences},
                         {"expirationSeconds", absl::ToInt64Seconds(spec.expiration)}}}};
  if (!spec.bound_pod_name.empty()) {
    body["spec"]["boundObjectRef"] = {
        {"apiVersion", "v1"}, {"kind", "Pod"}, {"name", spec.bound_pod_name}, {"uid", spec.bound_pod_uid}};
  }
  auto res = client.Post(
      absl::StrCat("/api/v1/namespaces/", spec.namespace_, "/serviceaccounts/", spec.service_account, "/token"), body);
  if (!res.ok()) return res.status();
  std::string token = StringAt(*res, {"status", "token"});
  if (token.empty()) return absl::InternalError("TokenRequest answer has no token");
  auto expiry = ParseApiTime(StringAt(*res, {"status", "expirationTimestamp"}));
  return std::make_pair(token, expiry.ok() ? *expiry : client.clock().Now() + spec.expiration);
}

absl::StatusOr<Json> GetConfigMap(KubeClient& client, absl::string_view ns, absl::string_view name) {
  return client.Get(absl::StrCat("/api/v1/namespaces/", ns, "/configmaps/", name));
}

absl::StatusOr<Json> CreateConfigMap(KubeClient& client, const Json& cm) {
  std::string ns = StringAt(cm, {"metadata", "namespace"});
  Json body = cm;
  body["apiVersion"] = "v1";
  body["kind"] = "ConfigMap";
  return client.Post(absl::StrCat("/api/v1/namespaces/", ns, "/configmaps"), body);
}

absl::StatusOr<Json> UpdateConfigMap(KubeClient& client, const Json& cm) {
  std::string ns = StringAt(cm, {"metadata", "namespace"});
  std::string name = StringAt(cm, {"metadata", "name"});
  if (StringAt(cm, {"metadata", "resourceVersion"}).empty()) {
    return absl::InvalidArgumentError("UpdateConfigMap needs metadata.resourceVersion (read it first)");
  }
  Json body = cm;
  body["apiVersion"] = "v1";
  body["kind"] = "ConfigMap";
  return client.Put(absl::StrCat("/api/v1/namespaces/", ns, "/configmaps/", name), body);
}

}  // namespace spotguard::kube
