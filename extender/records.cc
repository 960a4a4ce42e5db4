#include "extender/records.h"

#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"

namespace spotguard::extender {
namespace {

absl::flat_hash_map<std::string, std::string> StringMap(const Json& j) {
  absl::flat_hash_map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

std::vector<NoticeRecord> NoticesFromNode(const Json& node, std::vector<NoticeProblem>* problems) {
  const std::string name = kube::StringAt(node, {"metadata", "name"});
  std::vector<NoticeRecord> out;
  auto add = [&](const Json& j, notice::Action default_action, const char* where) {
    auto n = notice::FromJson(j, default_action);
    if (!n.ok()) {
      problems->push_back({notice::RejectReason(n.status()), absl::StrCat(where, ": ", n.status().message())});
      return;
    }
    NoticeRecord r;
    static_cast<notice::Notice&>(r) = std::move(*n);
    r.node = name;
    out.push_back(std::move(r));
  };
  const std::string record = kube::StringAt(node, {"metadata", "annotations", notice::kAgentAnnotation});
  if (!record.empty()) {
    Json j = Json::parse(record, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("notices") && j["notices"].is_array()) {
      for (const Json& n : j["notices"]) add(n, notice::Action::kReport, notice::kAgentAnnotation);
      return out;
    }
    problems->push_back({"not_object", absl::StrCat(notice::kAgentAnnotation, " is not {\"notices\": [...]}")});
  }
  const std::string text = kube::StringAt(node, {"metadata", "annotations", notice::kNoticeAnnotation});
  if (text.empty()) return out;
  // The annotation exists only for nodes the agent cordoned.
  add(Json::parse(text, nullptr, /*allow_exceptions=*/false), notice::Action::kCordon, notice::kNoticeAnnotation);
  return out;
}

PodRef PodFrom(const Json& pod) {
  PodRef p;
  p.namespace_ = kube::StringAt(pod, {"metadata", "namespace"});
  p.name = kube::StringAt(pod, {"metadata", "name"});
  p.uid = kube::StringAt(pod, {"metadata", "uid"});
  p.resource_version = kube::StringAt(pod, {"metadata", "resourceVersion"});
  p.node = kube::StringAt(pod, {"spec", "nodeName"});
  const Json& meta = pod.contains("metadata") ? pod["metadata"] : Json::object();
  p.labels = StringMap(meta.value("labels", Json::object()));
  p.annotations = StringMap(meta.value("annotations", Json::object()));
  p.terminating = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  std::string phase = kube::StringAt(pod, {"status", "phase"});
  p.finished = phase == "Succeeded" || phase == "Failed";
  return p;
}

}  // namespace spotguard::extender
