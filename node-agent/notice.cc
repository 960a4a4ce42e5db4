#include "node-agent/notice.h"

#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "google/protobuf/util/time_util.h"

namespace spotguard::agent {

absl::string_view CloudName(v1::Cloud cloud) {
  switch (cloud) {
    case v1::CLOUD_AZURE: return "azure";
    case v1::CLOUD_AWS: return "aws";
    case v1::CLOUD_GCP: return "gcp";
    default: return "unknown";
  }
}

absl::string_view KindName(v1::NoticeKind kind) {
  switch (kind) {
    case v1::NOTICE_KIND_EVICTION: return "eviction";
    case v1::NOTICE_KIND_MAINTENANCE: return "maintenance";
    case v1::NOTICE_KIND_REBALANCE: return "rebalance";
    default: return "unknown";
  }
}

absl::string_view ActionName(Action action) {
  switch (action) {
    case Action::kCordon: return "cordon";
    case Action::kLabel: return "label";
    case Action::kReport: return "report";
  }
  return "report";
}

absl::StatusOr<Action> ParseAction(absl::string_view name) {
  for (Action a : {Action::kCordon, Action::kLabel, Action::kReport}) {
    if (name == ActionName(a)) return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("action must be cordon, label or report, not '", name, "'"));
}

absl::Time DeadlineOf(const Notice& n, absl::Duration window) {
  if (n.not_before != absl::InfinitePast()) return n.not_before;
  return n.detected_at + window;
}

namespace {

std::string TimeOrEmpty(absl::Time t) { return t == absl::InfinitePast() ? "" : kube::FormatApiTime(t); }

template <typename Enum>
absl::StatusOr<Enum> ParseName(absl::string_view name, std::initializer_list<Enum> all,
                               absl::string_view (*to_name)(Enum), absl::string_view what) {
  for (Enum e : all) {
    if (name == to_name(e)) return e;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown ", what, " '", name, "'"));
}

}  // namespace

Json ToJson(const Notice& n) {
  return {{"id", n.id},
          {"cloud", CloudName(n.cloud)},
          {"kind", KindName(n.kind)},
          {"rawAction", n.raw_action},
          {"notBefore", TimeOrEmpty(n.not_before)},
          {"detectedAt", TimeOrEmpty(n.detected_at)},
          {"source", n.source},
          {"description", n.description},
          {"action", ActionName(n.action)},
          {"acknowledgeable", n.acknowledgeable}};
}

absl::StatusOr<Notice> NoticeFromJson(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("notice is not a JSON object");
  auto str = [&](const char* key) { return kube::StringAt(j, {key}); };
  Notice n;
  n.id = str("id");
  if (n.id.empty()) return absl::InvalidArgumentError("notice has no id");
  auto cloud = ParseName<v1::Cloud>(str("cloud"), {v1::CLOUD_AZURE, v1::CLOUD_AWS, v1::CLOUD_GCP}, CloudName, "cloud");
  if (!cloud.ok()) return cloud.status();
  n.cloud = *cloud;
  auto kind = ParseName<v1::NoticeKind>(
      str("kind"), {v1::NOTICE_KIND_EVICTION, v1::NOTICE_KIND_MAINTENANCE, v1::NOTICE_KIND_REBALANCE}, KindName, "kind");
  if (!kind.ok()) return kind.status();
  n.kind = *kind;
  n.raw_action = str("rawAction");
  for (auto [key, field] : {std::pair{"notBefore", &n.not_before}, std::pair{"detectedAt", &n.detected_at}}) {
    std::string v = str(key);
    if (v.empty()) continue;
    auto t = kube::ParseApiTime(v);
    if (!t.ok()) return t.status();
    *field = *t;
  }
  n.source = str("source");
  n.description = str("description");
  auto action = ParseAction(str("action").empty() ? "report" : str("action"));
  if (!action.ok()) return action.status();
  n.action = *action;
  n.acknowledgeable = j.contains("acknowledgeable") && j["acknowledgeable"].is_boolean() && j["acknowledgeable"].get<bool>();
  return n;
}

v1::Notice ToProto(const Notice& n) {
  using google::protobuf::util::TimeUtil;
  v1::Notice p;
  p.set_id(n.id);
  p.set_cloud(n.cloud);
  p.set_kind(n.kind);
  p.set_raw_action(n.raw_action);
  if (n.not_before != absl::InfinitePast()) {
    *p.mutable_not_before() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(n.not_before));
  }
  *p.mutable_detected_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(n.detected_at));
  p.set_description(n.description);
  p.set_source(n.source);
  p.set_action(std::string(ActionName(n.action)));
  return p;
}

}  // namespace spotguard::agent
